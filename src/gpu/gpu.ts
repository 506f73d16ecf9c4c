// The GPU layer: one device, its real limits, a pipeline cache, buffers, and recorded programs.
// Works the same on navigator.gpu (browser) and on the Node `webgpu` package.
//
// Kernels never touch the command encoder directly: they call `rec.dispatch(...)` on a Recorder.
// A Recorder builds each dispatch's uniform buffer once; its program gets pipelines and bind groups
// when linked (Gpu.prepare compiles all of a run's pipelines in parallel first; otherwise the first
// run compiles them one by one); a Program replays the recorded list every training step, so a step
// allocates nothing on the GPU or the JS heap.

import {
  GpuDeviceLostError,
  GpuError,
  GpuLimitError,
  GpuOutOfMemoryError,
  GpuUnavailableError,
  GpuValidationError,
} from './errors';
import { packUniforms, type UniformValues } from './uniforms';

/** A WGSL source: `name` and `parts` key the pipeline cache; `code` is shaders/NAME.wgsl's text, composed. */
export interface Shader {
  name: string;
  /** The shared pieces of shaders/ composed in front of the kernel's own text (kernels/reductions.ts). */
  parts?: readonly string[];
  code: string;
  /** The same entry points written with subgroup operations, used when the device has them. */
  subgroupCode?: string;
}

/** A range of a buffer bound as one storage binding. offset must be a multiple of 256 bytes. */
export interface BufferView {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

/** What a kernel binds: a whole buffer or a view into one. */
export type Buf = GPUBuffer | BufferView;

/** What the pipeline and module caches key a shader on: its name and the pieces it is composed of. */
export function shaderKey(shader: Shader): string {
  return shader.parts && shader.parts.length > 0 ? `${shader.name}+${shader.parts.join('+')}` : shader.name;
}

export function isView(b: Buf): b is BufferView {
  return (b as BufferView).buffer !== undefined && (b as BufferView).offset !== undefined;
}

export interface DispatchSpec {
  shader: Shader;
  entry: string;
  /** WGSL `override` constants (workgroup size, tile sizes): part of the pipeline cache key. */
  overrides?: Record<string, number>;
  /**
   * The entry's uniform struct by field name, packed and checked against the shader's WGSL
   * (uniforms.ts), bound at @group(0) @binding(0). Omit when the entry has no uniforms.
   */
  uniforms?: UniformValues;
  /** Storage bindings at @binding(1), @binding(2), … in order; null leaves that number unbound. */
  bindings: Array<Buf | null>;
  workgroups: [number, number?, number?];
  /** Shown in profiles and validation errors. */
  label?: string;
}

/** The parts a compute pipeline is compiled from (the pipeline cache's key). */
export interface PipelineRequest {
  shader: Shader;
  entry: string;
  overrides?: Record<string, number>;
}

/** The pipeline cache's key of a request: shader (with its pieces), entry and overrides. */
export function pipelineKey(r: PipelineRequest): string {
  return `${shaderKey(r.shader)}|${r.entry}|${r.overrides ? JSON.stringify(Object.entries(r.overrides).sort()) : ''}`;
}

/**
 * A dispatch as recorded. Its pipeline and bind group are made when the program is linked (its
 * first run, or Gpu.prepare), so a program can be recorded before its pipelines are compiled.
 */
interface RecordedDispatch {
  request: PipelineRequest;
  entries: GPUBindGroupEntry[];
  pipeline: GPUComputePipeline | null;
  bindGroup: GPUBindGroup | null;
  workgroups: [number, number, number];
  label: string;
  /** shader.entry: what profiles group by. */
  kernel: string;
}

/** GPU time per kernel (shader.entry), from timestamp queries. */
export type KernelProfile = Record<string, { calls: number; ms: number }>;

type RecordedOp =
  | { kind: 'dispatch'; d: RecordedDispatch }
  | { kind: 'clear'; buffer: GPUBuffer; offset: number; size: number }
  | { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; size: number };

/** Collects dispatches once; `finish()` turns them into a replayable Program. */
export class Recorder {
  private ops: RecordedOp[] = [];
  private owned: GPUBuffer[] = [];

