import type { LineError } from '../../worker/protocol';

const SHOWN = 50;

/** Where a bad record is: its line, and a JSON array's index. */
const place = (e: LineError): string => e.place ?? (e.index === undefined ? `${e.line}` : `index ${e.index} (line ${e.line})`);

/** Bad records of a dataset file, by place and reason; `total` counts those not listed too. */
export function LineErrors({ errors, title, total = errors.length }: { errors: LineError[]; title: string; total?: number }) {
  if (errors.length === 0) return null;
  const shown = errors.slice(0, SHOWN);
  return (
    <div className="line-errors" role="alert" aria-label="Bad dataset lines">
      <p>
        <strong>{title}:</strong> {total} bad line{total === 1 ? '' : 's'} ({shown.map(place).join(', ')}
        {total > shown.length ? ', …' : ''})
      </p>
      <ul>
        {shown.map((e, i) => (
          <li key={i}>
            {e.place ? e.place.replace(/^row /, 'Row ') : e.index === undefined ? `Line ${e.line}` : `Index ${e.index} (line ${e.line})`}: {e.message}
          </li>
        ))}
        {total > shown.length ? <li>and {total - shown.length} more</li> : null}
      </ul>
    </div>
  );
}
