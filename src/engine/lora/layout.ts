// LoRA tensors on the GPU: every A and B lives in one flat f32 buffer (and so do their gradients
// and Adam moments), each tensor at a 256-byte-aligned offset so it can be bound as a view.
// One flat buffer makes gradient clipping and AdamW single dispatches over all parameters.
import type { BufferView } from '../../gpu/gpu';
import type { ModelSpec, Projection } from '../model/spec';
import { familyTargets, projectionShape, projectionsOf, PROJECTIONS } from '../model/arch';
import type { LoraHyper } from '../train/types';
import { loraKey } from './adapter';
import { isAdaptedLayer, siteLora } from './config';

/** Floats per 256 bytes: the storage-buffer offset alignment every adapter supports. */
const ALIGN_FLOATS = 64;

export interface LoraSite {
  layer: number;
  proj: Projection;
  /** Distinct per (layer, projection): feeds the dropout mask hash. */
  site: number;
  inFeatures: number;
  outFeatures: number;
  /** This module's rank and the factor its B·A·x is multiplied by (rank_pattern / alpha_pattern applied). */
  r: number;
  scale: number;
  /** Offsets (in floats) of A (r, in) and B (out, r) inside the flat buffers. */
  aOffset: number;
  bOffset: number;
}

export interface LoraLayout {
  /** The largest rank of any site: what scratch buffers shared by all sites are sized for. */
  maxRank: number;
  sites: LoraSite[];
  /** Total floats of the flat buffers, padding included. */
  totalFloats: number;
}

export function loraLayout(spec: ModelSpec, lora: LoraHyper): LoraLayout {
  const sites: LoraSite[] = [];
  let offset = 0;
  const take = (floats: number): number => {
    const at = offset;
    offset += Math.ceil(floats / ALIGN_FLOATS) * ALIGN_FLOATS;
    return at;
  };
  const targets = familyTargets(spec, lora.targetModules);
  for (let layer = 0; layer < spec.numLayers; layer++) {
    if (!isAdaptedLayer(lora, layer)) continue;
    // The site number (dropout's hash) is the module's place in the family's list, per layer.
    projectionsOf(spec).forEach((proj, pi) => {
      if (!targets.includes(proj)) return;
      const [outFeatures, inFeatures] = projectionShape(spec, proj);
      const { r, scale } = siteLora(lora, layer, proj);
      const aOffset = take(r * inFeatures);
      const bOffset = take(outFeatures * r);
      sites.push({ layer, proj, site: layer * PROJECTIONS.length + pi, inFeatures, outFeatures, r, scale, aOffset, bOffset });
    });
  }
  const maxRank = sites.reduce((m, s) => Math.max(m, s.r), 1);
  return { maxRank, sites, totalFloats: Math.max(offset, ALIGN_FLOATS) };
}

export function siteViews(buffer: GPUBuffer, s: LoraSite): { A: BufferView; B: BufferView } {
  return {
    A: { buffer, offset: s.aOffset * 4, size: s.r * s.inFeatures * 4 },
    B: { buffer, offset: s.bOffset * 4, size: s.outFeatures * s.r * 4 },
  };
}

/** Packs PEFT-keyed tensors into a flat array laid out by `layout`. Throws naming a missing key. */
export function packLora(layout: LoraLayout, tensors: Map<string, { shape: number[]; data: Float32Array }>): Float32Array {
  const flat = new Float32Array(layout.totalFloats);
  for (const s of layout.sites) {
    for (const which of ['A', 'B'] as const) {
      const key = loraKey(s.layer, s.proj, which);
      const t = tensors.get(key);
      const want = which === 'A' ? [s.r, s.inFeatures] : [s.outFeatures, s.r];
      if (!t) throw new Error(`adapter tensor ${key} is missing`);
      if (t.shape.length !== 2 || t.shape[0] !== want[0] || t.shape[1] !== want[1]) {
        throw new Error(`adapter tensor ${key} has shape [${t.shape}], expected [${want}]`);
      }
      flat.set(t.data, which === 'A' ? s.aOffset : s.bOffset);
    }
  }
  return flat;
}

/** The inverse of packLora: PEFT-keyed tensors copied out of a flat array. */
export function unpackLora(layout: LoraLayout, flat: Float32Array): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const s of layout.sites) {
    const aLen = s.r * s.inFeatures;
    const bLen = s.outFeatures * s.r;
    out.set(loraKey(s.layer, s.proj, 'A'), { shape: [s.r, s.inFeatures], data: flat.slice(s.aOffset, s.aOffset + aLen) });
    out.set(loraKey(s.layer, s.proj, 'B'), { shape: [s.outFeatures, s.r], data: flat.slice(s.bOffset, s.bOffset + bLen) });
  }
  return out;
}
