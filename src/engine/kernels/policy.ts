// How the GEMM kernels spread work over a GPU: when the 128x128 tile replaces the 64x64 one, and
// when a skinny product splits its reduction (split-K). The values are reasoned for a large GPU (an
// H100: 132 SMs, about two resident 256-invocation workgroups of the 128 tile per SM) and not yet
// tuned on one. They live in one object so that a benchmark can sweep them without a rebuild
// (`bench … --policy tile128MinTiles=512,loraSplitMinSlice=256`); kernels only read it.

export const KERNEL_POLICY_DEFAULTS = {
  /** 'auto' takes the 128 tile from this many 128x128 output tiles up (matmulTileFor). */
  tile128MinTiles: 256,
  /** A frozen-linear backward with this many tiles already fills the GPU: no split. */
  matmulSplitMinWorkgroups: 512,
  /** Workgroups a frozen-linear split aims at. */
  matmulSplitTargetWorkgroups: 1024,
  /** Shortest frozen-linear reduction slice worth a workgroup (rows of W). */
  matmulSplitMinSlice: 512,
  /** Workgroups a LoRA product's split aims at; from this many tiles up it does not split. */
  loraSplitTargetWorkgroups: 1024,
  /** Shortest LoRA reduction slice worth a workgroup (8 steps of TILE_K). */
  loraSplitMinSlice: 128,
} as const;

export type KernelPolicy = { -readonly [K in keyof typeof KERNEL_POLICY_DEFAULTS]: number };

/** The policy in force. Read by the kernels when they record; set only through setKernelPolicy. */
export const kernelPolicy: KernelPolicy = { ...KERNEL_POLICY_DEFAULTS };

/** Overrides some values (positive integers), or restores the defaults with `null`. */
export function setKernelPolicy(overrides: Partial<KernelPolicy> | null): void {
  if (overrides === null) {
    Object.assign(kernelPolicy, KERNEL_POLICY_DEFAULTS);
    return;
  }
  for (const [name, value] of Object.entries(overrides)) {
    if (!(name in KERNEL_POLICY_DEFAULTS)) throw new Error(`kernel policy has no "${name}" (known: ${Object.keys(KERNEL_POLICY_DEFAULTS).join(', ')})`);
    if (!Number.isSafeInteger(value) || (value as number) < 1) throw new Error(`kernel policy ${name} must be a positive integer, not ${JSON.stringify(value)}`);
  }
  Object.assign(kernelPolicy, overrides);
}

/** "name=value,name=value" (the bench --policy flag) → overrides; errors name the bad entry. */
export function parseKernelPolicy(text: string): Partial<KernelPolicy> {
  const out: Partial<KernelPolicy> = {};
  for (const entry of text.split(',').map((e) => e.trim()).filter(Boolean)) {
    const eq = entry.indexOf('=');
    if (eq < 0) throw new Error(`--policy entry "${entry}" is not name=value`);
    const name = entry.slice(0, eq).trim();
    const value = Number(entry.slice(eq + 1).trim());
    if (!(name in KERNEL_POLICY_DEFAULTS)) throw new Error(`--policy: no "${name}" (known: ${Object.keys(KERNEL_POLICY_DEFAULTS).join(', ')})`);
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--policy ${name} must be a positive integer (got "${entry.slice(eq + 1).trim()}")`);
    out[name as keyof KernelPolicy] = value;
  }
  return out;
}
