import { setMaxListeners } from 'node:events';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import { type ClaimedOutboxRow, type ClaimWant, claimDueNotifications, listenForOutbox } from '../store/outbox.ts';
import { attemptDelivery, type Claimed } from './attempt.ts';
import { formNotifications } from './batching.ts';
import { GoneEndpoints } from './gone-endpoints.ts';
import { type Outcomes, throttleSignal } from './outcome.ts';
import { ResultRecorder } from './recorder.ts';
import { type IssuerTarget, loadTargets } from './targets.ts';

export interface DispatcherOptions {
  db: Db;
  /** Connections for claims and records, whose commits need not wait for the disk (OpenedStore.relaxed); else db. */
  relaxedDb?: Db;
  log: Logger;
  retryScheduleMs: number[];
  leaseMs: number;
  /** Most notifications claimed in one round trip to the store. */
  batchSize?: number;
  /** Notifications in flight at once from this process, all issuers together. */
  concurrency?: number;
  /** Notifications in flight at once to one issuer's endpoint (before any slow-down). */
  perIssuerConcurrency?: number;
  /** The whole attempt (connect, send, response) must finish within this; 15 s by the contract. */
  timeoutMs?: number;
  idleWaitMs?: number;
  /** How often the issuers' delivery settings are re-read (a PUT shows within this). */
  issuerRefreshMs?: number;
  /** Off by default: notification URLs on loopback or private networks are refused at connect time. */
  allowPrivateTargets?: boolean;
  /** A postgres:// URL to LISTEN on, so commits made by other processes wake this one at once. */
  listenUrl?: string;
  random?: () => number;
  /**
   * The wall clock (Date.now by default) for the times the dispatcher writes down or compares with
   * written ones: attempted_at, next_attempt_at of a retry, a Retry-After date, the
   * age of a 410. Injected so tests can check these exactly. The loop's own pacing (idle ticks, issuer
   * refresh, latency) stays on real timers and the monotonic clock: a frozen clock must not stall it.
   */
  now?: () => number;
}

/**
 * Sends outbox rows to issuers as a continuous pipeline: while some notifications are in flight the
 * dispatcher keeps claiming more for the issuers that have room, so one slow endpoint only ever holds
 * its own slots. Rows are claimed with a lease (`FOR UPDATE SKIP LOCKED`), so any number of dispatchers
 * share one outbox without a coordinator; one that dies only delays its rows until the lease ends.
 * This class is the pump: it owns the slots, the wake-ups, the claims and each issuer's endpoint state.
 * The parts it drives: formNotifications (batching.ts) groups claimed rows, attemptDelivery (attempt.ts)
 * makes the HTTP call, and the ResultRecorder (recorder.ts) decides each outcome (outcome.ts) and writes
 * it down (src/store/outbox.ts).
 */
export class Dispatcher {
  private targets = new Map<string, IssuerTarget>();
  private targetsLoadedAt = Number.NEGATIVE_INFINITY;
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private woken = false;
  /** False once a claim found less than it asked for: a finished send then need not trigger a claim. */
  private moreDue = true;
  /** When a claim last found fewer rows than it asked of an issuer: it has nothing due until a kick or a tick. */
  private readonly drainedAt = new Map<string, number>();
  private kickedAt = 0;
  private inFlight = 0;
  private readonly sends = new Set<Promise<void>>();
  private readonly recorder: ResultRecorder;
  /** Endpoints that answered 410, until the store's record of it can be trusted. */
  private readonly gone: GoneEndpoints;
  /** When each issuer with unreadable secrets was last logged (keyed by stored issuers only). */
  private readonly unreadableSaidAt = new Map<string, number>();
  private readonly shutdown = new AbortController();
  private listener?: () => pg.Client | undefined;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly leaseMs: number;

  private readonly relaxed: Db;
  private readonly now: () => number;

