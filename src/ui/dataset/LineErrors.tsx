import type { LineError } from '../../worker/protocol';

const SHOWN = 50;

/** Bad lines of a dataset file, by number and reason. */
export function LineErrors({ errors, title }: { errors: LineError[]; title: string }) {
  if (errors.length === 0) return null;
  const numbers = errors.map((e) => e.line);
  return (
    <div className="line-errors" role="alert" aria-label="Bad dataset lines">
      <p>
        <strong>{title}:</strong> {errors.length} bad line{errors.length === 1 ? '' : 's'} ({numbers.slice(0, SHOWN).join(', ')}
        {errors.length > SHOWN ? ', …' : ''})
      </p>
      <ul>
        {errors.slice(0, SHOWN).map((e) => (
          <li key={e.line}>
            Line {e.line}: {e.message}
          </li>
        ))}
      </ul>
    </div>
  );
}
