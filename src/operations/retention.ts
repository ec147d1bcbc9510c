import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import type { Db } from '../store/db.ts';
import { type Cursor, pruneDeliveredAttemptsBatch, purgeFinishedBatch } from '../store/retention.ts';

const purged = new Counter({
  name: 'trackhub_retention_purged_total',
  help: 'Rows removed by retention, by kind (operations, notifications, attempts: those of purged notifications and delivered attempt logs past 30 days)',
  labelNames: ['kind'],
});
const lastRun = new Gauge({
  name: 'trackhub_retention_last_run_timestamp_seconds',
  help: 'When this instance last finished a retention run (0: never); a run another instance held is not counted',
});

export interface RetentionOptions {
  db: Db;
  log: Logger;
  /** Finished operations are kept this long after they finished (TRACKHUB_RETENTION, 400 days by default). */
  retentionMs: number;
  /** Attempt logs of delivered notifications are kept this long (30 days). */
  attemptRetentionMs?: number;
  /** Operations (or attempts) per transaction. */
  batchSize?: number;
  /**
   * The least pause between two batches (0: none, for tests). The pause is also at least four times the
   * batch's own time, so a purge takes at most a fifth of one connection's time, whatever the machine.
   */
  pauseMs?: number;
  /** Between two runs. */
  everyMs?: number;
  /** The hub's clock (the cutoffs). */
  now: () => number;
}

export interface RetentionRun {
  operations: number;
  notifications: number;
  attempts: number;
  batches: number;
}

const DAY_MS = 86_400_000;

/**
 * The worker's retention job: every hour, removes what is past retention in small batches (src/store/
 * retention.ts), pausing between them. Every worker runs it; a batch takes a transaction-scoped advisory
 * lock, so while one instance purges the others' runs find it held and leave the work to it.
 */
export class Retention {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;
  private wakePause?: () => void;

  constructor(private readonly o: RetentionOptions) {
    lastRun.set(0);
  }

  /** The first run a minute after start (not while the hub is busy starting), then every `everyMs`. */
  start(firstAfterMs = 60_000): void {
    this.stopped = false;
    this.schedule(firstAfterMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wakePause?.();
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .catch((err) => this.o.log.error({ err }, 'retention run failed'))
        .finally(() => this.schedule(this.o.everyMs ?? 3_600_000));
    }, ms);
    this.timer.unref();
  }

  /** One run to the end (or until stopped). Undefined when another instance was purging. */
  async runOnce(): Promise<RetentionRun | undefined> {
    const limit = this.o.batchSize ?? 1000;
    const now = this.o.now();
    const run: RetentionRun = { operations: 0, notifications: 0, attempts: 0, batches: 0 };
    const opsCutoff = new Date(now - this.o.retentionMs);
    let after: Cursor | null = null;
    for (;;) {
      if (this.stopped) return run;
      const started = performance.now();
      const b = await purgeFinishedBatch(this.o.db, opsCutoff, limit, after);
      const batchMs = performance.now() - started;
      if (!b) return run.batches === 0 ? undefined : run;
      run.batches++;
      run.operations += b.operations;
      run.notifications += b.notifications;
      run.attempts += b.attempts;
      purged.inc({ kind: 'operations' }, b.operations);
      purged.inc({ kind: 'notifications' }, b.notifications);
      purged.inc({ kind: 'attempts' }, b.attempts);
      // Fewer looked at than asked: nothing older is left. The cursor (time, id) moves on every batch.
      if (b.examined < limit || b.reached === null) break;
      after = b.reached;
      await this.pause(batchMs);
    }
    const attemptsCutoff = new Date(now - (this.o.attemptRetentionMs ?? 30 * DAY_MS));
    after = null;
    for (;;) {
      if (this.stopped) return run;
      const started = performance.now();
      const b = await pruneDeliveredAttemptsBatch(this.o.db, attemptsCutoff, limit, after);
      const batchMs = performance.now() - started;
      if (!b) break;
      run.batches++;
      run.attempts += b.attempts;
      purged.inc({ kind: 'attempts' }, b.attempts);
      if (b.examined < limit || b.reached === null) break;
      after = b.reached;
      await this.pause(batchMs);
    }
    lastRun.set(Math.floor(Date.now() / 1000));
    if (run.operations + run.attempts > 0) this.o.log.info(run, 'retention: rows past retention removed');
    return run;
  }

  /**
   * Between batches. Retention needs little speed (1,000,000 cards a day finish about 12 operations a
   * second) and must not slow the hot path: a purge running back to back cost track requests 14 % on the
   * 2-core box (bench/retention), so it now rests four times as long as it worked.
   */
  private pause(batchMs: number): Promise<void> {
    const least = this.o.pauseMs ?? 50;
    if (least <= 0 || this.stopped) return Promise.resolve();
    const ms = Math.max(least, 4 * batchMs);
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wakePause = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}
