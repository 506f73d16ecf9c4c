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
  return Gpu.create(api, { ...options, subgroups });
}
