import type { FastifyReply } from 'fastify';
import { ApiError } from '../domain/errors.ts';
import type { Db } from '../store/db.ts';
import { cancelRead, isQueryCancelled, type ReadHandle, readWithTimeout } from '../store/read-timeout.ts';

/**
 * Bounds on the console's reads (the Admin API's insights, search, card timeline, replay preview), so that a
 * `read` token cannot take the pool the Issuer and Site APIs need: every read runs under a statement
 * timeout, at most `heavyAtOnce` window aggregates run at once per instance, and a read whose client went
 * away is cancelled in PostgreSQL rather than left to finish for nobody.
 */
export interface ConsoleReadLimits {
  /** Window aggregates (insights summary, sites, notifications) running at once on this instance. */
  heavyAtOnce: number;
  /** How long a heavy read waits for its turn before it is answered 503 with Retry-After. */
  waitMs: number;
  /** A read's statements are cancelled past this (503 with Retry-After, never a 500). */
  statementTimeoutMs: number;
}

export const CONSOLE_READ_LIMITS: ConsoleReadLimits = { heavyAtOnce: 2, waitMs: 2_000, statementTimeoutMs: 5_000 };

/** Seconds a refused console read is told to wait. */
const RETRY_AFTER_S = 5;

/** A counting semaphore whose waiters give up after a while (and when their client leaves). */
class Slots {
  private used = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(private readonly size: number) {}

  /** True once a slot is held; false when none freed within `waitMs` or `gone` fired first. */
  take(waitMs: number, gone: AbortSignal): Promise<boolean> {
    if (this.used < this.size) {
      this.used++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const give = () => {
        clearTimeout(timer);
        gone.removeEventListener('abort', quit);
        resolve(true);
      };
      const quit = () => {
        clearTimeout(timer);
        gone.removeEventListener('abort', quit);
        const i = this.waiters.indexOf(give);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      };
      const timer = setTimeout(quit, waitMs);
      gone.addEventListener('abort', quit);
      this.waiters.push(give);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    // The slot passes straight to the next waiter: `used` stays as it is.
    if (next) next();
    else this.used--;
  }
}

export class ConsoleReads {
  private readonly heavy: Slots;
  readonly limits: ConsoleReadLimits;

  constructor(
    private readonly db: Db,
    limits: Partial<ConsoleReadLimits> = {},
  ) {
    this.limits = { ...CONSOLE_READ_LIMITS, ...limits };
    this.heavy = new Slots(this.limits.heavyAtOnce);
  }

  /** A light read (one card, one issuer, a page): under the statement timeout, cancelled when the client leaves. */
  read<T>(reply: FastifyReply, read: (db: Db) => Promise<T>): Promise<T> {
    return this.run(reply, read);
  }

  /** A window aggregate: as read, and at most heavyAtOnce at once; the others wait waitMs, then 503. */
  async heavyRead<T>(reply: FastifyReply, read: (db: Db) => Promise<T>): Promise<T> {
    const gone = clientGone(reply);
    if (!(await this.heavy.take(this.limits.waitMs, gone.signal))) {
      gone.stop();
      throw busy('other console reads are running on this instance; retry shortly');
    }
    try {
      return await this.run(reply, read);
    } finally {
      gone.stop();
      this.heavy.release();
    }
  }

  private async run<T>(reply: FastifyReply, read: (db: Db) => Promise<T>): Promise<T> {
    let handle: ReadHandle | undefined;
    let running = true;
    const gone = clientGone(reply);
    const cancel = () => {
      // The client left mid-read: stop the statement rather than let it hold a connection for nobody.
      if (running && handle) cancelRead(this.db, handle).catch(() => {});
    };
    gone.signal.addEventListener('abort', cancel);
    try {
      return await readWithTimeout(this.db, this.limits.statementTimeoutMs, read, (h) => {
        handle = h;
        if (gone.signal.aborted) cancel();
      });
    } catch (err) {
      if (isQueryCancelled(err)) throw busy(`the read took over ${this.limits.statementTimeoutMs / 1000} s and was stopped; retry later or ask for a shorter window`);
      throw err;
    } finally {
      running = false;
      gone.signal.removeEventListener('abort', cancel);
      gone.stop();
    }
  }
}

function busy(message: string): ApiError {
  return new ApiError('SERVICE_UNAVAILABLE', message, { 'retry-after': String(RETRY_AFTER_S) });
}

/** Aborts when the response's connection closes before the answer is sent (the client went away). */
function clientGone(reply: FastifyReply): { signal: AbortSignal; stop: () => void } {
  const ctl = new AbortController();
  const res = reply.raw;
  const onClose = () => {
    if (!res.writableFinished) ctl.abort();
  };
  res.on('close', onClose);
  return { signal: ctl.signal, stop: () => res.off('close', onClose) };
}
