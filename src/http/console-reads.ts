import type { FastifyReply } from 'fastify';
import { ApiError } from '../domain/errors.ts';
import type { Db } from '../store/db.ts';
import { cancelRead, isQueryCancelled, type ReadHandle, readWithTimeout } from '../store/read-timeout.ts';
import { adminActor } from './admin-auth.ts';

/**
 * Bounds on the console's reads (the Admin API's insights, search, card timeline, replay preview, site
 * silence), so that a `read` token cannot take the pool the Issuer and Site APIs need: every read runs on
 * the console's own connections (OpenedStore.console) under a statement timeout, at most `readsAtOnce` at
 * once (the size of that pool, so none queues inside it), at most `heavyAtOnce` window aggregates and one
 * per token, and a read whose client went away is cancelled in PostgreSQL through a connection kept for that.
 */
export interface ConsoleReadLimits {
  /** Console reads of any kind running at once on this instance (the console pool's connections). */
  readsAtOnce: number;
  /** Window aggregates (insights summary, sites, notifications, stuck) running at once on this instance. */
  heavyAtOnce: number;
  /** How long a read waits for its turn before it is answered 503 with Retry-After (busy). */
  waitMs: number;
  /** A read's statements are cancelled past this (503 with a long Retry-After, never a 500). */
  statementTimeoutMs: number;
}

export const CONSOLE_READ_LIMITS: ConsoleReadLimits = { readsAtOnce: 3, heavyAtOnce: 2, waitMs: 2_000, statementTimeoutMs: 5_000 };

/** The console's connections: `reads` for the reads, `cancels` (never busy with a read) for cancelling them. */
export interface ConsoleDb {
  reads: Db;
  cancels: Db;
}

/** Busy: the console (console/src/api.ts) asks again after this, as it does for a Retry-After up to 10 s. */
export const BUSY_RETRY_AFTER_S = 2;
/** A read that ran into the statement timeout: past the console's 10 s, so it is not asked again as it was. */
export const TIMED_OUT_RETRY_AFTER_S = 30;

/**
 * A counting semaphore whose waiters give up after a while (and when their client leaves). With a key
 * (the admin token's name), one key holds at most one slot, so one operator's reads cannot keep another out.
 */
class Slots {
  private readonly held: (string | undefined)[] = [];
  private readonly waiters: { key?: string; give: () => void }[] = [];
  constructor(private readonly size: number) {}

  private free(key?: string): boolean {
    return this.held.length < this.size && (key === undefined || !this.held.includes(key));
  }

  /** True once a slot is held; false when none freed within `waitMs`, or `gone` fired (or had fired) first. */
  take(waitMs: number, gone: AbortSignal, key?: string): Promise<boolean> {
    if (gone.aborted) return Promise.resolve(false);
    if (this.free(key)) {
      this.held.push(key);
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const waiter = {
        key,
        give: () => {
          clearTimeout(timer);
          gone.removeEventListener('abort', quit);
          this.held.push(key);
          resolve(true);
        },
      };
      const quit = () => {
        clearTimeout(timer);
        gone.removeEventListener('abort', quit);
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      };
      const timer = setTimeout(quit, Math.max(0, waitMs));
      gone.addEventListener('abort', quit);
      this.waiters.push(waiter);
    });
  }

  release(key?: string): void {
    const i = this.held.indexOf(key);
    if (i >= 0) this.held.splice(i, 1);
    // The first waiters that may hold a slot now get it (a waiter whose token holds one waits on).
    for (let w = 0; w < this.waiters.length && this.held.length < this.size; ) {
      const next = this.waiters[w];
      if (!this.free(next.key)) {
        w++;
        continue;
      }
      this.waiters.splice(w, 1);
      next.give();
    }
  }
}

export class ConsoleReads {
  private readonly all: Slots;
  private readonly heavy: Slots;
  readonly limits: ConsoleReadLimits;

  constructor(
    private readonly db: ConsoleDb,
    limits: Partial<ConsoleReadLimits> = {},
  ) {
    this.limits = { ...CONSOLE_READ_LIMITS, ...limits };
    this.all = new Slots(this.limits.readsAtOnce);
    this.heavy = new Slots(this.limits.heavyAtOnce);
  }

