// A preference run's metrics (TRL's names: rewards/*, log_odds_ratio, nll_loss) beside the loss:
// one canvas chart (uPlot) of each metric per step with its validation values as points, and the
// latest values as text. Subscribes to runMetrics as LossChart does; keyed by the run's method.
import { useEffect, useReducer, useRef } from 'react';
import uPlot from 'uplot';
import type { Method } from '../../engine/train/types';
import { CHART_METRICS, runMetrics } from '../../state/metrics';

const PALETTE = ['#2f9e44', '#e03131', '#1a56db', '#9c36b5', '#e8590c', '#0c8599'];

function options(width: number, names: readonly string[]): uPlot.Options {
  return {
    width,
    height: 200,
    title: 'Preference metrics',
    scales: { x: { time: false } },
    axes: [{ label: 'step' }, {}],
    series: [
      { label: 'step' },
      ...names.map((n, i) => ({ label: n, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true })),
      ...names.map((n, i) => ({ label: `validation ${n}`, stroke: PALETTE[i % PALETTE.length], width: 0, spanGaps: true, points: { show: true, size: 7 } })),
    ],
  };
}

const shown = (v: number | null): string => (v === null ? '–' : v.toFixed(4));

export function PreferenceChart({ method }: { method: Method }) {
  const ref = useRef<HTMLDivElement>(null);
  const names = CHART_METRICS[method];
  // The text of the latest values re-renders at most once per frame, as the chart redraws.
  const [, rerender] = useReducer((n: number) => n + 1, 0);

  useEffect(() => {
    const el = ref.current!;
    const m = runMetrics;
    const width = (): number => Math.max(240, el.clientWidth);
    const data = (): uPlot.AlignedData => [
      m.steps,
      ...names.map((n) => m.metrics.get(n) ?? m.steps.map(() => null)),
      ...names.map((n) => m.valMetrics.get(n) ?? m.steps.map(() => null)),
    ];
    const chart = new uPlot(options(width(), names), data(), el);
    let frame = 0;
    const redraw = (): void => {
      frame = 0;
      chart.setData(data());
      rerender();
    };
    const unsubscribe = m.subscribe(() => {
      frame ||= requestAnimationFrame(redraw);
    });
    const resize = new ResizeObserver(() => chart.setSize({ width: width(), height: 200 }));
    resize.observe(el);
    return () => {
      unsubscribe();
      resize.disconnect();
      if (frame) cancelAnimationFrame(frame);
      chart.destroy();
    };
  }, [names]);

  return (
    <div className="preference-metrics">
      <div ref={ref} className="chart" />
      <table className="facts" data-testid="preference-metrics" aria-label="Preference metrics">
        <thead>
          <tr>
            <th>metric</th>
            <th>last step</th>
            <th>validation</th>
          </tr>
        </thead>
        <tbody>
          {names.map((n) => (
            <tr key={n}>
              <td>{n}</td>
              <td>{shown(runMetrics.latest(n))}</td>
              <td>{shown(runMetrics.latest(n, true))}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
