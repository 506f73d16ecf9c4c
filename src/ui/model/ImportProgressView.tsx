import type { ImportProgress } from '../../hub/import';
import { formatBytes } from '../common/format';

const PHASES: Record<ImportProgress['phase'], string> = {
  files: 'Fetching the model files',
  checking: 'Checking the weights',
  weights: 'Downloading and storing the weights',
  finishing: 'Finishing',
  done: 'Stored',
};

/** Download and quantization progress of an import into the library. */
export function ImportProgressView({ label, progress: p }: { label: string; progress: ImportProgress | null }) {
  const text = p
    ? `${PHASES[p.phase]} of ${label}${p.resumed ? ' (resumed)' : ''}: ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}` +
      (p.tensorsTotal ? ` · tensor ${p.tensorsDone} of ${p.tensorsTotal}` : '') +
      (p.bytesPerSec ? ` · ${formatBytes(p.bytesPerSec)}/s` : '')
    : `Starting the import of ${label}…`;
  return (
    <div className="progress">
      <progress max={p?.bytesTotal || undefined} value={p?.bytesTotal ? p.bytesDone : undefined} aria-label={text} />
      <span>{text}</span>
    </div>
  );
}