  constructor(private readonly o: DispatcherOptions) {
    // Every send in flight listens for shutdown (attempt.ts): hundreds at once are expected, not a leak.
    setMaxListeners(0, this.shutdown.signal);
    this.relaxed = o.relaxedDb ?? o.db;
    this.now = o.now ?? (() => Date.now());
    this.gone = new GoneEndpoints(this.now);
    this.timeoutMs = o.timeoutMs ?? 15_000;
    // A row must never be claimed again while its attempt may still be running: that would send it twice.
    this.leaseMs = Math.max(o.leaseMs, Math.ceil(this.timeoutMs * 1.5));
    this.concurrency = o.concurrency ?? 512;
    this.batchSize = o.batchSize ?? 200;
    this.recorder = new ResultRecorder({
      db: o.db,
      relaxed: this.relaxed,
      log: o.log,
      policy: { retryScheduleMs: o.retryScheduleMs, random: o.random, now: this.now },
      onRecorded: (outcomes) => this.afterRecorded(outcomes),
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.pump();
    // PostgreSQL only: commits made by API instances elsewhere wake this worker through NOTIFY.
    if (this.o.listenUrl) this.listener = listenForOutbox(this.o.listenUrl, () => this.kick(), () => this.running).current;
  }

  /**
   * Stops claiming, then gives the sends already under way up to `drainMs` to end by themselves (each
   * ends by its own timeout anyway), recording each result as it comes. A graceful stop (SIGTERM, a
   * rolling restart) then sends nothing twice: a send cut short may have been processed by the issuer
   * without the hub hearing the answer, and would go out again under the same webhook-id once its lease
   * ran out (test/delivery.rolling.test.ts: 5 to 46 repeats of 2,000 notifications over two SIGTERMs
   * when every send was cut at once). `drainMs` 0, the default, cuts them at once (an in-process
   * dispatcher a test or a tool stops).
   */
  async stop(opts: { drainMs?: number } = {}): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
    const drainMs = opts.drainMs ?? 0;
    if (drainMs > 0 && this.sends.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, drainMs);
      });
      await Promise.race([Promise.allSettled([...this.sends]), deadline]);
      clearTimeout(timer);
    }
    // Sends still running are cut short and not recorded: their lease runs out and another worker sends them.
    this.shutdown.abort();
    await Promise.allSettled([...this.sends]);
    await this.recorder.flush(); // what did finish is recorded
    await this.listener?.()?.end().catch(() => {});
    await Promise.allSettled([...this.targets.values()].map((t) => t.agent.close()));
  }

  /** Something was just committed to the outbox: look now rather than at the next idle tick. */
  kick(): void {
    this.moreDue = true;
    this.kickedAt = performance.now();
    this.wakeUp();
  }

  private wakeUp(): void {
    this.woken = true;
    this.wake?.();
  }

  /** The slow-down state of one issuer's endpoint in this process (for tests and the admin view). */
  endpointState(issuerId: string): { limit: number; rate?: number; inFlight: number } | undefined {
    const t = this.targets.get(issuerId)?.throttle;
    return t && { limit: t.limit, rate: t.rate, inFlight: t.inFlight };
  }

  /**
   * One round for tests and tools: claim what is due, send it all, record the results. Returns how many
   * notifications were attempted.
   */
  async runOnce(): Promise<number> {
    await this.refreshTargets(true);
    this.drainedAt.clear(); // a round on demand looks at every issuer
    const claimed = await this.claimAndLaunch();
    await Promise.allSettled([...this.sends]);
    await this.recorder.flush();
    return claimed;
  }

  private async pump(): Promise<void> {
    while (this.running) {
      let claimed = 0;
      try {
        await this.refreshTargets(false);
        claimed = await this.claimAndLaunch();
      } catch (err) {
        this.o.log.error({ err }, 'delivery round failed');
        await this.sleep(this.o.idleWaitMs ?? 500);
        continue;
      }
      // A full claim means there is more: go again at once. Otherwise wait for a kick (a commit, a
      // finished send), a rate-limited endpoint's next slot, or the idle timeout.
      if (claimed < this.batchSize) await this.sleep(this.nextWakeMs());
    }
  }

  private nextWakeMs(): number {
    let ms = this.o.idleWaitMs ?? 500;
    for (const t of this.targets.values()) {
      if (t.sending && t.throttle.rate !== undefined && t.throttle.inFlight < t.throttle.limit) ms = Math.min(ms, Math.max(1, t.throttle.waitMs()));
    }
    return ms;
  }

  private async sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
    this.woken = false;
  }

  private async refreshTargets(force: boolean): Promise<void> {
    // How often to re-read issuers is a cadence, not business time: the monotonic clock, which a test's frozen
    // hub clock does not stop.
    if (!force && performance.now() - this.targetsLoadedAt < (this.o.issuerRefreshMs ?? 1000)) return;
    const refresh = this.gone.refreshStarting();
    this.targets = await loadTargets(this.o.db, this.targets, {
      allowPrivateTargets: this.o.allowPrivateTargets ?? false,
      timeoutMs: this.timeoutMs,
      perIssuerConcurrency: this.o.perIssuerConcurrency ?? 64,
      onUnreadable: (issuerId, err) => {
        // Said once a minute per issuer, not at every refresh; its notifications wait meanwhile.
        const last = this.unreadableSaidAt.get(issuerId);
        if (last !== undefined && performance.now() - last < 60_000) return;
        this.unreadableSaidAt.set(issuerId, performance.now());
        this.o.log.error({ err, issuerId }, "issuer's stored secrets cannot be opened: its notifications wait until it is written again (PUT) with this master key");
      },
    });
    this.gone.afterRefresh(refresh, this.targets);
    this.targetsLoadedAt = performance.now();
  }

  /** Claims, for every issuer with room, up to that room, and starts sending each at once. */
  private async claimAndLaunch(): Promise<number> {
    const room = Math.min(this.batchSize, this.concurrency - this.inFlight);
    if (room <= 0) return 0;
    const wants: ClaimWant[] = [];
    let worthAQuery = this.inFlight === 0;
    for (const t of this.targets.values()) {
      if (!t.sending || !this.mayHaveDue(t.issuerId)) continue;
      const n = Math.min(t.throttle.available(), room);
      if (n <= 0) continue;
      wants.push({ issuer_id: t.issuerId, lim: n * t.maxOperations });
      // Every finished send wakes the loop, and claiming one row per wake-up would cost a query per
      // notification; so a busy issuer waits until half its room is free. An idle one (no send of its
      // own will wake us) or a rate-limited one (one slot at a time is all it gets) is worth it at once.
      const half = Math.max(1, Math.floor(Math.min(t.throttle.limit, room) / 2));
      if (t.throttle.inFlight === 0 || t.throttle.rate !== undefined || n >= half) worthAQuery = true;
    }
    if (wants.length === 0 || !worthAQuery) return 0;
    const claimedAt = performance.now();
    const rows = await this.claim(wants, room);
    const got = new Map<string, number>();
    for (const r of rows) got.set(r.issuer_id, (got.get(r.issuer_id) ?? 0) + 1);
    let someFilled = rows.length >= room;
    for (const w of wants) {
      const filled = (got.get(w.issuer_id) ?? 0) >= w.lim;
      someFilled ||= filled;
      // Cut short by `room`, an issuer may still have more; otherwise fewer than asked means none left.
      if (filled || rows.length >= room) this.drainedAt.delete(w.issuer_id);
      else this.drainedAt.set(w.issuer_id, claimedAt);
    }
    this.moreDue = someFilled;
    if (rows.length === 0) return 0;
    const notifications = await formNotifications(this.o.db, rows, (issuerId) => this.targets.get(issuerId)?.maxOperations ?? 1);
    for (const n of notifications) this.launch(n);
    return notifications.length;
  }

  /** Rows fall due as time passes (retries) and as commits land (kicks): a drained issuer is looked at again after either. */
  private mayHaveDue(issuerId: string): boolean {
    const at = this.drainedAt.get(issuerId);
    return at === undefined || at < this.kickedAt || performance.now() - at >= (this.o.idleWaitMs ?? 500);
  }

  /** Due notifications, in each operation's sequence order: see claimDueNotifications. */
  private claim(wants: ClaimWant[], room: number): Promise<ClaimedOutboxRow[]> {
    // A lost lease only makes the rows due again (see OpenedStore.relaxed).
    return claimDueNotifications(this.relaxed, wants, room, this.leaseMs);
  }

  private launch(n: Claimed): void {
    const target = this.targets.get(n.issuerId) as IssuerTarget;
    target.throttle.started();
    this.inFlight++;
    const send: Promise<void> = attemptDelivery(target, n, { timeoutMs: this.timeoutMs, shutdown: this.shutdown.signal, now: this.now })
      .then((result) => {
        if (!result) return; // cut short by shutdown
        // No more sends to a gone endpoint, even before the store records it.
        if (result.status === 410) this.gone.answered(target);
        target.throttle.finished(throttleSignal(result));
        if (this.o.log.isLevelEnabled('debug')) {
          this.o.log.debug({ notificationId: n.id, issuerId: n.issuerId, status: result.status, error: result.error, latencyMs: Math.round(result.latencyMs) }, 'notification attempt');
        }
        this.recorder.add(result);
      })
      .catch((err) => this.o.log.error({ err, notificationId: n.id }, 'delivery attempt failed unexpectedly'))
      .finally(() => {
        this.inFlight--;
        this.sends.delete(send);
        // A freed slot matters only when there is more waiting than was claimed.
        if (this.moreDue) this.wakeUp();
      });
    this.sends.add(send);
  }

  /**
   * A notification that ended (delivered or dead) may have held back the next update of one of its
   * operations (claimDueNotifications), which the issuer's last claim then skipped: an issuer left out
   * as drained is looked at again now, not at the idle tick, so a chain of updates goes out one after
   * another without waiting a tick each.
   */
  private lookAgainAfterEnded(issuers: Set<string>): void {
    let again = false;
    for (const issuerId of issuers) again = this.drainedAt.delete(issuerId) || again;
    if (again) this.wakeUp();
  }

  /** What a write recorded: gone endpoints stay closed until the store says otherwise; ended notifications may free later ones. */
  private afterRecorded(outcomes: Outcomes): void {
    for (const issuerId of outcomes.gone) this.gone.recorded(this.targets.get(issuerId), issuerId);
    this.lookAgainAfterEnded(outcomes.ended);
  }
}