  constructor(readonly gpu: Gpu) {}

  dispatch(spec: DispatchSpec): void {
    const [x, y = 1, z = 1] = spec.workgroups;
    const maxDim = this.gpu.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxDim || y > maxDim || z > maxDim) {
      throw new GpuLimitError(`maxComputeWorkgroupsPerDimension (${spec.shader.name}.${spec.entry})`, Math.max(x, y, z), maxDim);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const entries: GPUBindGroupEntry[] = [];
    if (spec.uniforms) {
      const data = packUniforms(spec.shader, spec.entry, spec.uniforms);
      const ub = this.gpu.allocate({
        size: data.byteLength,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        label: `${spec.shader.name}.${spec.entry}.uniforms`,
      });
      this.gpu.device.queue.writeBuffer(ub, 0, data);
      this.owned.push(ub);
      entries.push({ binding: 0, resource: { buffer: ub } });
    }
    spec.bindings.forEach((b, i) => {
      if (b === null) return;
      const resource: GPUBufferBinding = isView(b) ? { buffer: b.buffer, offset: b.offset, size: b.size } : { buffer: b };
      entries.push({ binding: i + 1, resource });
    });
    const label = spec.label ?? `${spec.shader.name}.${spec.entry}`;
    const request = { shader: spec.shader, entry: spec.entry, overrides: spec.overrides };
    this.ops.push({ kind: 'dispatch', d: { request, entries, pipeline: null, bindGroup: null, workgroups: [x, y, z], label, kernel: `${spec.shader.name}.${spec.entry}` } });
  }

  /** Zero-fills a buffer (or a view) when the program runs. */
  clear(b: Buf): void {
    if (isView(b)) this.ops.push({ kind: 'clear', buffer: b.buffer, offset: b.offset, size: b.size });
    else this.ops.push({ kind: 'clear', buffer: b, offset: 0, size: b.size });
  }

  /** Copies bytes between buffers when the program runs. */
  copy(src: Buf, dst: Buf, size?: number): void {
    const s = isView(src) ? src : { buffer: src, offset: 0, size: src.size };
    const d = isView(dst) ? dst : { buffer: dst, offset: 0, size: dst.size };
    this.ops.push({ kind: 'copy', src: s.buffer, srcOffset: s.offset, dst: d.buffer, dstOffset: d.offset, size: size ?? s.size });
  }

  finish(): Program {
    const p = new Program(this.gpu, this.ops, this.owned);
    this.ops = [];
    this.owned = [];
    return p;
  }
}

/** A recorded list of GPU operations, encoded into one command buffer each time it runs. */
export class Program {
  constructor(
    private readonly gpu: Gpu,
    private readonly ops: RecordedOp[],
    private readonly owned: GPUBuffer[],
  ) {}

  private linked = false;

  /** The pipelines this program dispatches, one per cache key. */
  pipelineRequests(): PipelineRequest[] {
    const out = new Map<string, PipelineRequest>();
    for (const op of this.ops) if (op.kind === 'dispatch') out.set(pipelineKey(op.d.request), op.d.request);
    return [...out.values()];
  }

  /**
   * Gives every dispatch its pipeline (from the cache; compiled synchronously when missing) and
   * bind group. Runs once, at the first encode unless Gpu.prepare linked the program first.
   */
  link(): void {
    if (this.linked) return;
    for (const op of this.ops) {
      if (op.kind !== 'dispatch') continue;
      const d = op.d;
      d.pipeline = this.gpu.pipeline(d.request.shader, d.request.entry, d.request.overrides);
      d.bindGroup = this.gpu.device.createBindGroup({ layout: d.pipeline.getBindGroupLayout(0), entries: d.entries, label: d.label });
    }
    this.linked = true;
  }

