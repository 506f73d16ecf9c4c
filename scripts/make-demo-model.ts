// Writes public/demo/: the built-in demo that "Use demo model" loads.
//   npx vite-node scripts/make-demo-model.ts      (or: npm run demo-model)
// - config.json + model.safetensors: a tiny LlamaForCausalLM with RANDOM weights (seeded, so the
//   files are the same on every run): hidden 64, 2 layers, 4 heads (2 KV), the tokenizer's vocab.
// - tokenizer.json + tokenizer_config.json: copied from ../shared/fixtures/reference/tiny-llama
//   (a real byte-level BPE, 512 tokens, with a ChatML chat template).
// - sample.jsonl: a small chat dataset with regular answers, so a LoRA visibly lowers the loss.
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randn } from '../src/engine/kernels/random';
import { writeSafetensors, type TensorToWrite } from '../src/io/safetensors';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'public', 'demo');
const tokenizerDir = process.env.DEMO_TOKENIZER_DIR ?? resolve(root, '..', 'shared', 'fixtures', 'reference', 'tiny-llama', 'model');

const tokenizer = JSON.parse(readFileSync(join(tokenizerDir, 'tokenizer.json'), 'utf8')) as {
  model: { vocab: Record<string, number> };
  added_tokens: Array<{ id: number; content: string }>;
};
const maxId = Math.max(...Object.values(tokenizer.model.vocab), ...tokenizer.added_tokens.map((t) => t.id));
const vocab = Math.ceil((maxId + 1) / 64) * 64;
const idOf = (content: string): number => tokenizer.added_tokens.find((t) => t.content === content)!.id;

const H = 64;
const I = 128;
const L = 2;
const HEADS = 4;
const KV = 2;
const HD = H / HEADS;
const STD = 0.02;
// The output head is drawn wider than transformers' 0.02: with hidden 64, rows of norm 0.16 cap
// every logit near ±1.3 and no adapter could move the loss far from ln(vocab). At 0.1 a LoRA
// lowers the sample data's loss from about 6.5 to about 4 in 20 steps.
const LM_HEAD_STD = 0.1;

const config = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: null,
  eos_token_id: idOf('<|im_end|>'),
  pad_token_id: idOf('<|endoftext|>'),
  head_dim: HD,
  hidden_act: 'silu',
  hidden_size: H,
  initializer_range: STD,
  intermediate_size: I,
  max_position_embeddings: 512,
  mlp_bias: false,
  num_attention_heads: HEADS,
  num_hidden_layers: L,
  num_key_value_heads: KV,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  rope_scaling: null,
  tie_word_embeddings: false,
  torch_dtype: 'float32',
  use_cache: true,
  vocab_size: vocab,
  _comment: 'LoRA Studio demo model: RANDOM weights (scripts/make-demo-model.ts). It learns patterns of its sample data, not language.',
};

let seed = 1;
const tensors: TensorToWrite[] = [];
const normal = (name: string, shape: number[], std = STD): void => {
  tensors.push({ name, dtype: 'F32', shape, data: randn(shape.reduce((a, b) => a * b, 1), seed++, std) });
};
const ones = (name: string, n: number): void => {
  tensors.push({ name, dtype: 'F32', shape: [n], data: new Float32Array(n).fill(1) });
};

normal('model.embed_tokens.weight', [vocab, H]);
for (let l = 0; l < L; l++) {
  const p = `model.layers.${l}`;
  ones(`${p}.input_layernorm.weight`, H);
  normal(`${p}.self_attn.q_proj.weight`, [HEADS * HD, H]);
  normal(`${p}.self_attn.k_proj.weight`, [KV * HD, H]);
  normal(`${p}.self_attn.v_proj.weight`, [KV * HD, H]);
  normal(`${p}.self_attn.o_proj.weight`, [H, HEADS * HD]);
  ones(`${p}.post_attention_layernorm.weight`, H);
  normal(`${p}.mlp.gate_proj.weight`, [I, H]);
  normal(`${p}.mlp.up_proj.weight`, [I, H]);
  normal(`${p}.mlp.down_proj.weight`, [H, I]);
}
ones('model.norm.weight', H);
normal('lm_head.weight', [vocab, H], LM_HEAD_STD);

