import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, api } from './api.ts';

// Shared pieces of every view. Values from the hub are rendered as text by Preact (escaped), never as HTML.

/** `2026-12-06 07:31:02 UTC` — every time in the console is UTC; the reader's local time is on hover. */
export function utc(iso: string | Date): string {
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export function Time({ value }: { value: string | null | undefined }) {
  if (!value) return <span class="muted">—</span>;
  const d = new Date(value);
  const local = Number.isNaN(d.getTime()) ? value : `local time: ${d.toLocaleString()}`;
  return (
    <time dateTime={value} title={local}>
      {utc(value)}
    </time>
  );
}

/** 188 ms, 42 s, 3 min, 5.2 h, 3.1 d: a duration in the unit a reader takes in at a glance. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.abs(seconds);
  // Webhook latencies are mostly well under a second: "0 s" would hide them.
  if (s < 1) return `${Math.round(seconds * 1000)} ms`;
  if (s < 90) return `${Math.round(seconds)} s`;
  if (s < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (s < 48 * 3600) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

export function percent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—';
  return `${(ratio * 100).toFixed(ratio < 0.1 && ratio > 0 ? 2 : 1)} %`;
}

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString('en-US');
}

/** "1 shipment", "3 shipments", "1 key", "2 keys": a count with its noun agreeing (`many` for odd plurals). */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${count(n)} ${n === 1 ? word : many}`;
}

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload(): void;
}

/** GET `path` (null: nothing yet) and keep the answer; a new path aborts the old request. */
export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: path !== null });
  const [tick, setTick] = useState(0);

  useEffect(() => {
    if (path === null) return setState({ loading: false });
    const abort = new AbortController();
    setState((s) => ({ data: s.data, loading: true }));
    api<T>(path, { signal: abort.signal }).then(
      (data) => setState({ data, loading: false }),
      (error: unknown) => {
        if ((error as Error).name !== 'AbortError') setState({ error: error instanceof ApiError ? error : new ApiError(0, 'ERROR', String(error)), loading: false });
      },
    );
    return () => abort.abort();
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export function ErrorNote({ error }: { error: ApiError | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.status === 403 ? 'This admin token may not see this: ' : ''}
      {error.message}
      {error.status ? ` (${error.code})` : ''}
    </p>
  );
}

export function Loading({ when }: { when: boolean }) {
  return when ? (
    <p class="muted" aria-live="polite">
      Loading…
    </p>
  ) : null;
}

/** A view's frame: its title, what it is for, and its content. */
export function View({ title, intro, children, actions }: { title: string; intro?: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="view" aria-labelledby="view-title">
      <div class="view-head">
        <h2 id="view-title" tabIndex={-1}>
          {title}
        </h2>
        {actions}
      </div>
      {intro ? <p class="intro">{intro}</p> : null}
      {children}
    </section>
  );
}

/** A table that scrolls sideways on a phone instead of squeezing its columns; `num` lists the columns of figures (headed right-aligned, like their cells). */
export function Table({ head, children, caption, empty, num }: { head: ComponentChildren[]; children: ComponentChildren; caption?: string; empty?: boolean; num?: number[] }) {
  return (
    // A named region (a labelled section), focusable so a keyboard can scroll it sideways with the arrow keys.
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must take focus to be scrolled without a mouse (WCAG 2.1.1)
    <section class="table-wrap" tabIndex={0} aria-label={caption ?? 'Table'}>
      <table>
        {caption ? <caption>{caption}</caption> : null}
        <thead>
          <tr>
            {head.map((h, i) => (

              <th key={i} scope="col" class={num?.includes(i) ? 'num' : undefined}>
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {empty ? (
            <tr>
              <td colSpan={head.length} class="muted">
                Nothing here.
              </td>
            </tr>
          ) : (
            children
          )}
        </tbody>
      </table>
    </section>
  );
}

/** A figure at the top of a view: a label and its value, with a tone for what needs attention. */
export function Stat({ label, value, tone, hint }: { label: string; value: ComponentChildren; tone?: 'bad' | 'warn' | 'ok'; hint?: string }) {
  return (
    <div class={`stat ${tone ?? ''}`} title={hint}>
      <div class="stat-value">{value}</div>
      <div class="stat-label">{label}</div>
    </div>
  );
}

export function Badge({ children, tone }: { children: ComponentChildren; tone?: 'bad' | 'warn' | 'ok' | 'info' }) {
  return <span class={`badge ${tone ?? ''}`}>{children}</span>;
}
