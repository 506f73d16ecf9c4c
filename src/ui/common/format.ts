// Number formatting shared by the panels.
import { formatBytes } from '../../util/format-bytes';
export { formatBytes };
import type { Progress } from '../../worker/protocol';

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '–';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatLoss(x: number): string {
  return x.toFixed(3);
}

export function describeProgress(p: Progress): string {
  const verb = { download: 'Downloading', read: 'Reading', parse: 'Parsing', upload: 'Uploading', tokenize: 'Tokenizing', compile: 'Compiling', checkpoint: 'Saving checkpoint' }[p.phase];
  const amount = (n: number): string => (p.unit === 'bytes' ? formatBytes(n) : `${n} ${p.unit}`);
  return `${verb} ${p.label}: ${amount(p.done)}${p.total !== null ? ` of ${amount(p.total)}` : ''}`;
}