  /** Encodes the program into an encoder (compute passes batched between copies and clears). */
  encode(encoder: GPUCommandEncoder): void {
    if (!this.linked) this.link();
    let pass: GPUComputePassEncoder | null = null;
    for (const op of this.ops) {
      if (op.kind === 'dispatch') {
        pass ??= encoder.beginComputePass();
        pass.setPipeline(op.d.pipeline!);
        pass.setBindGroup(0, op.d.bindGroup);
        pass.dispatchWorkgroups(...op.d.workgroups);
        continue;
      }
      if (pass) {
        pass.end();
        pass = null;
      }
      if (op.kind === 'clear') encoder.clearBuffer(op.buffer, op.offset, op.size);
      else encoder.copyBufferToBuffer(op.src, op.srcOffset, op.dst, op.dstOffset, op.size);
    }
    pass?.end();
  }

  /**
   * Runs the program once with every dispatch in its own timestamped compute pass and returns GPU
   * time per kernel. Needs the 'timestamp-query' feature. Allocates: for benchmarks only.
   */
  async profile(): Promise<KernelProfile> {
    const device = this.gpu.device;
    if (!device.features.has('timestamp-query')) throw new GpuError('this device has no timestamp-query feature');
    const dispatches = this.ops.filter((o) => o.kind === 'dispatch').length;
    const count = Math.max(2, 2 * dispatches);
    const querySet = device.createQuerySet({ type: 'timestamp', count });
    const resolved = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const readback = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.link();
    const encoder = device.createCommandEncoder();
    const kernels: string[] = [];
    for (const op of this.ops) {
      if (op.kind === 'dispatch') {
        const i = kernels.length;
        const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
        pass.setPipeline(op.d.pipeline!);
        pass.setBindGroup(0, op.d.bindGroup);
        pass.dispatchWorkgroups(...op.d.workgroups);
        pass.end();
        kernels.push(op.d.kernel);
      } else if (op.kind === 'clear') encoder.clearBuffer(op.buffer, op.offset, op.size);
      else encoder.copyBufferToBuffer(op.src, op.srcOffset, op.dst, op.dstOffset, op.size);
    }
    encoder.resolveQuerySet(querySet, 0, count, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, readback, 0, count * 8);
    device.queue.submit([encoder.finish()]);
    await readback.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(readback.getMappedRange().slice(0));
    readback.unmap();
    readback.destroy();
    resolved.destroy();
    querySet.destroy();
    const out: KernelProfile = {};
    kernels.forEach((k, i) => {
      const ns = Number(t[2 * i + 1] - t[2 * i]);
      const e = (out[k] ??= { calls: 0, ms: 0 });
      e.calls++;
      e.ms += ns / 1e6;
    });
    return out;
  }

  /** Encodes and submits. Returns without waiting for the GPU. */
  run(): void {
    this.gpu.assertAlive();
    const encoder = this.gpu.device.createCommandEncoder();
    this.encode(encoder);
    this.gpu.device.queue.submit([encoder.finish()]);
  }

