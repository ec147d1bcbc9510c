import type { Logger } from 'pino';
import { flushPushes, flushUnknownCodes, type PushDelta } from '../store/carrier-view.ts';
import type { Db } from '../store/db.ts';
import { isProviderName } from './provider.ts';
import { restoreUnknownCodes, takeUnknownCodes } from './unknown.ts';

/**
 * The carrier figures a process gathers in memory and adds to the store every few seconds, for the
 * operators' view (GET /admin/v1/carriers): unknown status codes (unknown.ts) and accepted pushes. Pushes
 * are tallied rather than written one by one: each would otherwise update its provider's one row of
 * carrier_rate_limits, which every concurrent push (and the poller's budget takes) would queue behind.
 */

/** Per provider (a name of PROVIDER_NAMES, so at most six entries): pushes accepted since the last flush. */
const pushes = new Map<string, PushDelta>();

/** Adds pushes to a provider's tally: counted in pushes_total, the newest time in last_push_at. */
function addPushes(provider: string, count: number, lastAt: Date): void {
  const entry = pushes.get(provider);
  if (!entry) pushes.set(provider, { provider, count, lastAt });
  else {
    entry.count += count;
    if (lastAt > entry.lastAt) entry.lastAt = lastAt;
  }
}

/** A push verified and read (whatever it matched). */
export function notePush(provider: string, at: Date): void {
  if (isProviderName(provider)) addPushes(provider, 1, at);
}

function takePushes(): PushDelta[] {
  const out = [...pushes.values()];
  pushes.clear();
  return out;
}

/** A write that failed: its tallies go back, to be added to the next one. */
function restorePushes(deltas: PushDelta[]): void {
  for (const d of deltas) addPushes(d.provider, d.count, d.lastAt);
}

/** How often a process adds what it gathered: the view lags by at most this much. */
export const FIGURES_FLUSH_MS = 5_000;

/**
 * Writes the gathered figures every FIGURES_FLUSH_MS and once more at stop, in every role: pushes arrive in
 * the API process, polls (and their unknown codes) in the worker. A write that fails puts its figures back
 * for the next one, so a store outage delays them but loses none.
 */
export class CarrierFigureFlusher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly now: () => Date,
    private readonly intervalMs = FIGURES_FLUSH_MS,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    // A hub whose other work is done must not be kept alive by this timer alone.
    this.timer.unref();
  }

  /** One write of what was gathered; flushes never overlap (a slow store must not interleave them). */
  flush(): Promise<void> {
    this.running = this.running.then(() => this.flushOnce());
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async flushOnce(): Promise<void> {
    const codes = takeUnknownCodes();
    try {
      const { dropped } = await flushUnknownCodes(this.db, codes);
      if (dropped > 0) this.log.warn({ dropped }, 'carrier_unknown_codes is full: unknown status codes not recorded (they stay counted in /metrics)');
    } catch (err) {
      restoreUnknownCodes(codes);
      this.log.warn({ err }, 'unknown carrier status codes not written to the store; kept for the next try');
    }
    const pushed = takePushes();
    try {
      await flushPushes(this.db, pushed, this.now());
    } catch (err) {
      restorePushes(pushed);
      this.log.warn({ err }, 'carrier push figures not written to the store; kept for the next try');
    }
  }
}
