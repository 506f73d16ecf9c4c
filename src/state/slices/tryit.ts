// "Try it": a prompt answered by the base model and by the adapter side by side, in the worker.
import { engine } from '../engine';
import { toErrorInfo, type ErrorInfo, type GenerateParams, type GenerateResult } from '../../worker/protocol';
import type { Slice } from './types';

export interface TryItForm {
  prompt: string;
  temperature: string;
  topP: string;
  maxNewTokens: string;
}

export type TryItErrors = Partial<Record<keyof TryItForm, string>>;

export interface TryItSlice {
  tryIt: {
    form: TryItForm;
    status: 'idle' | 'running' | 'done' | 'error';
    /** The text of each side so far (adapter null: no adapter in this request). */
    base: string;
    adapter: string | null;
    /** The web export's side (onnxruntime-web), null when the model has not been exported for the web. */
    onnx: string | null;
    tokens: { base: number; adapter: number; onnx: number };
    result: GenerateResult | null;
    error: ErrorInfo | null;
  };
  setTryIt(patch: Partial<TryItForm>): void;
  generate(): Promise<void>;
  stopGenerating(): Promise<void>;
}

/** Longest reply the form accepts (the worker's MAX_NEW_TOKENS). */
export const TRY_IT_MAX_TOKENS = 2048;

export function validateTryIt(f: TryItForm): TryItErrors {
  const e: TryItErrors = {};
  const num = (s: string): number => (s.trim() === '' ? NaN : Number(s));
  if (!f.prompt.trim()) e.prompt = 'Write a prompt';
  const t = num(f.temperature);
  if (!(t >= 0 && t <= 10)) e.temperature = 'Temperature is a number from 0 (greedy) to 10';
  const p = num(f.topP);
  if (!(p > 0 && p <= 1)) e.topP = 'Top-p is a number above 0, at most 1';
  const n = num(f.maxNewTokens);
  if (!(Number.isInteger(n) && n >= 1 && n <= TRY_IT_MAX_TOKENS)) e.maxNewTokens = `Max new tokens is a whole number from 1 to ${TRY_IT_MAX_TOKENS}`;
  return e;
}

export const createTryItSlice: Slice<TryItSlice> = (set, get) => {
  const patch = (p: Partial<TryItSlice['tryIt']>): void => set((s) => ({ tryIt: { ...s.tryIt, ...p } }));
  return {
    tryIt: {
      form: { prompt: 'What is the capital of France?', temperature: '0.7', topP: '0.9', maxNewTokens: '64' },
      status: 'idle',
      base: '',
      adapter: null,
      onnx: null,
      tokens: { base: 0, adapter: 0, onnx: 0 },
      result: null,
      error: null,
    },

    setTryIt(p) {
      set((s) => ({ tryIt: { ...s.tryIt, form: { ...s.tryIt.form, ...p } } }));
    },

    async generate() {
      const { form, status } = get().tryIt;
      if (status === 'running' || Object.keys(validateTryIt(form)).length > 0) return;
      const params: GenerateParams = {
        prompt: form.prompt,
        temperature: Number(form.temperature),
        topP: Number(form.topP),
        maxNewTokens: Number(form.maxNewTokens),
        seed: Math.floor(Math.random() * 0x7fffffff),
      };
      patch({ status: 'running', base: '', adapter: null, onnx: null, tokens: { base: 0, adapter: 0, onnx: 0 }, result: null, error: null });
      try {
        const result = await engine().generate(params, (side, text, tokens) => {
          set((s) => ({
            tryIt: {
              ...s.tryIt,
              [side]: text,
              tokens: { ...s.tryIt.tokens, [side]: tokens },
            },
          }));
        });
        patch({
          status: 'done',
          result,
          base: result.base.text,
          adapter: result.adapter ? result.adapter.text : null,
          onnx: result.onnx ? result.onnx.text : null,
          tokens: { base: result.base.tokens, adapter: result.adapter?.tokens ?? 0, onnx: result.onnx?.tokens ?? 0 },
        });
      } catch (e) {
        patch({ status: 'error', error: toErrorInfo(e) });
      }
    },

    async stopGenerating() {
      await engine().call('stopGenerate', {});
    },
  };
};
