// Names and shapes derived from the architecture table (families.ts): the checkpoint's tensors
// with their shapes, the linear modules (LoRA sites) with their output slices and biases, PEFT's
// module names and keys, and the LoRA target groups.
import type { ModelSpec } from '../spec';
import { ARCH_TABLE, LAYER_PREFIX, MODEL_TENSORS, PEFT_PREFIX } from './families';
import type { ArchEntry, LayerNormRole, LinearEntry, ModelFamily, NormEntry, Projection, ProjectionRole, Sublayer } from './types';

/** The table's entry for a spec (or a family). */
export function archOf(x: Pick<ModelSpec, 'modelType'> | ModelFamily): ArchEntry {
  return ARCH_TABLE[typeof x === 'string' ? x : x.modelType];
}

/** Every module name any family has, unfused first (the seven of Llama), then the fused ones. */
export const ALL_PROJECTIONS: readonly Projection[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj', 'qkv_proj', 'gate_up_proj'];

/** The seven separate projections (Llama, Mistral, Qwen, Gemma): the target list where no model is known yet. */
export const PROJECTIONS: readonly Projection[] = ARCH_TABLE.llama.linears.map((l) => l.module);

/** The sublayer of a module name: the same in every family (the table is checked for it). */
const SUBLAYER: Readonly<Record<Projection, Sublayer>> = (() => {
  const m = {} as Record<Projection, Sublayer>;
  for (const e of Object.values(ARCH_TABLE)) {
    for (const l of e.linears) {
      if (m[l.module] && m[l.module] !== l.sublayer) throw new Error(`architecture table: ${l.module} is in ${m[l.module]} and ${l.sublayer}`);
      m[l.module] = l.sublayer;
    }
  }
  return m;
})();

/** The HF module that owns a projection: `self_attn` or `mlp`. */
export function projectionModule(p: Projection): Sublayer {
  return SUBLAYER[p];
}

export function isProjection(x: unknown): x is Projection {
  return typeof x === 'string' && (ALL_PROJECTIONS as readonly string[]).includes(x);
}

/** The family's linear modules (LoRA sites), in the table's order. */
export function projectionsOf(spec: Pick<ModelSpec, 'modelType'>): Projection[] {
  return archOf(spec).linears.map((l) => l.module);
}

/** The table's entry of a module; throws when the family has no such module. */
export function linearOf(spec: Pick<ModelSpec, 'modelType'>, p: Projection): LinearEntry {
  const l = archOf(spec).linears.find((x) => x.module === p);
  if (!l) throw new Error(`${archOf(spec).architecture} has no ${p} (its linear modules: ${projectionsOf(spec).join(', ')})`);
  return l;
}

/** Output rows of one role. */
export function roleRows(spec: ModelSpec, role: ProjectionRole): number {
  switch (role) {
    case 'q':
      return spec.numHeads * spec.headDim;
    case 'k':
    case 'v':
      return spec.numKvHeads * spec.headDim;
    case 'o':
    case 'down':
      return spec.hiddenSize;
    case 'gate':
    case 'up':
      return spec.intermediateSize;
  }
}

/** A module's output row slices: each part's role, first row and row count (one slice unless fused). */
export function projectionSlices(spec: ModelSpec, p: Projection): Array<{ role: ProjectionRole; offset: number; rows: number }> {
  let offset = 0;
  return linearOf(spec, p).parts.map((role) => {
    const rows = roleRows(spec, role);
    const s = { role, offset, rows };
    offset += rows;
    return s;
  });
}

/** [out_features, in_features] of a module's weight (a fused module's out is the sum of its parts). */
export function projectionShape(spec: ModelSpec, p: Projection): [number, number] {
  const l = linearOf(spec, p);
  const out = l.parts.reduce((n, role) => n + roleRows(spec, role), 0);
  const inp = l.input === 'hidden' ? spec.hiddenSize : l.input === 'attention' ? spec.numHeads * spec.headDim : spec.intermediateSize;
  return [out, inp];
}

/** The bias rule: whether this module of this spec has a bias. */
export function projectionHasBias(spec: ModelSpec, p: Projection): boolean {
  const flag = linearOf(spec, p).bias;
  return flag !== null && spec[flag];
}

/** The checkpoint name of a module's weight (or bias) in layer `layer`, e.g. model.layers.3.self_attn.q_proj.weight. */
export function projectionWeightName(layer: number, p: Projection, kind: 'weight' | 'bias' = 'weight'): string {
  return `${loraModuleName(layer, p)}.${kind}`;
}

/** PEFT's name of a module in layer `layer` (named_modules() of the CausalLM). */
export function loraModuleName(layer: number, p: Projection): string {
  return `${LAYER_PREFIX.hf}.${layer}.${projectionModule(p)}.${p}`;
}

/** PEFT's saved key of a LoRA matrix: A is [r, in], B is [out, r]. */
export function loraKey(layer: number, p: Projection, which: 'A' | 'B'): string {
  return `${PEFT_PREFIX}${loraModuleName(layer, p)}.lora_${which}.weight`;
}

/** The layer and module of a PEFT module name (`model.layers.N.<sublayer>.<module>`), or null. */
export function parseModuleName(name: string): { layer: number; sublayer: string; module: string } | null {
  const m = /^model\.layers\.(\d+)\.(\w+)\.(\w+)$/.exec(name);
  return m ? { layer: Number(m[1]), sublayer: m[2], module: m[3] } : null;
}

/** The decoder layer a module or tensor name is in, or null. */
export function layerOfName(name: string): number | null {
  const m = /^model\.layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : null;
}

/** A spec's layer norms (q/k norms only with qkNorm), in the table's order. */
export function layerNorms(spec: Pick<ModelSpec, 'modelType' | 'qkNorm'>): NormEntry[] {
  return archOf(spec).norms.filter((n) => !n.whenQkNorm || spec.qkNorm);
}

/** The checkpoint name of a layer norm's weight, or null when this spec has no such norm. */
export function layerNormName(spec: Pick<ModelSpec, 'modelType' | 'qkNorm'>, layer: number, role: LayerNormRole): string | null {
  const n = layerNorms(spec).find((x) => x.role === role);
  return n ? `${LAYER_PREFIX.hf}.${layer}.${n.hf}.weight` : null;
}

/** As layerNormName, for a norm every layer of this spec has. */
export function requiredNormName(spec: ModelSpec, layer: number, role: LayerNormRole): string {
  const n = layerNormName(spec, layer, role);
  if (n === null) throw new Error(`${spec.architecture} has no ${role} norm`);
  return n;
}

/**
 * The RMSNorm weights the engine uploads as 1 + w (Gemma's x·(1 + w), a load-time value transform:
 * the kernels compute x·w'; exporters read the checkpoint's w); empty for the other families.
 */
export function onePlusNormNames(spec: ModelSpec): Set<string> {
  if (archOf(spec).normWeight !== 'one_plus_w') return new Set();
  const names = new Set<string>([MODEL_TENSORS.finalNorm.hf]);
  for (let l = 0; l < spec.numLayers; l++) for (const n of layerNorms(spec)) names.add(`${LAYER_PREFIX.hf}.${l}.${n.hf}.weight`);
  return names;
}

/** The embedding, final norm and LM head names (the LM head is null when tied to the embedding). */
export function modelTensorNames(spec: ModelSpec): { embed: string; finalNorm: string; lmHead: string | null } {
  return { embed: MODEL_TENSORS.embed.hf, finalNorm: MODEL_TENSORS.finalNorm.hf, lmHead: spec.tieWordEmbeddings ? null : MODEL_TENSORS.lmHead.hf };
}

/** Every tensor the engine reads, with its expected shape, in a stable order. */
export function expectedWeightShapes(spec: ModelSpec): Map<string, number[]> {
  const C = spec.hiddenSize;
  const m = new Map<string, number[]>();
  const names = modelTensorNames(spec);
  m.set(names.embed, [spec.vocabSize, C]);
  for (let i = 0; i < spec.numLayers; i++) {
    const norms = layerNorms(spec);
    const norm = (n: NormEntry): void => void m.set(`${LAYER_PREFIX.hf}.${i}.${n.hf}.weight`, [n.width === 'hidden' ? C : spec.headDim]);
    // A stable order: the input norm, the linears (q/k norms after the module that makes v), the other norms.
    const perHead = (n: NormEntry): boolean => n.width === 'head_dim';
    norms.filter((n) => n.role === 'input').forEach(norm);
    for (const l of archOf(spec).linears) {
      const shape = projectionShape(spec, l.module);
      m.set(projectionWeightName(i, l.module), shape);
      if (projectionHasBias(spec, l.module)) m.set(projectionWeightName(i, l.module, 'bias'), [shape[0]]);
      if (l.parts.includes('v')) norms.filter(perHead).forEach(norm);
    }
    norms.filter((n) => n.role !== 'input' && !perHead(n)).forEach(norm);
  }
  m.set(names.finalNorm, [C]);
  if (names.lmHead) m.set(names.lmHead, [spec.vocabSize, C]);
  return m;
}

/** The model's modules PEFT could see (named_modules() of the CausalLM) that are not layer linears, and the linears. */
export function peftModuleNames(spec: ModelSpec): string[] {
  const names = ['model', 'model.embed_tokens', LAYER_PREFIX.hf, 'model.norm', 'model.rotary_emb', 'lm_head'];
  for (let i = 0; i < spec.numLayers; i++) {
    const p = `${LAYER_PREFIX.hf}.${i}`;
    names.push(p, `${p}.self_attn`, `${p}.mlp`, `${p}.mlp.act_fn`);
    for (const n of layerNorms(spec)) names.push(`${p}.${n.hf}`);
    for (const proj of projectionsOf(spec)) names.push(loraModuleName(i, proj));
  }
  return names;
}

/** The modules LoRA is refused on with their own message (not linears of a layer). */
export const EMBEDDING_MODULES: readonly string[] = ['model.embed_tokens', 'lm_head'];

export type TargetGroup = 'attention' | 'mlp' | 'all';

/** The page's and the CLI's target groups for a family: its attention modules, its MLP modules, all. */
export function targetGroup(spec: Pick<ModelSpec, 'modelType'> | ModelFamily, group: TargetGroup): Projection[] {
  const linears = archOf(spec).linears;
  if (group === 'all') return linears.map((l) => l.module);
  return linears.filter((l) => (group === 'attention') === (l.sublayer === 'self_attn')).map((l) => l.module);
}

/**
 * The target groups the page and the CLI offer before a model is known, named by the seven
 * separate projections (familyTargets maps them onto a family's fused modules).
 */
export const TARGET_GROUPS: Readonly<Record<TargetGroup, readonly Projection[]>> = {
  attention: targetGroup('llama', 'attention'),
  mlp: targetGroup('llama', 'mlp'),
  all: targetGroup('llama', 'all'),
};

/**
 * Requested target modules (possibly named for another family: the page's and the CLI's lists
 * name the seven separate projections) as this family's modules: a module the family has is
 * kept; separate parts of a fused module become that module when every part is requested, and are
 * refused by name when only some are (one LoRA pair spans the fused output).
 */
export function familyTargets(spec: Pick<ModelSpec, 'modelType'>, requested: readonly Projection[]): Projection[] {
  const entry = archOf(spec);
  const out: Projection[] = [];
  for (const l of entry.linears) {
    if (requested.includes(l.module)) {
      out.push(l.module);
      continue;
    }
    if (l.parts.length < 2) continue;
    const partNames = l.parts.map((role) => `${role}_proj` as Projection);
    const given = partNames.filter((p) => requested.includes(p));
    if (given.length === partNames.length) out.push(l.module);
    else if (given.length > 0) {
      throw new Error(`${entry.architecture} fuses ${partNames.join(', ')} into ${l.module}, one LoRA site: target all of them (or ${l.module}), not ${given.join(', ')}`);
    }
  }
  const unknown = requested.filter((p) => !out.includes(p) && !entry.linears.some((l) => l.parts.length > 1 && l.parts.some((role) => `${role}_proj` === p)));
  if (unknown.length > 0) throw new Error(`${entry.architecture} has no ${unknown.join(', ')} (its linear modules: ${entry.linears.map((l) => l.module).join(', ')})`);
  return out;
}
