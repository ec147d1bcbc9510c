import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import { disableGoneEndpoint } from '../store/issuers.ts';
import { recordAttempts } from '../store/outbox.ts';
import type { AttemptResult } from './attempt.ts';
import { decideOutcomes, type OutcomePolicy, type Outcomes } from './outcome.ts';

/** Result writes in flight at once (the store's relaxed pool holds 3 connections). */
const RECORD_WRITERS = 3;

export interface RecorderOptions {
  db: Db;
  /** Connections whose commits need not wait for the disk (OpenedStore.relaxed): a lost record only means a repeat. */
  relaxed: Db;
  log: Logger;
  policy: OutcomePolicy;
  /** Called once a write is done, with what it recorded (the dispatcher reopens claims and closes gone endpoints). */
  onRecorded: (outcomes: Outcomes) => void;
}

/**
 * Writes attempt results down. Results are recorded as soon as they arrive, beside the claiming (not
 * after it), in up to RECORD_WRITERS writes at once: every delivery answered but not yet written down
 * is sent again if the worker dies. Measured in the chaos test: a 5 ms batching timer here tripled the
 * duplicates of a killed hub, and one write at a time (results queueing behind the write in progress)
 * left a median 18 ms between the issuer's answer and its record. Results arriving while every writer
 * is busy go together in the next write, so under load one statement and one commit still record many.
 */
export class ResultRecorder {
  private results: AttemptResult[] = [];
  private readonly writes = new Set<Promise<void>>();

  constructor(private readonly o: RecorderOptions) {}

  add(result: AttemptResult): void {
    this.results.push(result);
    this.scheduleWrite();
  }

  /** Waits for the writes under way, then writes what is left. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.writes]);
    await this.writeNow();
  }

  private scheduleWrite(): void {
    if (this.writes.size >= RECORD_WRITERS || this.results.length === 0) return; // a finishing write takes them
    const write: Promise<void> = this.writeNow().finally(() => {
      this.writes.delete(write);
      this.scheduleWrite();
    });
    this.writes.add(write);
  }

  /** Writes the results gathered since the last write: attempts and outcomes in one statement, then any 410. */
  private async writeNow(): Promise<void> {
    if (this.results.length === 0) return;
    const results = this.results;
    this.results = [];
    const started = performance.now();
    try {
      const outcomes = decideOutcomes(results, this.o.policy);
      await recordAttempts(this.o.relaxed, outcomes.rows);
      this.logOutcomes(results, outcomes);
      // The endpoint is gone: no more sends to it until an operator PUTs the issuer again. Its
      // notifications stay pending, with a fresh retry schedule for when it comes back.
      for (const issuerId of outcomes.gone) {
        await disableGoneEndpoint(this.o.db, issuerId);
        this.o.log.warn({ issuerId }, 'issuer endpoint answered 410 Gone: disabled until the issuer is updated; notifications kept');
      }
      this.o.onRecorded(outcomes);
      const ms = Math.round(performance.now() - started);
      if (ms > 1000) this.o.log.warn({ ms, count: results.length }, 'recording delivery results was slow');
    } catch (err) {
      // Not recorded: the rows' leases run out and they are sent again (same webhook-id).
      this.o.log.error({ err, count: results.length }, 'recording delivery results failed');
    }
  }

  /**
   * One line per attempt recorded: delivered and retry at info, dead at warn (an operator must act). Flat
   * fields only, no answer body (it is the issuer's) and no secret: cheap at the delivery rates of
   * bench/deliver, which runs at info.
   */
  private logOutcomes(results: AttemptResult[], outcomes: Outcomes): void {
    // decideOutcomes writes one row per result, in the results' order.
    for (const [i, row] of outcomes.rows.entries()) {
      const line = {
        webhookId: row.id,
        issuerId: results[i].n.issuerId,
        status: row.http_status,
        attempt: row.attempt,
        latencyMs: row.latency_ms,
      };
      if (row.outcome === 'delivered') this.o.log.info(line, 'notification delivered');
      else if (row.outcome === 'retry') this.o.log.info({ ...line, reason: row.reason, nextAttemptAt: row.next_at }, 'notification retry scheduled');
      // notificationId: the name this line had before the webhook-id was added beside it.
      else this.o.log.warn({ ...line, notificationId: row.id, reason: row.reason }, 'notification dead after last attempt');
    }
  }
}
