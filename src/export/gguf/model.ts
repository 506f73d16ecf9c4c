// The two GGUF files of an export source (src/export/source.ts): the model (base, or base + LoRA
// merged) and the LoRA adapter as llama.cpp's convert_lora_to_gguf.py writes it. Each returns a
// plan (metadata + one producer per tensor) for writeGguf: tensors are read, merged and encoded one
// at a time while the file is written.

import { isHostQuantized, type BaseTensor } from '../../engine/model/weight-source';
import { type HostTensor } from '../../engine/model/spec';
import { dequantize, quantize, type QuantizedTensor } from '../../quant/format';
import { mergeLora, type ExportSource } from '../source';
import { ggufArch, hyperparameters, longropeFactorTensors, permuteHeads, permuteRows, ropeFreqs } from './arch';
import { GGUF_ROPE_FACTORS, GGUF_ROPE_FREQS, ggufTensorNames, loraGgufNames } from '../../engine/model/arch';
import { GgufExportError } from './errors';
import { encodeF16, encodeF32, FILE_TYPE, GGML_TYPE, GgmlType, repackQuantized, type ExportType } from './ggml-types';
import { tokenizerMetadata, type TokenizerMetadata } from './tokenizer';
import type { TokenizerFiles } from '../../data/tokenizer';
import type { Kv, TensorPlan } from './writer';

export interface GgufPlan {
  kv: Kv;
  tensors: TensorPlan[];
  warnings: string[];
}

function permuteQuantized(qt: QuantizedTensor, heads: number): QuantizedTensor {
  const wpr = qt.qweight.length / qt.rows;
  const bpr = qt.scales.length / qt.rows;
  // Rows are quantized independently, so permuting the quantized rows equals quantizing permuted rows.
  return {
    ...qt,
    qweight: permuteRows(qt.qweight, qt.rows, wpr, heads),
    scales: permuteRows(qt.scales, qt.rows, bpr, heads),
  };
}

/**
 * A matrix in GGUF's `type`: F32/F16 from f32; Q8_0/Q4_0 from the studio's blocks (a base already
 * held as int8/int4 of the same kind is repacked as it is; anything else is quantized with the
 * studio's quantizer, which follows ggml's rules). `heads` > 0 permutes rows as the llama q/k.
 */
function encodeMatrix(t: BaseTensor, shape: readonly number[], type: GgmlType, heads: number): Uint8Array {
  if (type === GgmlType.Q8_0 || type === GgmlType.Q4_0) {
    const kind = type === GgmlType.Q8_0 ? 'int8' : 'int4';
    let qt = isHostQuantized(t) && t.kind === kind ? t : quantize(isHostQuantized(t) ? dequantize(t) : t.data, shape[0], shape[1], kind);
    if (heads) qt = permuteQuantized(qt, heads);
    return repackQuantized(qt);
  }
  let data = isHostQuantized(t) ? dequantize(t) : t.data;
  if (heads) data = permuteRows(data, shape[0], shape[1], heads);
  return type === GgmlType.F16 ? encodeF16(data) : encodeF32(data);
}

function general(src: ExportSource, arch: string, type: string): Kv {
  const name = src.name.replace(/[\\/]+$/, '').split(/[\\/]/).pop() || 'model';
  return {
    'general.architecture': { type: 'string', value: arch },
    'general.type': { type: 'string', value: type },
    'general.name': { type: 'string', value: name },
  };
}

/**
 * The model GGUF: every base tensor (with the adapter merged into the projections it adapts when
 * the source has one), the hyperparameters and the tokenizer. 1-D tensors (norms, biases) stay F32
 * as convert_hf_to_gguf.py keeps them; a matrix whose rows are not a multiple of 32 long is written
 * F16 in a Q8_0/Q4_0 file (ggml blocks are 32 wide), reported in `warnings`.
 */