  destroy(): void {
    for (const b of this.owned) this.gpu.destroyBuffer(b);
  }
}

export interface GpuOptions {
  /** Limits the run needs; requestDevice asks for the adapter's real maximum of each anyway. */
  requiredLimits?: Partial<Record<keyof GPUSupportedLimits, number>>;
  /** Optional features to enable when the adapter has them (e.g. 'timestamp-query'). */
  optionalFeatures?: GPUFeatureName[];
  /**
   * Subgroup operations (the 'subgroups' feature and WGSL's subgroup_id builtin): true uses them
   * wherever the adapter has them, false never. Default: only where subgroups are at least
   * MIN_SUBGROUP_SIZE wide (every discrete and integrated GPU; not SwiftShader's 4-wide ones).
   */
  subgroups?: boolean;
}

/**
 * Narrowest subgroups the kernels use by default. The reductions' subgroup form ends with every
 * invocation adding one partial per subgroup in order: 8 partials for 32-wide subgroups, but 64 for
 * 4-wide ones, which is slower than the tree and rounds differently enough to matter (it moved one
 * knife-edge AdamW update of the tiny-llama fixture past its bound on SwiftShader).
 */
export const MIN_SUBGROUP_SIZE = 16;

function wantSubgroups(option: boolean | undefined, adapter: GPUAdapter): boolean {
  if (option !== undefined) return option;
  const min = (adapter.info as { subgroupMinSize?: number } | undefined)?.subgroupMinSize;
  return min !== undefined && min >= MIN_SUBGROUP_SIZE;
}

/**
 * Whether this device really builds a pipeline with the subgroup builtins and operations the
 * reductions use (a driver may report the feature and still reject them): if not, the kernels
 * keep their portable form rather than failing later in the middle of a run.
 */
export async function subgroupsCompile(device: GPUDevice): Promise<boolean> {
  const code = `enable subgroups;
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn probe(@builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) lane: u32,
         @builtin(subgroup_id) sg: u32, @builtin(num_subgroups) count: u32) {
  let s = subgroupAdd(vec4<f32>(f32(li))) + vec4<f32>(subgroupMax(f32(lane)));
  if (lane == 0u && sg < count) { out[sg] = s.x; }
}`;
  device.pushErrorScope('validation'); // a rejected module is this probe's answer, not an uncaptured error
  try {
    const module = device.createShaderModule({ code, label: 'subgroups-probe' });
    await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'probe' }, label: 'subgroups-probe' });
    return true;
  } catch {
    return false;
  } finally {
    await device.popErrorScope();
  }
}

const LIMITS_TO_MAXIMIZE = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

/** The size createBuffer gives a storage buffer of `bytes`: rounded up to 4 bytes, at least 16. */
export function storageBufferSize(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 4) * 4);
}

export class Gpu {
  private pipelines = new Map<string, GPUComputePipeline>();
  private modules = new Map<string, GPUShaderModule>();
  /**
   * Pipelines compiled synchronously at first use (Program.link) and in parallel ahead of it
   * (prepare), and the wall time spent on both: each synchronous compile, plus each prepare's batch
   * from its start to its last pipeline.
   */
  readonly compileStats = { sync: 0, async: 0, ms: 0 };
  private lostReason: string | null = null;
  private firstUncaptured: string | null = null;
  /** Bytes of buffers created through createBuffer and not yet destroyed, and their peak. */
  allocatedBytes = 0;
  peakAllocatedBytes = 0;

