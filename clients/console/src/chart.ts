import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { el } from './dom.js';

export interface Series {
  label: string;
  points: { at: string; value: number | null }[];
}

const palette = ['#3b6fd8', '#d8553b', '#2f9e6a', '#9a5bd0', '#c99a1c', '#1ea2b8', '#d04f9c', '#6b7280'];

/** Charts on screen, resized with their box and destroyed when the page is replaced. */
const live = new Set<{ plot: uPlot; box: HTMLElement; observer: ResizeObserver }>();

export function destroyCharts(): void {
  for (const chart of live) {
    chart.observer.disconnect();
    chart.plot.destroy();
  }
  live.clear();
}

/** The series on one time axis: the union of their timestamps, gaps as null (drawn as breaks). */
function align(series: Series[]): uPlot.AlignedData {
  const times = [...new Set(series.flatMap((s) => s.points.map((p) => Date.parse(p.at) / 1000)))].sort(
    (a, b) => a - b,
  );
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = series.map((s) => {
    const column: (number | null)[] = new Array<number | null>(times.length).fill(null);
    for (const p of s.points) column[index.get(Date.parse(p.at) / 1000) ?? 0] = p.value;
    return column;
  });
  return [times, ...columns] as uPlot.AlignedData;
}

/**
 * A time-series line chart (uPlot) in a figure with its title; a note instead when there is nothing to
 * draw yet. `format` labels the y axis and the legend values.
 */
export function timeChart(title: string, series: Series[], format: (v: number) => string): HTMLElement {
  const figure = el(
    'figure',
    { className: 'chart', attrs: { 'aria-label': title } },
    el('figcaption', { text: title }),
  );
  const drawable = series.filter((s) => s.points.some((p) => p.value !== null));
  if (drawable.length === 0) {
    figure.append(
      el('p', { className: 'empty', text: 'No history yet: the worker snapshots once a minute.' }),
    );
    return figure;
  }
  const box = el('div', { className: 'plot' });
  figure.append(box);
  const options: uPlot.Options = {
    width: 600,
    height: 200,
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true } },
    axes: [
      { stroke: '#5b6376', grid: { stroke: '#eceef3' } },
      { stroke: '#5b6376', grid: { stroke: '#eceef3' }, size: 76, values: (_u, ticks) => ticks.map(format) },
    ],
    series: [
      {},
      ...drawable.map((s, i) => ({
        label: s.label,
        stroke: palette[i % palette.length] ?? '#333',
        width: 1.5,
        spanGaps: false,
        // A series with a point or two draws no visible line: show its points.
        points: { show: s.points.filter((p) => p.value !== null).length < 3 },
        value: (_u: uPlot, v: number | null) => (v === null ? '—' : format(v)),
      })),
    ],
  };
  // Drawn once the figure is in the document, at its box's width, and again whenever that changes.
  requestAnimationFrame(() => {
    if (!box.isConnected) return;
    const plot = new uPlot({ ...options, width: Math.max(240, box.clientWidth) }, align(drawable), box);
    const observer = new ResizeObserver(() => {
      const width = Math.max(240, box.clientWidth);
      if (Math.abs(width - plot.width) > 2) plot.setSize({ width, height: 200 });
    });
    observer.observe(box);
    live.add({ plot, box, observer });
  });
  return figure;
}

export interface Interval {
  label: string;
  value: number | null;
  low: number | null;
  high: number | null;
  note?: string;
}

/**
 * Point estimates with their intervals on one shared scale (a forest plot): each row a whisker from low
 * to high and a dot at the value. Used for CTR (Wilson) and IPS/SNIPS estimates per arm.
 */
export function intervalChart(title: string, rows: Interval[], format: (v: number) => string): HTMLElement {
  const figure = el(
    'figure',
    { className: 'chart intervals', attrs: { 'aria-label': title } },
    el('figcaption', { text: title }),
  );
  const known = rows.filter((r) => r.value !== null);
  if (known.length === 0) {
    figure.append(el('p', { className: 'empty', text: 'No impressions yet.' }));
    return figure;
  }
  const max = Math.max(...known.map((r) => r.high ?? r.value ?? 0), 1e-9);
  const at = (v: number) => `${(Math.max(0, Math.min(v, max)) / max) * 100}%`;
  for (const row of rows) {
    const track = el('span', { className: 'track' });
    if (row.value !== null) {
      const whisker = el('span', { className: 'whisker' });
      whisker.style.left = at(row.low ?? row.value);
      whisker.style.width = `calc(${at(row.high ?? row.value)} - ${at(row.low ?? row.value)})`;
      const dot = el('span', { className: 'dot' });
      dot.style.left = at(row.value);
      track.append(whisker, dot);
    }
    const text =
      row.value === null
        ? '—'
        : `${format(row.value)}${row.low !== null && row.high !== null ? ` (${format(row.low)}–${format(row.high)})` : ''}`;
    figure.append(
      el(
        'div',
        { className: 'interval-row' },
        el('span', { className: 'interval-label', text: row.label }),
        track,
        el('span', { className: 'interval-value', text: row.note ? `${text} · ${row.note}` : text }),
      ),
    );
  }
  return figure;
}