export function modelPlan(src: ExportSource, tokenizer: TokenizerFiles, type: ExportType): GgufPlan & { tokenizer: TokenizerMetadata } {
  const spec = src.spec;
  const arch = ggufArch(spec);
  const tok = tokenizerMetadata(tokenizer, spec.vocabSize, { bos: spec.bosTokenId, eos: spec.eosTokenId, pad: spec.padTokenId });
  const warnings = [...tok.warnings];
  const kv: Kv = {
    ...general(src, arch, 'model'),
    'general.file_type': { type: 'u32', value: FILE_TYPE[type] },
    ...(type === 'q8_0' || type === 'q4_0' ? { 'general.quantization_version': { type: 'u32', value: 2 } } : {}),
    ...hyperparameters(spec, arch),
    ...tok.kv,
  };
  const tensors: TensorPlan[] = [];
  const freqs = ropeFreqs(spec);
  if (freqs) tensors.push({ name: GGUF_ROPE_FREQS, shape: [freqs.length], type: GgmlType.F32, data: async () => encodeF32(freqs) });
  const longrope = longropeFactorTensors(spec);
  if (longrope) {
    for (const which of ['long', 'short'] as const) tensors.push({ name: GGUF_ROPE_FACTORS[which], shape: [longrope[which].length], type: GgmlType.F32, data: async () => encodeF32(longrope[which]) });
  }
  const fallback: string[] = [];
  const names = ggufTensorNames(spec);
  for (const [hf, shape] of src.shapes) {
    const named = names.get(hf);
    if (!named) throw new GgufExportError(`tensor "${hf}" has no GGUF name`);
    const { gguf: name, projection: p, transform } = named;
    const heads = p ? permuteHeads(spec, arch, p.proj) : 0;
    if (shape.length === 1) {
      tensors.push({
        name,
        shape,
        type: GgmlType.F32,
        data: async () => {
          const t = await src.tensorF32(hf);
          const values = transform === 'plus_one' ? t.data.map((v) => 1 + v) : t.data;
          return encodeF32(heads ? permuteRows(values, shape[0], 1, heads) : values);
        },
      });
      continue;
    }
    let ggml = GGML_TYPE[type];
    if ((ggml === GgmlType.Q8_0 || ggml === GgmlType.Q4_0) && shape[1] % 32 !== 0) {
      ggml = GgmlType.F16;
      fallback.push(name);
    }
    const site = p && p.kind === 'weight' ? src.lora(p.layer, p.proj) : null;
    tensors.push({
      name,
      shape,
      type: ggml,
      data: async () => {
        const t: BaseTensor = site ? mergeLora(await src.tensorF32(hf), site) : await src.tensor(hf);
        return encodeMatrix(t, shape, ggml, heads);
      },
    });
  }
  if (fallback.length) warnings.push(`${fallback.length} tensors have rows that are not a multiple of 32 long and are written F16: ${fallback.slice(0, 4).join(', ')}${fallback.length > 4 ? ', …' : ''}`);
  return { kv, tensors, warnings, tokenizer: tok };
}

/**
 * The adapter GGUF (general.type "adapter", adapter.type "lora"): per adapted projection
 * `<GGUF weight name>.lora_a` [r, in] and `.lora_b` [out, r] (arch loraGgufNames), PEFT's orientation, which llama.cpp
 * expects (a->ne[0] = in, b->ne[1] = out). llama.cpp scales each pair by alpha / r with one alpha
 * for the file and r read from lora_b's shape; the studio's scale per site (alpha/r, alpha/sqrt(r)
 * with rsLoRA, rank_pattern and alpha_pattern applied) is kept by writing the adapter's lora_alpha
 * and folding scale * r / lora_alpha into lora_b where it differs from 1. For llama, lora_b's rows
 * of q/k are permuted like the base rows (B@A's rows are B's rows).
 */
export function adapterPlan(src: ExportSource, type: ExportType): GgufPlan {
  if (!src.adapter) throw new GgufExportError('an adapter GGUF needs an adapter (--adapter)');
  if (type !== 'f32' && type !== 'f16') throw new GgufExportError(`--type ${type}: an adapter GGUF is written as f32 or f16`);
  const spec = src.spec;
  const arch = ggufArch(spec);
  const alpha = src.adapter.settings.alpha;
  if (!(alpha > 0)) throw new GgufExportError(`adapter_config.json: lora_alpha ${alpha}: llama.cpp reads alpha 0 as "no scaling"`);
  const ggml = GGML_TYPE[type];
  const encode = (d: Float32Array): Uint8Array => (ggml === GgmlType.F16 ? encodeF16(d) : encodeF32(d));
  const kv: Kv = {
    ...general(src, arch, 'adapter'),
    'adapter.type': { type: 'string', value: 'lora' },
    'adapter.lora.alpha': { type: 'f32', value: alpha },
  };
  const tensors: TensorPlan[] = [];
  const sites = src.loraSites();
  if (sites.length === 0) throw new GgufExportError('the adapter adapts no projection of this model');
  for (const site of sites) {
    const names = loraGgufNames(spec, site.layer, site.proj);
    const [out, r] = site.B.shape;
    const heads = permuteHeads(spec, arch, site.proj);
    const fold = (site.scale * site.r) / alpha;
    tensors.push({ name: names.a, shape: site.A.shape, type: ggml, data: async () => encode(site.A.data) });
    tensors.push({
      name: names.b,
      shape: site.B.shape,
      type: ggml,
      data: async () => {
        let b: HostTensor['data'] = site.B.data;
        if (Math.abs(fold - 1) > 1e-12) b = b.map((v) => v * fold);
        if (heads) b = permuteRows(b, out, r, heads);
        return encode(b);
      },
    });
  }
  return { kv, tensors, warnings: [] };
}
