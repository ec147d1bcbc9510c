/**
 * The figures a benchmark reports, in one shape, so `npm run bench` (bench/all.ts) can gather every
 * script's figures into one table. A script calls `report()` with its figures once it has measured them:
 * they are printed, and when BENCH_REPORT names a file (bench/all.ts sets it) appended to it as JSON lines.
 *
 * Each figure carries the baseline it is compared with, measured in the same run (these machines are
 * noisy: a figure alone says little), and the target with whether it was met.
 */
import { appendFileSync } from 'node:fs';

export interface Figure {
  /** What was measured, e.g. 'track requests accepted/s, embedded, 64 connections'. */
  measure: string;
  value: number;
  /** '/s', 'ms', '%', 'MB'… */
  unit: string;
  /** The same run's baseline: what the figure is compared with. */
  baseline?: { measure: string; value: number; unit: string };
  /** value / baseline.value, or as the script defines it (say so in `measure`). */
  ratio?: number;
  /** The target in words, e.g. '≥ 10,000/s and ≥ 0.35× baseline'. */
  target?: string;
  met?: boolean;
}

/** Prints the figures and hands them to bench/all.ts when it runs this script. */
export function report(script: string, figures: Figure[]): void {
  for (const f of figures) {
    const base = f.baseline ? `  | baseline ${f.baseline.measure}: ${fmt(f.baseline.value)} ${f.baseline.unit}` : '';
    const ratio = f.ratio === undefined ? '' : `  ratio ×${f.ratio.toFixed(2)}`;
    const target = f.target ? `  target ${f.target}: ${f.met ? 'met' : 'NOT met'}` : '';
    console.log(`${f.measure}: ${fmt(f.value)} ${f.unit}${base}${ratio}${target}`);
  }
  const file = process.env.BENCH_REPORT;
  if (file) appendFileSync(file, figures.map((f) => `${JSON.stringify({ script, ...f })}\n`).join(''), { mode: 0o600 });
}

/** 12345.6 → '12,346'; 3.456 → '3.46'. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return Number(n.toPrecision(3)).toString();
}