  private constructor(
    /** Held so the GPU instance outlives the device: dawn.node frees the native instance when its
     * JS object is collected, and a device that outlives it crashes the process. */
    readonly api: GPU,
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    /**
     * Whether kernels run their subgroup form (Shader.subgroupCode): GpuOptions.subgroups, where
     * the device has the 'subgroups' feature and WGSL the subgroup_id builtin.
     */
    readonly subgroups: boolean,
  ) {
    device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
    });
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.firstUncaptured ??= e.message;
    });
  }

  static async create(api: GPU | undefined, options: GpuOptions = {}): Promise<Gpu> {
    if (!api) throw new GpuUnavailableError('WebGPU is not available here (no navigator.gpu)');
    const adapter = await api.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new GpuUnavailableError('WebGPU found no GPU adapter');
    const requiredLimits: Record<string, number> = {};
    for (const name of LIMITS_TO_MAXIMIZE) requiredLimits[name] = adapter.limits[name];
    for (const [name, needed] of Object.entries(options.requiredLimits ?? {})) {
      const available = (adapter.limits as unknown as Record<string, number>)[name];
      if (available === undefined || available < (needed as number)) throw new GpuLimitError(name, needed as number, available ?? 0);
      requiredLimits[name] = Math.max(requiredLimits[name] ?? 0, needed as number);
    }
    const subgroups = wantSubgroups(options.subgroups, adapter) && adapter.features.has('subgroups') && api.wgslLanguageFeatures?.has('subgroup_id') === true;
    const wanted: GPUFeatureName[] = [...(options.optionalFeatures ?? []), ...(subgroups ? ['subgroups' as GPUFeatureName] : [])];
    const requiredFeatures = [...new Set(wanted)].filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'lora-studio' });
    return new Gpu(api, adapter, device, subgroups && (await subgroupsCompile(device)));
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  get features(): GPUSupportedFeatures {
    return this.device.features;
  }

  /** Vendor and architecture, as the adapter reports them. */
  get adapterName(): string {
    const info = this.adapter.info;
    return [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || 'unknown';
  }

  assertAlive(): void {
    if (this.lostReason !== null) throw new GpuDeviceLostError(`GPU device lost (${this.lostReason})`);
  }

  /** Compiles (once) and returns the pipeline for a shader entry point with the given overrides. */
  pipeline(shader: Shader, entry: string, overrides?: Record<string, number>): GPUComputePipeline {
    const request = { shader, entry, overrides };
    const key = pipelineKey(request);
    let p = this.pipelines.get(key);
    if (p) return p;
    const t0 = performance.now();
    p = this.device.createComputePipeline(this.pipelineDescriptor(request));
    this.compileStats.sync++;
    this.compileStats.ms += performance.now() - t0;
    this.pipelines.set(key, p);
    return p;
  }

  /**
   * Compiles every pipeline the programs dispatch that is not compiled yet, all at once with
   * createComputePipelineAsync (Dawn and browsers compile them in parallel, off this thread), then
   * links the programs. Whatever the caller does meanwhile (the weights' upload) overlaps the compile.
   */
  async prepare(programs: readonly Program[]): Promise<void> {
    const missing = new Map<string, PipelineRequest>();
    for (const program of programs) {
      for (const r of program.pipelineRequests()) {
        const key = pipelineKey(r);
        if (!this.pipelines.has(key)) missing.set(key, r);
      }
    }
    const t0 = performance.now();
    const compiled = await Promise.all(
      [...missing].map(async ([key, r]) => {
        const descriptor = this.pipelineDescriptor(r);
        try {
          return [key, await this.device.createComputePipelineAsync(descriptor)] as const;
        } catch (e) {
          this.assertAlive();
          throw new GpuValidationError(`compiling ${descriptor.label}: ${(e as Error).message}`);
        }
      }),
    );
    for (const [key, p] of compiled) this.pipelines.set(key, p);
    this.compileStats.async += compiled.length;
    this.compileStats.ms += performance.now() - t0;
    for (const program of programs) program.link();
  }

  private pipelineDescriptor(r: PipelineRequest): GPUComputePipelineDescriptor {
    const moduleKey = shaderKey(r.shader);
    let module = this.modules.get(moduleKey);
    if (!module) {
      const code = this.subgroups && r.shader.subgroupCode !== undefined ? r.shader.subgroupCode : r.shader.code;
      module = this.device.createShaderModule({ code, label: r.shader.name });
      this.modules.set(moduleKey, module);
    }
    return {
      layout: 'auto',
      // Pass `constants` only when there are some: keeps the descriptor minimal for every backend.
      compute: r.overrides ? { module, entryPoint: r.entry, constants: r.overrides } : { module, entryPoint: r.entry },
      label: `${r.shader.name}.${r.entry}`,
    };
  }

  /** Keys of the pipelines compiled so far (pipelineKey). */
  compiledPipelines(): string[] {
    return [...this.pipelines.keys()];
  }

  /** A storage buffer (STORAGE | COPY_SRC | COPY_DST), zero-filled. Size rounded up to 4 bytes. */
  createBuffer(bytes: number, label: string, extraUsage = 0): GPUBuffer {
    this.assertAlive();
    const size = storageBufferSize(bytes);
    if (size > this.limits.maxBufferSize) throw new GpuLimitError(`maxBufferSize (${label})`, size, this.limits.maxBufferSize);
    return this.allocate({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage, label });
  }

  /**
   * Any buffer that lives as long as a run (uniforms, read-backs): counted in allocatedBytes and
   * peakAllocatedBytes, the benchmark's memory figure. Free it with destroyBuffer.
   */
  allocate(descriptor: GPUBufferDescriptor): GPUBuffer {
    const buffer = this.device.createBuffer(descriptor);
    this.allocatedBytes += buffer.size;
    this.peakAllocatedBytes = Math.max(this.peakAllocatedBytes, this.allocatedBytes);
    return buffer;
  }

  destroyBuffer(buffer: GPUBuffer): void {
    this.allocatedBytes -= buffer.size;
    buffer.destroy();
  }

  /** A buffer holding `data` (f32, u32 or i32 array). */
  upload(data: Float32Array | Uint32Array | Int32Array, label: string): GPUBuffer {
    const b = this.createBuffer(data.byteLength, label);
    this.write(b, data);
    return b;
  }

  write(target: Buf, data: ArrayBufferView, byteOffset = 0): void {
    const buffer = isView(target) ? target.buffer : target;
    const offset = (isView(target) ? target.offset : 0) + byteOffset;
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Reads a buffer (or view) back as bytes. Allocates a staging buffer: not for the training loop. */
  async readBytes(source: Buf, bytes?: number): Promise<ArrayBuffer> {
    this.assertAlive();
    const src = isView(source) ? source : { buffer: source, offset: 0, size: source.size };
    const size = Math.ceil((bytes ?? src.size) / 4) * 4;
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(src.buffer, src.offset, staging, 0, size);
    this.device.queue.submit([enc.finish()]);
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      this.assertAlive();
      throw new GpuError(`reading back ${src.buffer.label || 'a buffer'} failed: ${(e as Error).message}`);
    }
    const out = staging.getMappedRange().slice(0);
    staging.unmap();
    staging.destroy();
    return out;
  }

  async readF32(source: Buf, count?: number): Promise<Float32Array> {
    return new Float32Array(await this.readBytes(source, count === undefined ? undefined : count * 4));
  }

  async readU32(source: Buf, count?: number): Promise<Uint32Array> {
    return new Uint32Array(await this.readBytes(source, count === undefined ? undefined : count * 4));
  }

  recorder(): Recorder {
    return new Recorder(this);
  }

  /**
   * Records with `fn`, runs once, waits for the GPU, and surfaces validation and out-of-memory
   * errors as typed errors. For tests, setup and one-off work; training replays a Program instead.
   */
  async run(fn: (rec: Recorder) => void): Promise<void> {
    await this.checked(async () => {
      const rec = this.recorder();
      fn(rec);
      const program = rec.finish();
      program.run();
      await this.device.queue.onSubmittedWorkDone();
      program.destroy();
    });
  }

  /** Runs `fn` inside validation and out-of-memory error scopes and throws what they caught. */
  async checked<T>(fn: () => Promise<T> | T): Promise<T> {
    this.assertAlive();
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let result: T;
    try {
      result = await fn();
    } finally {
      const validation = await this.device.popErrorScope();
      const oom = await this.device.popErrorScope();
      this.assertAlive();
      if (oom) throw new GpuOutOfMemoryError(`GPU out of memory: ${oom.message}`);
      if (validation) throw new GpuValidationError(validation.message);
    }
    return result;
  }

  /** The first error that escaped every error scope, if any (checked after replayed programs). */
  takeUncapturedError(): string | null {
    const e = this.firstUncaptured;
    this.firstUncaptured = null;
    return e;
  }

  destroy(): void {
    this.device.destroy();
  }
}

/** Workgroup grid for `count` workgroups, folded into 2D when it exceeds one dimension's limit. */
export function grid(count: number, maxPerDim = 65535): [number, number] {
  if (count <= maxPerDim) return [count, 1];
  const y = Math.ceil(count / maxPerDim);
  return [Math.ceil(count / y), y];
}