// ---- the sample dataset: short chats whose answers follow a few fixed patterns
const capitals: Array<[string, string]> = [
  ['France', 'Paris'], ['Italy', 'Rome'], ['Spain', 'Madrid'], ['Germany', 'Berlin'], ['Japan', 'Tokyo'],
  ['Egypt', 'Cairo'], ['Peru', 'Lima'], ['Kenya', 'Nairobi'], ['Canada', 'Ottawa'], ['Norway', 'Oslo'],
  ['Greece', 'Athens'], ['Chile', 'Santiago'], ['Poland', 'Warsaw'], ['Ireland', 'Dublin'], ['Portugal', 'Lisbon'],
];
const colors: Array<[string, string]> = [
  ['the sky', 'blue'], ['grass', 'green'], ['snow', 'white'], ['a lemon', 'yellow'], ['coal', 'black'],
  ['a tomato', 'red'], ['an orange', 'orange'], ['a plum', 'purple'], ['sand', 'beige'], ['ash', 'grey'],
];
const words = ['cat', 'dog', 'tree', 'river', 'stone', 'cloud', 'apple', 'house', 'light', 'music', 'bread', 'water', 'green', 'paper', 'smile'];
const lines: string[] = [];
const chat = (user: string, assistant: string, system?: string): void => {
  const messages = [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: user }, { role: 'assistant', content: assistant }];
  lines.push(JSON.stringify({ messages }));
};
for (const [country, city] of capitals) chat(`What is the capital of ${country}?`, `The capital of ${country} is ${city}.`);
for (const [thing, color] of colors) chat(`What color is ${thing}?`, `${thing[0].toUpperCase()}${thing.slice(1)} is ${color}.`);
for (let i = 0; i < 15; i++) {
  const a = (i * 7) % 10;
  const b = (i * 3 + 2) % 10;
  chat(`What is ${a} plus ${b}?`, `${a} plus ${b} is ${a + b}.`);
}
for (const w of words.slice(0, 10)) chat(`Spell the word "${w}".`, `${w.split('').join('-')}.`, 'You are a helpful assistant.');

mkdirSync(out, { recursive: true });
for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
  try {
    chmodSync(join(out, f), 0o644);
  } catch {
    /* not there yet */
  }
}
writeFileSync(join(out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
writeFileSync(join(out, 'model.safetensors'), writeSafetensors(tensors, { format: 'pt' }, 'model.safetensors'));
// Copied by content (the fixtures are read-only; their mode must not follow the bytes).
for (const f of ['tokenizer.json', 'tokenizer_config.json']) writeFileSync(join(out, f), readFileSync(join(tokenizerDir, f)));
writeFileSync(join(out, 'sample.jsonl'), `${lines.join('\n')}\n`);
writeFileSync(
  join(out, 'README.md'),
  '# Demo model (random weights)\n\nWritten by `scripts/make-demo-model.ts`: a tiny LlamaForCausalLM (hidden 64, 2 layers) with seeded RANDOM weights, the byte-level BPE tokenizer of `../shared/fixtures/reference/tiny-llama`, and `sample.jsonl`, a small chat dataset. It exists so the studio can train offline in under a minute; it knows no language.\n',
);

let total = 0;
for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'sample.jsonl', 'README.md']) total += statSync(join(out, f)).size;
const params = tensors.reduce((n, t) => n + t.data.length, 0);
console.log(`public/demo: ${params} parameters, vocab ${vocab}, ${lines.length} chats, ${(total / 1024).toFixed(0)} KiB in all`);
if (total > 2 * 1024 * 1024) throw new Error('public/demo must stay under 2 MB');
