import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { count, Table, Time } from './ui.tsx';

// Time-series charts drawn by uPlot on a canvas (small, fast with thousands of points, no dependencies).
// Axes in UTC, like every time in the console. Each chart also carries its series as a data attribute
// and a legend, and lists its figures as a table under a disclosure, so its content can be read without
// seeing the canvas. Bars are stacked (every series stays visible) and centred in their hour; the x axis
// spans the whole window, from its first hour's start to its last hour's end.

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

const HALF_HOUR = 1800;

/** Each series' values added to those of the series before it: the tops of a stack, bottom series first. */
function stacked(series: Series[]): (number | null)[][] {
  const sums: number[] = [];
  return series.map((s) => s.values.map((v, i) => (sums[i] = (sums[i] ?? 0) + (v ?? 0))));
}

export function TimeChart({ title, times, series, bars, height = 220 }: { title: string; times: string[]; series: Series[]; bars?: boolean; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const hourStarts = times.map((t) => Math.floor(new Date(t).getTime() / 1000));
    // A bar stands in the middle of its hour, so the first and the current hour's bars are whole.
    const xs = bars ? hourStarts.map((x) => x + HALF_HOUR) : hourStarts;
    const paths = bars ? uPlot.paths.bars?.({ size: [0.8, 40] }) : undefined;
    // Stacked, the top of the stack is drawn first and each lower series over it: every series shows.
    const tops = bars ? stacked(series) : series.map((s) => s.values);
    const order = series.map((_s, i) => (bars ? series.length - 1 - i : i));
    const first = hourStarts[0];
    const last = hourStarts[hourStarts.length - 1];
    const opts: uPlot.Options = {
      title,
      width: Math.max(280, el.clientWidth),
      height,
      tzDate: toUtc,
      // The whole window: from the first hour's start to the last hour's end (the "to" the view states).
      scales: { x: { time: true, range: (_u, min, max) => (first === undefined || last === undefined ? [min, max] : [first, last + 2 * HALF_HOUR]) } },
      axes: [{ values: (_u, splits) => splits.map(utcTick) }, { size: 50 }],
      series: [
        { label: 'hour (UTC)', value: (_u, v) => (v == null ? '—' : `${new Date((v - (bars ? HALF_HOUR : 0)) * 1000).toISOString().slice(0, 13).replace('T', ' ')}:00 UTC`) },
        ...order.map((i) => ({
          label: series[i]?.label,
          stroke: seriesColour(i),
          fill: bars ? `${seriesColour(i)}cc` : undefined,
          width: bars ? 1 : 2,
          paths,
          points: { show: !bars && xs.length < 60 },
          // The legend reads the series' own figure, not the top of its stack.
          value: (_u: uPlot, _v: number | null, _si: number, idx: number | null) => (idx === null ? '—' : count(series[i]?.values[idx] ?? 0)),
        })),
      ],
    };
    const chart = new uPlot(opts, [xs, ...order.map((i) => tops[i] as (number | null)[])] as uPlot.AlignedData, el);
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
      <FiguresTable title={title} times={times} series={series} />
    </figure>
  );
}

/** The chart's figures for keyboards and screen readers: each hour with something in it, a column per series. */
function FiguresTable({ title, times, series }: { title: string; times: string[]; series: Series[] }) {
  const hours = times.map((t, i) => ({ t, i })).filter(({ i }) => series.some((s) => (s.values[i] ?? 0) !== 0));
  return (
    <details class="chart-figures">
      <summary>Figures as a table</summary>
      {hours.length === 0 ? (
        <p class="muted">Nothing in this window.</p>
      ) : (
        <Table caption={title} head={['Hour (UTC)', ...series.map((s) => s.label)]} num={series.map((_s, i) => i + 1)}>
          {hours.map(({ t, i }) => (
            <tr key={t}>
              <td>
                <Time value={t} />
              </td>
              {series.map((s) => (
                <td key={s.label} class="num">
                  {count(s.values[i] ?? 0)}
                </td>
              ))}
            </tr>
          ))}
        </Table>
      )}
    </details>
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