  /** A light read (one card, one issuer, a page): as heavyRead but for the window aggregates' own cap. */
  read<T>(reply: FastifyReply, read: (db: Db) => Promise<T>): Promise<T> {
    return this.guarded(reply, false, read);
  }

  /** A window aggregate: at most heavyAtOnce at once and one per token; the others wait waitMs, then 503. */
  heavyRead<T>(reply: FastifyReply, read: (db: Db) => Promise<T>): Promise<T> {
    return this.guarded(reply, true, read);
  }

  private async guarded<T>(reply: FastifyReply, heavy: boolean, read: (db: Db) => Promise<T>): Promise<T> {
    const gone = clientGone(reply);
    const deadline = Date.now() + this.limits.waitMs;
    // The bootstrap token (TRACKHUB_ADMIN_TOKEN) is one token, as each named one is.
    const token = adminActor(reply.request)?.name ?? '';
    let heldHeavy = false;
    let heldRead = false;
    try {
      // Always the heavy slot first, then a connection's: one order, so two waiters never hold one each and wait for the other.
      if (heavy) {
        heldHeavy = await this.heavy.take(this.limits.waitMs, gone.signal, token);
        if (!heldHeavy) throw refused(gone.signal);
      }
      heldRead = await this.all.take(deadline - Date.now(), gone.signal);
      if (!heldRead) throw refused(gone.signal);
      return await this.run(gone.signal, read);
    } finally {
      if (heldRead) this.all.release();
      if (heldHeavy) this.heavy.release(token);
      gone.stop();
    }
  }

  private async run<T>(gone: AbortSignal, read: (db: Db) => Promise<T>): Promise<T> {
    // The client may have left while the read waited (or during auth): nothing is started for nobody.
    if (gone.aborted) throw clientLeft();
    let handle: ReadHandle | undefined;
    let running = true;
    const cancel = () => {
      // The client left mid-read: stop the statement rather than let it hold a connection for nobody.
      if (running && handle) cancelRead(this.db.cancels, handle).catch(() => {});
    };
    gone.addEventListener('abort', cancel);
    try {
      return await readWithTimeout(this.db.reads, this.limits.statementTimeoutMs, read, (h) => {
        handle = h;
        if (gone.aborted) cancel();
      });
    } catch (err) {
      if (gone.aborted) throw clientLeft();
      if (isQueryCancelled(err)) {
        throw new ApiError('SERVICE_UNAVAILABLE', `the read took over ${this.limits.statementTimeoutMs / 1000} s and was stopped; ask for a shorter window`, {
          'retry-after': String(TIMED_OUT_RETRY_AFTER_S),
        });
      }
      // The console pool had no connection free in time (its own bound, beside the slots').
      if (/timeout exceeded when trying to connect/.test((err as Error).message ?? '')) throw busy();
      throw err;
    } finally {
      running = false;
      gone.removeEventListener('abort', cancel);
    }
  }
}

function busy(): ApiError {
  return new ApiError('SERVICE_UNAVAILABLE', 'other console reads are running on this instance; retry shortly', { 'retry-after': String(BUSY_RETRY_AFTER_S) });
}

/** Answered to nobody (the connection is closed), but it must not look like the hub's failure in its logs. */
function clientLeft(): ApiError {
  return new ApiError('SERVICE_UNAVAILABLE', 'the client went away before the read finished', { 'retry-after': String(BUSY_RETRY_AFTER_S) });
}

function refused(gone: AbortSignal): ApiError {
  return gone.aborted ? clientLeft() : busy();
}

/** Aborts when the response's connection closes before the answer is sent (the client went away), or had already closed. */
function clientGone(reply: FastifyReply): { signal: AbortSignal; stop: () => void } {
  const ctl = new AbortController();
  const res = reply.raw;
  const onClose = () => {
    if (!res.writableFinished) ctl.abort();
  };
  res.on('close', onClose);
  // A close before this handler ran (during auth, or the body's read) fired already: look at the socket now
  // (not at the request stream, which is destroyed once its body is read, the client still there).
  const socket = reply.request.raw.socket as { destroyed?: boolean } | null | undefined;
  if (res.destroyed || socket?.destroyed === true) ctl.abort();
  return { signal: ctl.signal, stop: () => res.off('close', onClose) };
}
