import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom.js';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  /** CSS color of the line. */
  stroke: string;
  dash?: number[];
  width?: number;
  /** A constant line (request, limit). */
  flat?: boolean;
}

export interface ChartSpec {
  title: string;
  /** Seconds since epoch (uPlot's x unit). */
  times: number[];
  series: ChartSeries[];
  format(value: number): string;
  /** Tick steps of the value axis (e.g. binary steps for bytes); uPlot's decimal ones otherwise. */
  increments?: number[];
}

/** 1, 2, 4, ... 512 B, KiB, MiB, GiB, TiB: memory axes tick at round binary sizes. */
export const BINARY_INCREMENTS: number[] = [0, 1, 2, 3, 4].flatMap((power) =>
  [1, 2, 4, 8, 16, 32, 64, 128, 256, 512].map((n) => n * 1024 ** power),
);

/**
 * A time-series chart (uPlot on a canvas) in a figure whose caption and text summary say
 * what the canvas shows, for people who cannot see it. Resizes with its container.
 */
export function chart(spec: ChartSpec, signal: AbortSignal): HTMLElement {
  const plotHost = h('div', { class: 'plot', 'aria-hidden': 'true' });
  const points = spec.series[0]?.values.filter((v) => v !== null).length ?? 0;
  const figure = h(
    'figure',
    { class: 'chart', 'data-points': points },
    h('figcaption', {}, spec.title),
    plotHost,
    h('p', { class: 'sr-only' }, summary(spec)),
  );
  const width = () => Math.max(260, Math.floor(plotHost.clientWidth || 600));
  const options: uPlot.Options = {
    width: 600,
    height: 220,
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(max * 1.1, min + 1e-9, 1e-9)] } },
    axes: [
      { stroke: '#3b4252', grid: { stroke: '#e5e9f0' } },
      {
        stroke: '#3b4252',
        grid: { stroke: '#e5e9f0' },
        size: 84,
        ...(spec.increments ? { incrs: spec.increments } : {}),
        values: (_u, ticks) => ticks.map((t) => spec.format(t)),
      },
    ],
    series: [
      {},
      ...spec.series.map((s) => ({
        label: s.label,
        stroke: s.stroke,
        width: s.width ?? 1.5,
        ...(s.dash ? { dash: s.dash } : {}),
        value: (_u: uPlot, v: number | null) => (v === null ? '–' : spec.format(v)),
        spanGaps: false,
        // Dots only where they help: few samples, and never on the flat request and limit lines.
        points: { show: spec.times.length < 60 && !s.flat },
      })),
    ],
  };
  const data: uPlot.AlignedData = [spec.times, ...spec.series.map((s) => s.values)];
  // uPlot measures its host: create it once the figure is in the document.
  requestAnimationFrame(() => {
    if (signal.aborted || !plotHost.isConnected) return;
    const plot = new uPlot({ ...options, width: width() }, data, plotHost);
    const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: 220 }));
    observer.observe(figure);
    signal.addEventListener('abort', () => {
      observer.disconnect();
      plot.destroy();
    });
  });
  return figure;
}

function summary(spec: ChartSpec): string {
  const parts = spec.series.map((s) => {
    const values = s.values.filter((v): v is number => v !== null);
    if (values.length === 0) return `${s.label}: no data`;
    return `${s.label}: latest ${spec.format(values[values.length - 1]!)}, peak ${spec.format(Math.max(...values))}`;
  });
  return `${spec.times.length} points. ${parts.join('; ')}.`;
}
