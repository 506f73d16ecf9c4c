import type { DatasetSummary } from '../../worker/protocol';

const W = 560;
const H = 120;
const PAD = { left: 34, right: 8, top: 8, bottom: 22 };

/** Token lengths of the examples, binned; bins past Max length (cut when training) are marked. */
export function LengthHistogram({ histogram, maxLength }: { histogram: DatasetSummary['histogram']; maxLength: number }) {
  const { edges, counts } = histogram;
  if (counts.length === 0) return null;
  const top = Math.max(1, ...counts);
  const lo = edges[0];
  const hi = edges[edges.length - 1];
  const span = Math.max(1, hi - lo);
  const x = (v: number) => PAD.left + ((v - lo) / span) * (W - PAD.left - PAD.right);
  const y = (c: number) => H - PAD.bottom - (c / top) * (H - PAD.top - PAD.bottom);
  const cutX = maxLength > lo && maxLength < hi ? x(maxLength) : null;
  const over = counts.reduce((a, c, i) => (edges[i] >= maxLength ? a + c : a), 0);
  const label = `Token lengths of ${counts.reduce((a, b) => a + b, 0)} examples, from ${lo} to ${hi} tokens, in ${counts.length} bins${
    maxLength < hi ? `; Max length ${maxLength} is marked` : ''
  }.`;
  return (
    <figure className="length-histogram" data-testid="length-histogram">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} preserveAspectRatio="xMinYMin meet">
        <line x1={PAD.left} x2={W - PAD.right} y1={H - PAD.bottom} y2={H - PAD.bottom} className="axis" />
        {counts.map((c, i) => {
          const x0 = x(edges[i]);
          const x1 = x(edges[i + 1]);
          return (
            <rect key={i} x={x0 + 0.5} width={Math.max(1, x1 - x0 - 1)} y={y(c)} height={H - PAD.bottom - y(c)} className={edges[i + 1] > maxLength ? 'bar cut' : 'bar'}>
              <title>{`${edges[i]}–${edges[i + 1]} tokens: ${c} example${c === 1 ? '' : 's'}`}</title>
            </rect>
          );
        })}
        {cutX !== null ? (
          <g className="cut-line">
            <line x1={cutX} x2={cutX} y1={PAD.top} y2={H - PAD.bottom} />
            <text x={cutX + 3} y={PAD.top + 9}>
              Max length {maxLength}
            </text>
          </g>
        ) : null}
        <text x={PAD.left} y={H - 6} className="tick">
          {lo}
        </text>
        <text x={W - PAD.right} y={H - 6} className="tick" textAnchor="end">
          {hi} tokens
        </text>
        <text x={PAD.left - 4} y={PAD.top + 8} className="tick" textAnchor="end">
          {top}
        </text>
      </svg>
      <figcaption className="muted">
        Examples by token length{over > 0 ? ` · about ${over} over Max length (red)` : ''}.
      </figcaption>
    </figure>
  );
}
