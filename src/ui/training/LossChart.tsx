// Live training charts on canvas (uPlot): the loss (raw, smoothed, validation) and, below, the
// learning rate and gradient norm. They subscribe to runMetrics directly and redraw at most once
// per animation frame; React renders this component once.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { runMetrics } from '../../state/metrics';

const COLORS = { loss: '#7aa2f7', smooth: '#1a56db', val: '#e8590c', lr: '#2f9e44', grad: '#9c36b5' };

function lossOptions(width: number): uPlot.Options {
  return {
    width,
    height: 240,
    title: 'Loss',
    scales: { x: { time: false } },
    axes: [{ label: 'step' }, { label: 'loss' }],
    series: [
      { label: 'step' },
      { label: 'training loss', stroke: COLORS.loss, width: 1 },
      { label: 'smoothed', stroke: COLORS.smooth, width: 2 },
      { label: 'validation', stroke: COLORS.val, width: 2, spanGaps: true, points: { show: true, size: 6 } },
    ],
  };
}

function optOptions(width: number): uPlot.Options {
  return {
    width,
    height: 150,
    title: 'Learning rate and gradient norm',
    scales: { x: { time: false }, lr: {}, g: {} },
    axes: [{ label: 'step' }, { scale: 'lr', label: 'lr', size: 70, values: (_u, vals) => vals.map((v) => v.toExponential(0)) }, { scale: 'g', side: 1, label: 'grad norm', grid: { show: false } }],
    series: [
      { label: 'step' },
      { label: 'learning rate', stroke: COLORS.lr, scale: 'lr', width: 2 },
      { label: 'gradient norm', stroke: COLORS.grad, scale: 'g', width: 1, spanGaps: true },
    ],
  };
}

export function LossChart() {
  const lossRef = useRef<HTMLDivElement>(null);
  const optRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const lossEl = lossRef.current!;
    const optEl = optRef.current!;
    const width = (): number => Math.max(240, lossEl.clientWidth);
    const m = runMetrics;
    const lossData = (): uPlot.AlignedData => [m.steps, m.loss, m.smooth, m.val];
    const optData = (): uPlot.AlignedData => [m.steps, m.lr, m.gradNorm];
    const loss = new uPlot(lossOptions(width()), lossData(), lossEl);
    const opt = new uPlot(optOptions(width()), optData(), optEl);
    let frame = 0;
    const redraw = (): void => {
      frame = 0;
      loss.setData(lossData());
      opt.setData(optData());
    };
    const unsubscribe = m.subscribe(() => {
      frame ||= requestAnimationFrame(redraw);
    });
    const resize = new ResizeObserver(() => {
      loss.setSize({ width: width(), height: 240 });
      opt.setSize({ width: width(), height: 150 });
    });
    resize.observe(lossEl);
    return () => {
      unsubscribe();
      resize.disconnect();
      if (frame) cancelAnimationFrame(frame);
      loss.destroy();
      opt.destroy();
    };
  }, []);

  return (
    <figure className="charts" aria-label="Training charts">
      <div ref={lossRef} className="chart" />
      <div ref={optRef} className="chart" />
    </figure>
  );
}
