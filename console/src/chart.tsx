import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

// Time-series charts drawn by uPlot on a canvas (small, fast with thousands of points, no dependencies).
// Axes in UTC, like every time in the console. Each chart also carries its series as a data attribute
// and a legend, so its content can be read without seeing the canvas.

const COLOURS = ['#2563eb', '#16a34a', '#dc2626', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563', '#65a30d', '#9333ea'];

export interface Series {
  label: string;
  values: (number | null)[];
}

export function seriesColour(i: number): string {
  return COLOURS[i % COLOURS.length] as string;
}

/** UTC tick labels: uPlot's formatter in the UTC zone (tzDate shifts each date to read as UTC). */
const toUtc = (ts: number) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC');

/** `06 Dec` at midnight, `14:00` otherwise: 24-hour UTC ticks whatever the reader's locale. */
function utcTick(ts: number): string {
  const iso = new Date(ts * 1000).toISOString();
  const hhmm = iso.slice(11, 16);
  if (hhmm !== '00:00') return hhmm;
  return new Date(ts * 1000).toLocaleDateString('en-GB', { day: '2-digit', month: 'short', timeZone: 'UTC' });
}

export function TimeChart({ title, times, series, bars, height = 220 }: { title: string; times: string[]; series: Series[]; bars?: boolean; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const xs = times.map((t) => Math.floor(new Date(t).getTime() / 1000));
    const paths = bars ? uPlot.paths.bars?.({ size: [0.8, 40] }) : undefined;
    const opts: uPlot.Options = {
      title,
      width: Math.max(280, el.clientWidth),
      height,
      tzDate: toUtc,
      scales: { x: { time: true } },
      axes: [{ values: (_u, splits) => splits.map(utcTick) }, { size: 50 }],
      series: [
        { label: 'hour (UTC)', value: (_u, v) => (v == null ? '—' : `${new Date(v * 1000).toISOString().slice(0, 13).replace('T', ' ')}:00 UTC`) },
        ...series.map((s, i) => ({ label: s.label, stroke: seriesColour(i), fill: bars ? `${seriesColour(i)}55` : undefined, width: 2, paths, points: { show: xs.length < 60 } })),
      ],
    };
    const chart = new uPlot(opts, [xs, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(280, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, [title, times, series, bars, height]);
  return (
    <figure class="chart" aria-label={title} data-series={series.map((s) => s.label).join('|')}>
      <div ref={box} />
      {times.length === 0 ? <figcaption class="muted">No data in this window.</figcaption> : null}
    </figure>
  );
}

/** Horizontal bars (a funnel, a per-carrier comparison): plain elements, readable and accessible. */
export function Bars({ title, rows, format }: { title: string; rows: { label: string; value: number; tone?: 'bad' | 'warn' }[]; format?: (n: number) => string }) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  return (
    <figure class="bars" aria-label={title}>
      <figcaption>{title}</figcaption>
      <dl>
        {rows.map((r) => (
          <div class={`bar-row ${r.tone ?? ''}`} key={r.label}>
            <dt>{r.label}</dt>
            <dd>
              <span class="bar" style={{ width: `${(100 * r.value) / max}%` }} />
              <span class="bar-value">{format ? format(r.value) : r.value.toLocaleString('en-US')}</span>
            </dd>
          </div>
        ))}
      </dl>
    </figure>
  );
}
