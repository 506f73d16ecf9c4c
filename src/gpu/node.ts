// WebGPU in Node through the `webgpu` package (Dawn). Never imported by browser code.
import { existsSync, readdirSync } from 'node:fs';
import { Gpu, type GpuOptions } from './gpu';
import { GpuUnavailableError } from './errors';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * True when a hardware Vulkan driver manifest is installed (NVIDIA, AMD's amdvlk). Mesa's software
 * lavapipe, which Debian's chromium pulls in, does not count: Dawn rejects it.
 */
function hasSystemVulkanDriver(): boolean {
  if (process.env.LORA_STUDIO_VULKAN === 'system') return true;
  for (const dir of ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d']) {
    try {
      if (readdirSync(dir).some((f) => /nvidia|amd_icd/i.test(f))) return true;
    } catch {
      /* no such folder */
    }
  }
  return false;
}

/**
 * Creates a Gpu in Node. Without a system Vulkan driver and without VK_ICD_FILENAMES /
 * VK_DRIVER_FILES, points the loader at SwiftShader (Debian's chromium ships it), so tests and the
 * CLI run on any machine. Set the variables yourself to choose another driver.
 */
export async function createNodeGpu(options: GpuOptions = {}, dawnToggles: string[] = []): Promise<Gpu> {
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && !hasSystemVulkanDriver()) {
    if (existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  let mod: typeof import('webgpu');
  try {
    mod = await import('webgpu');
  } catch (e) {
    throw new GpuUnavailableError(`the 'webgpu' package could not be loaded: ${(e as Error).message}`);
  }
  Object.assign(globalThis, mod.globals);
  const api = mod.create(dawnToggles);
  // LORA_STUDIO_SUBGROUPS=0 or 1 overrides the default choice of kernels (GpuOptions.subgroups).
  const env = process.env.LORA_STUDIO_SUBGROUPS;
  const subgroups = options.subgroups ?? (env === '0' ? false : env === '1' ? true : undefined);
  const gpu = await Gpu.create(api, { ...options, subgroups });
  if (/swiftshader/i.test(gpu.adapterName)) throttleDawnEventPolling();
  return gpu;
}

/**
 * While a pipeline compile or a buffer mapping is pending, dawn.node processes the device's events
 * by calling the global setImmediate with an anonymous native callback, again and again: a busy
 * loop holding a core. With SwiftShader the GPU's work runs on the same few cores, so the loop takes
 * their time: creating the tiny trainer with its pipelines compiled ahead (Gpu.prepare) cost 32-38 s
 * of CPU instead of 20 s on two cores. Those callbacks are deferred by 1 ms instead; every other
 * setImmediate runs as before. Not on hardware GPUs, where a core is spare and 1 ms a wait counts.
 */
function throttleDawnEventPolling(): void {
  const g = globalThis as unknown as { setImmediate: (cb: (...args: unknown[]) => void, ...args: unknown[]) => unknown };
  const immediate = g.setImmediate;
  if ((immediate as { dawnThrottled?: boolean }).dawnThrottled) return;
  const isDawnCallback = (cb: unknown): boolean => typeof cb === 'function' && cb.name === '' && Function.prototype.toString.call(cb).includes('[native code]');
  const throttled = (cb: (...args: unknown[]) => void, ...args: unknown[]): unknown => (isDawnCallback(cb) ? setTimeout(cb, 1, ...args) : immediate(cb, ...args));
  g.setImmediate = Object.assign(throttled, immediate, { dawnThrottled: true }); // keeps util.promisify's custom form
}
