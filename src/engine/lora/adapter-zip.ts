// A PEFT adapter inside a .zip: the studio's own export (files at the top), or any archive with
// adapter_config.json and adapter_model.safetensors side by side in one folder. The archive is
// untrusted: only those two entries are inflated, with caps (src/io/untrusted/zip.ts), in the
// page and in the CLI alike.
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, AdapterError } from './adapter';
import { readZipEntries, zipEntryNames } from '../../io/untrusted/zip';
import { MAX_CONFIG_BYTES } from '../../io/untrusted/json';
import { memoryFolder, type ModelFolder } from '../model/weights';

const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/**
 * Largest adapter_model.safetensors read from an archive: 2 GiB is an f32 adapter of rank 64 on
 * every projection of a 20B-parameter model, more than a browser can train.
 */
export const MAX_ADAPTER_WEIGHTS_BYTES = 2 ** 31;

/** Whether an archive entry is one of the two files an adapter needs. */
export function isAdapterEntry(path: string): boolean {
  const b = baseName(path);
  return b === ADAPTER_CONFIG_FILE || b === ADAPTER_WEIGHTS_FILE;
}

/** Why an archive listing several adapter_config.json entries is refused (which adapter is meant?), or null. */
function severalConfigs(names: readonly string[], zipName: string): string | null {
  const configs = names.filter((p) => baseName(p) === ADAPTER_CONFIG_FILE);
  if (configs.length < 2) return null;
  return `${zipName} holds ${configs.length} ${ADAPTER_CONFIG_FILE} entries (${configs.slice(0, 5).map((c) => JSON.stringify(c)).join(', ')}): which adapter is meant is ambiguous; keep one per archive`;
}

/**
 * The adapter among inflated `entries` (path → bytes) of `zipName`, named after the archive, or
 * the reason there is none.
 */
export function adapterInZip(entries: Record<string, Uint8Array>, zipName: string): { name: string; config: string; weights: Uint8Array } | string {
  const ambiguous = severalConfigs(Object.keys(entries), zipName);
  if (ambiguous) return ambiguous;
  const config = Object.keys(entries).find((p) => baseName(p) === ADAPTER_CONFIG_FILE);
  const folder = config ? config.slice(0, config.length - ADAPTER_CONFIG_FILE.length) : '';
  const weightsPath = `${folder}${ADAPTER_WEIGHTS_FILE}`;
  const weights = Object.prototype.hasOwnProperty.call(entries, weightsPath) ? entries[weightsPath] : undefined;
  if (!config || !weights) {
    const missing = [config ? null : ADAPTER_CONFIG_FILE, weights ? null : ADAPTER_WEIGHTS_FILE].filter(Boolean).join(' and ');
    return `${zipName} holds no ${missing}${config && !weights ? ` beside its ${config}` : ''}`;
  }
  return { name: baseName(zipName).replace(/\.zip$/i, ''), config: new TextDecoder().decode(entries[config]), weights };
}

/**
 * Reads the adapter in the archive `bytes` (named `zipName`): lists the entries, inflates only the
 * first adapter_config.json and the weights beside it, each within its cap. Throws AdapterError
 * naming the archive (and the entry) when it holds no adapter or is refused.
 */
export function readAdapterZip(bytes: Uint8Array, zipName: string): { name: string; config: string; weights: Uint8Array } {
  const fail = (field: string | null, detail: string): never => {
    throw new AdapterError(field ? `${zipName}: ${field} ${detail}` : `${zipName} ${detail}`);
  };
  const names = zipEntryNames(bytes, zipName, undefined, fail);
  const ambiguous = severalConfigs(names, zipName);
  if (ambiguous) throw new AdapterError(ambiguous);
  const config = names.find((p) => baseName(p) === ADAPTER_CONFIG_FILE);
  const weights = config && `${config.slice(0, config.length - ADAPTER_CONFIG_FILE.length)}${ADAPTER_WEIGHTS_FILE}`;
  const wanted = new Set([config, weights].filter((p): p is string => p !== undefined));
  const limits = {
    maxEntryBytes: (p: string) => (p === config ? MAX_CONFIG_BYTES : MAX_ADAPTER_WEIGHTS_BYTES),
    maxTotalBytes: MAX_ADAPTER_WEIGHTS_BYTES + MAX_CONFIG_BYTES,
  };
  const entries = readZipEntries(bytes, zipName, (p) => wanted.has(p), limits, fail);
  const found = adapterInZip(entries, zipName);
  if (typeof found === 'string') throw new AdapterError(found);
  return found;
}

/**
 * The adapter inside a .zip's bytes as a ModelFolder (only the two adapter files are inflated, within
 * readAdapterZip's caps). Throws AdapterError when the archive is unreadable or holds no adapter.
 */
export function adapterZipFolder(bytes: Uint8Array, zipName: string): ModelFolder {
  const found = readAdapterZip(bytes, zipName);
  return memoryFolder(found.name, { [ADAPTER_CONFIG_FILE]: found.config, [ADAPTER_WEIGHTS_FILE]: found.weights });
}
