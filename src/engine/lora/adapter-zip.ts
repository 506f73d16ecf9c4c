// A PEFT adapter inside a .zip: the studio's own export (files at the top), or any archive with
// adapter_config.json and adapter_model.safetensors side by side in one folder. The caller inflates
// (fflate: async in the page, sync in the CLI); this finds the pair.
import { unzipSync } from 'fflate';
import { AdapterError, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from './adapter';
import { memoryFolder, type ModelFolder } from '../model/weights';

const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/** For fflate's `filter`: only the two files an adapter needs are inflated. */
export function isAdapterEntry(path: string): boolean {
  const b = baseName(path);
  return b === ADAPTER_CONFIG_FILE || b === ADAPTER_WEIGHTS_FILE;
}

/**
 * The adapter among inflated `entries` (path → bytes) of `zipName`, named after the archive, or
 * the reason there is none.
 */
export function adapterInZip(entries: Record<string, Uint8Array>, zipName: string): { name: string; config: string; weights: Uint8Array } | string {
  const config = Object.keys(entries).find((p) => baseName(p) === ADAPTER_CONFIG_FILE);
  const folder = config ? config.slice(0, config.length - ADAPTER_CONFIG_FILE.length) : '';
  const weights = entries[`${folder}${ADAPTER_WEIGHTS_FILE}`];
  if (!config || !weights) {
    const missing = [config ? null : ADAPTER_CONFIG_FILE, weights ? null : ADAPTER_WEIGHTS_FILE].filter(Boolean).join(' and ');
    return `${zipName} holds no ${missing}${config && !weights ? ` beside its ${config}` : ''}`;
  }
  return { name: baseName(zipName).replace(/\.zip$/i, ''), config: new TextDecoder().decode(entries[config]), weights };
}

/**
 * The adapter inside a .zip's bytes as a ModelFolder (inflated synchronously with fflate: only the
 * two adapter files). Throws AdapterError when the archive is unreadable or holds no adapter.
 */
export function adapterZipFolder(bytes: Uint8Array, zipName: string): ModelFolder {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, { filter: (f) => isAdapterEntry(f.name) });
  } catch (e) {
    throw new AdapterError(`${zipName}: not a readable .zip (${(e as Error).message})`);
  }
  const found = adapterInZip(entries, zipName);
  if (typeof found === 'string') throw new AdapterError(found);
  return memoryFolder(found.name, { [ADAPTER_CONFIG_FILE]: found.config, [ADAPTER_WEIGHTS_FILE]: found.weights });
}
