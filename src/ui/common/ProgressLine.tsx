import type { Progress } from '../../worker/protocol';
import { describeProgress } from './format';

/** A progress bar with its text; not a live region (the studio keeps one: the training status). */
export function ProgressLine({ progress }: { progress: Progress | null }) {
  if (!progress) return null;
  const text = describeProgress(progress);
  return (
    <div className="progress">
      <progress max={progress.total ?? undefined} value={progress.total !== null ? progress.done : undefined} aria-label={text} />
      <span>{text}</span>
    </div>
  );
}
