import pg from 'pg';
import type { Logger } from 'pino';
import { request } from 'undici';
import type { Db } from '../store/db.ts';
import { disableGoneEndpoint } from '../store/issuers.ts';
import { type ClaimedOutboxRow, type ClaimWant, claimDueNotifications } from '../store/notifications.ts';
import { type AttemptRecord, batchedPayloads, groupIntoBatches, pruneDeliveredAttempts, recordAttempts } from '../store/outbox.ts';
import { deliveryMetrics } from './metrics.ts';
import { nextRetryDelayMs } from './retry.ts';
import { signatureHeader } from './signing.ts';
import { type IssuerTarget, loadTargets } from './targets.ts';
import { isSlowDown } from './throttle.ts';

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
  /** Attempts of delivered notifications older than this are pruned (30 days by default). */
  attemptRetentionMs?: number;
  random?: () => number;
  /**
   * The wall clock (Date.now by default) for the times the dispatcher writes down or compares with
   * written ones: attempted_at, next_attempt_at of a retry, the prune cutoff, a Retry-After date, the
   * age of a 410. Injected so tests can check these exactly. The loop's own pacing (idle ticks, issuer
   * refresh, latency) stays on real timers and the monotonic clock: a frozen clock must not stall it.
   */
  now?: () => number;
}

/** A claimed notification: its head outbox row, and the operations it carries. */
interface Claimed {
  id: string;
  issuerId: string;
  correlationId: string;
  attempts: number;
  scheduleOffset: number;
  payloads: string[];
}

interface AttemptResult {
  n: Claimed;
  startedAt: number;
  status?: number;
  error?: string;
  timedOut?: boolean;
  latencyMs: number;
  responseText: string | null;
  retryAfterMs?: number;
}

export const OUTBOX_CHANNEL = 'trackhub_outbox';
const RESPONSE_PREFIX_BYTES = 2048;
const DAY_MS = 86_400_000;
/** Result writes in flight at once (the store's relaxed pool holds 3 connections). */
const RECORD_WRITERS = 3;

/**
 * Sends outbox rows to issuers as a continuous pipeline: while some notifications are in flight the
 * dispatcher keeps claiming more for the issuers that have room, so one slow endpoint only ever holds
 * its own slots. Rows are claimed with a lease (`FOR UPDATE SKIP LOCKED`), so any number of dispatchers
 * share one outbox without a coordinator; one that dies only delays its rows until the lease ends.
 * Results are written in batches: one INSERT for the attempt log and one UPDATE per kind of outcome.
 */
export class Dispatcher {
  private targets = new Map<string, IssuerTarget>();
  private targetsLoadedAt = 0;
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
  private results: AttemptResult[] = [];
  private readonly writes = new Set<Promise<void>>();
  /**
   * Issuers that answered 410 here: `at` when it was seen; `trustFrom`, once the store holds the disable,
   * the first targets refresh whose query started after that write (an earlier one may still read the
   * endpoint as sending). From that refresh on the store decides, so a PUT that re-enables shows.
   */
  private readonly gone = new Map<string, { at: number; trustFrom?: number }>();
  /** Counts targets refreshes as they start (see `gone`). */
  private refreshes = 0;
  /** When each issuer with unreadable secrets was last logged (keyed by stored issuers only). */
  private readonly unreadableSaidAt = new Map<string, number>();
  private readonly shutdown = new AbortController();
  private listener?: pg.Client;
  private lastPruneAt = 0;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly leaseMs: number;

  private readonly relaxed: Db;
  private readonly now: () => number;

  constructor(private readonly o: DispatcherOptions) {
    this.relaxed = o.relaxedDb ?? o.db;
    this.now = o.now ?? (() => Date.now());
    this.timeoutMs = o.timeoutMs ?? 15_000;
    // A row must never be claimed again while its attempt may still be running: that would send it twice.
    this.leaseMs = Math.max(o.leaseMs, Math.ceil(this.timeoutMs * 1.5));
    this.concurrency = o.concurrency ?? 512;
    this.batchSize = o.batchSize ?? 200;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.pump();
    if (this.o.listenUrl) void this.listen(this.o.listenUrl);
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
    await this.flush(); // what did finish is recorded
    await this.listener?.end().catch(() => {});
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
    await this.flush();
    return claimed;
  }

  private async pump(): Promise<void> {
    while (this.running) {
      let claimed = 0;
      try {
        await this.refreshTargets(false);
        claimed = await this.claimAndLaunch();
        await this.pruneIfDue();
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
    if (!force && Date.now() - this.targetsLoadedAt < (this.o.issuerRefreshMs ?? 1000)) return;
    const refresh = ++this.refreshes;
    this.targets = await loadTargets(this.o.db, this.targets, {
      allowPrivateTargets: this.o.allowPrivateTargets ?? false,
      timeoutMs: this.timeoutMs,
      perIssuerConcurrency: this.o.perIssuerConcurrency ?? 64,
      onUnreadable: (issuerId, err) => {
        // Said once a minute per issuer, not at every refresh; its notifications wait meanwhile.
        const last = this.unreadableSaidAt.get(issuerId) ?? 0;
        if (Date.now() - last < 60_000) return;
        this.unreadableSaidAt.set(issuerId, Date.now());
        this.o.log.error({ err, issuerId }, "issuer's stored secrets cannot be opened: its notifications wait until it is written again (PUT) with this master key");
      },
    });
    for (const [issuerId, g] of this.gone) {
      const t = this.targets.get(issuerId);
      const storeKnows = g.trustFrom !== undefined && refresh >= g.trustFrom;
      if (storeKnows || this.now() - g.at > 60_000) this.gone.delete(issuerId); // the store decides now (or never will)
      else if (t) t.sending = false;
    }
    this.targetsLoadedAt = Date.now();
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
    const notifications = await this.group(rows);
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

  /**
   * Turns claimed rows into notifications. An issuer taking several operations per notification gets
   * rows never sent before grouped, and the grouping written down before anything is sent, so every
   * retry carries the same operations under the same webhook-id (the first row's id).
   */
  private async group(rows: ClaimedOutboxRow[]): Promise<Claimed[]> {
    const out: Claimed[] = [];
    const heads: Claimed[] = [];
    const fresh = new Map<string, ClaimedOutboxRow[]>();
    const assign: { id: string; head: string }[] = [];
    for (const r of rows) {
      const n = { id: r.id, issuerId: r.issuer_id, correlationId: r.correlation_id, attempts: r.attempts, scheduleOffset: r.schedule_offset, payloads: [r.payload] };
      const max = this.targets.get(r.issuer_id)?.maxOperations ?? 1;
      if (r.batch_id !== null) heads.push(n);
      else if (max > 1 && r.attempts === 1) fresh.set(r.issuer_id, [...(fresh.get(r.issuer_id) ?? []), r]);
      else out.push(n);
    }
    for (const [issuerId, list] of fresh) {
      const max = this.targets.get(issuerId)?.maxOperations ?? 1;
      for (let i = 0; i < list.length; i += max) {
        const chunk = list.slice(i, i + max);
        const head = chunk[0];
        for (const r of chunk) assign.push({ id: r.id, head: head.id });
        out.push({ id: head.id, issuerId, correlationId: head.correlation_id, attempts: head.attempts, scheduleOffset: head.schedule_offset, payloads: chunk.map((r) => r.payload) });
      }
    }
    if (assign.length > 0) await groupIntoBatches(this.o.db, assign);
    if (heads.length > 0) {
      // A batch formed earlier: its other operations wait in state 'batched' beside the head.
      const members = await batchedPayloads(this.o.db, heads.map((h) => h.id));
      const byHead = new Map(heads.map((h) => [h.id, h]));
      for (const m of members) byHead.get(m.batch_id as string)?.payloads.push(m.payload);
      out.push(...heads);
    }
    return out;
  }

  private launch(n: Claimed): void {
    const target = this.targets.get(n.issuerId) as IssuerTarget;
    target.throttle.started();
    this.inFlight++;
    const send: Promise<void> = this.attempt(target, n)
      .then((result) => {
        if (!result) return; // cut short by shutdown
        if (result.status === 410) {
          // No more sends to a gone endpoint, even before the store records it.
          target.sending = false;
          this.gone.set(n.issuerId, { at: this.now() });
        }
        // A timeout is an overloaded endpoint too: without this, a hung endpoint keeps its full
        // concurrency of hanging sends on every round.
        const ok = result.status !== undefined && result.status >= 200 && result.status < 300;
        target.throttle.finished(ok ? 'success' : isSlowDown(result.status) || result.timedOut ? 'trouble' : 'other');
        if (this.o.log.isLevelEnabled('debug')) {
          this.o.log.debug({ notificationId: n.id, issuerId: n.issuerId, status: result.status, error: result.error, latencyMs: Math.round(result.latencyMs) }, 'notification attempt');
        }
        this.results.push(result);
        this.scheduleFlush();
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

  private async attempt(target: IssuerTarget, n: Claimed): Promise<AttemptResult | undefined> {
    const body = `{"operations":[${n.payloads.join(',')}]}`;
    const started = performance.now();
    const startedAt = this.now();
    const signal = AbortSignal.any([AbortSignal.timeout(this.timeoutMs), this.shutdown.signal]);
    try {
      let res = await this.post(target, n, body, signal);
      if (res.statusCode === 401 && target.token) {
        // The token may have been revoked early: fetch a new one once and send again.
        await res.body.dump().catch(() => {});
        target.token.invalidate();
        res = await this.post(target, n, body, signal);
      }
      const responseText = await readPrefix(res.body, RESPONSE_PREFIX_BYTES);
      return { n, startedAt, status: res.statusCode, latencyMs: performance.now() - started, responseText, retryAfterMs: parseRetryAfter(res.headers['retry-after'], this.now()) };
    } catch (err) {
      if (this.shutdown.signal.aborted) return undefined;
      // The agent's own headers/body timeouts equal the attempt's: whichever fires first, it is a timeout
      // (an overloaded endpoint to the throttle), not some other network error.
      const code = (err as { code?: string })?.code;
      const timedOut = signal.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
      return { n, startedAt, error: timedOut ? `timeout after ${this.timeoutMs} ms` : describeError(err), timedOut, latencyMs: performance.now() - started, responseText: null };
    }
  }

  private async post(target: IssuerTarget, n: Claimed, body: string, signal: AbortSignal) {
    // The receiver checks this against its own clock: always the real one.
    const timestamp = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-correlation-id': n.correlationId,
      'webhook-id': n.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(target.secrets, n.id, timestamp, body),
      'user-agent': 'trackhub',
    };
    if (target.token) headers.authorization = `Bearer ${await target.token.get()}`;
    return request(target.url, { method: 'POST', headers, body, dispatcher: target.agent, signal });
  }

  /**
   * Results are recorded as soon as they arrive, beside the claiming (not after it), in up to
   * RECORD_WRITERS writes at once: every delivery answered but not yet written down is sent again if the
   * worker dies. Measured in the chaos test: a 5 ms batching timer here tripled the duplicates of a
   * killed hub, and one write at a time (results queueing behind the write in progress) left a median
   * 18 ms between the issuer's answer and its record. Results arriving while every writer is busy go
   * together in the next write, so under load one statement and one commit still record many.
   */
  private scheduleFlush(): void {
    if (this.writes.size >= RECORD_WRITERS || this.results.length === 0) return; // a finishing write takes them
    const write: Promise<void> = this.flushNow().finally(() => {
      this.writes.delete(write);
      this.scheduleFlush();
    });
    this.writes.add(write);
  }

  private async flush(): Promise<void> {
    await Promise.allSettled([...this.writes]);
    await this.flushNow();
  }

  /** Writes the results gathered since the last write: the attempt log in one INSERT, outcomes in a few UPDATEs. */
  private async flushNow(): Promise<void> {
    if (this.results.length === 0) return;
    const results = this.results;
    this.results = [];
    const started = performance.now();
    try {
      this.lookAgainAfterEnded(await this.record(results));
      const ms = Math.round(performance.now() - started);
      if (ms > 1000) this.o.log.warn({ ms, count: results.length }, 'recording delivery results was slow');
    } catch (err) {
      // Not recorded: the rows' leases run out and they are sent again (same webhook-id).
      this.o.log.error({ err, count: results.length }, 'recording delivery results failed');
    }
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

  /**
   * Records a batch of attempts in ONE statement (one round trip, one commit): the attempt log rows and
   * each notification's outcome. The shorter this window, the fewer deliveries a killed worker leaves
   * unrecorded (those are sent again, with the same webhook-id).
   */
  private async record(results: AttemptResult[]): Promise<Set<string>> {
    const rows: AttemptRecord[] = [];
    const gone = new Set<string>();
    const ended = new Set<string>(); // issuers with a notification delivered or dead
    for (const r of results) {
      deliveryMetrics.latency.observe({ issuer: r.n.issuerId }, r.latencyMs / 1000);
      const base = {
        id: r.n.id, attempt: r.n.attempts, attempted_at: new Date(r.startedAt).toISOString(), http_status: r.status ?? null, error: r.error ?? null,
        latency_ms: Math.round(r.latencyMs), response_body: r.responseText === null ? null : r.responseText.replace(/\0/g, ''),
      };
      if (r.status !== undefined && r.status >= 200 && r.status < 300) {
        rows.push({ ...base, outcome: 'delivered', reason: null, next_at: null, new_offset: null });
        ended.add(r.n.issuerId);
        deliveryMetrics.outcomes.inc({ issuer: r.n.issuerId, outcome: 'delivered' });
        continue;
      }
      const reason = r.error ?? `HTTP ${r.status}`;
      if (r.status === 410) {
        // The endpoint is gone: stop sending to it until an operator PUTs the issuer again. Its
        // notifications stay pending, with a fresh retry schedule for when it comes back.
        gone.add(r.n.issuerId);
        rows.push({ ...base, outcome: 'retry', reason, next_at: new Date(this.now()).toISOString(), new_offset: r.n.attempts });
        deliveryMetrics.outcomes.inc({ issuer: r.n.issuerId, outcome: 'endpoint_disabled' });
        continue;
      }
      const delay = nextRetryDelayMs(this.o.retryScheduleMs, r.n.attempts - r.n.scheduleOffset, { retryAfterMs: r.retryAfterMs, random: this.o.random });
      if (delay === undefined) {
        rows.push({ ...base, outcome: 'dead', reason, next_at: null, new_offset: null });
        ended.add(r.n.issuerId);
        deliveryMetrics.outcomes.inc({ issuer: r.n.issuerId, outcome: 'dead' });
        this.o.log.warn({ notificationId: r.n.id, issuerId: r.n.issuerId, reason }, 'notification dead after last attempt');
      } else {
        rows.push({ ...base, outcome: 'retry', reason, next_at: new Date(this.now() + delay).toISOString(), new_offset: null });
        deliveryMetrics.outcomes.inc({ issuer: r.n.issuerId, outcome: 'retry' });
      }
    }
    // A failure never overwrites a delivery another worker recorded meanwhile (`o.state = 'pending'`), nor
    // the lease of a newer claim of the same row (`o.attempts = res.attempt`). A lost record only means a
    // repeat under the same webhook-id, so the commit does not wait for the disk (see OpenedStore.relaxed).
    await recordAttempts(this.relaxed, rows);
    for (const issuerId of gone) {
      await disableGoneEndpoint(this.o.db, issuerId);
      const t = this.targets.get(issuerId);
      if (t) t.sending = false;
      // The store decides from the next refresh that starts after this write: one already running may
      // have read the endpoint as still sending, and must not re-open it.
      const g = this.gone.get(issuerId);
      if (g) g.trustFrom = this.refreshes + 1;
      this.o.log.warn({ issuerId }, 'issuer endpoint answered 410 Gone: disabled until the issuer is updated; notifications kept');
    }
    return ended;
  }

  /** Deletes attempts older than the retention of notifications already delivered; undelivered ones keep all. */
  async pruneAttempts(): Promise<number> {
    const cutoff = new Date(this.now() - (this.o.attemptRetentionMs ?? 30 * DAY_MS));
    return pruneDeliveredAttempts(this.o.db, cutoff);
  }

  private async pruneIfDue(): Promise<void> {
    if (this.now() - this.lastPruneAt < 3_600_000) return;
    this.lastPruneAt = this.now();
    await this.pruneAttempts();
  }

  /** PostgreSQL only: commits made by API instances elsewhere wake this worker through NOTIFY. */
  private async listen(url: string): Promise<void> {
    while (this.running) {
      const client = new pg.Client({ connectionString: url });
      try {
        client.on('notification', () => this.kick());
        const ended = new Promise<void>((resolve) => {
          client.on('error', () => resolve());
          client.on('end', () => resolve());
        });
        await client.connect();
        await client.query(`listen ${OUTBOX_CHANNEL}`);
        this.listener = client;
        await ended;
      } catch {
        // The store is away: polling still finds the work; try listening again shortly.
      }
      await client.end().catch(() => {});
      if (this.running) await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds from now. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  // Only an HTTP date (all three of RFC 9110's forms start with the day's name): Date.parse alone also
  // reads "-5" or "1.5" as dates long past, which would mean "no wait".
  if (!HTTP_DATE_START.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const HTTP_DATE_START = /^\s*(Mon|Tue|Wed|Thu|Fri|Sat|Sun)/;

function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code && e.code !== 'UND_ERR_SOCKET' ? e.code : (e.cause?.code ?? e.code);
  const message = e.message || e.cause?.message || String(err);
  return code ? `${code}: ${message}` : message;
}

/**
 * The first `max` bytes of a response body; the rest is not read (leaving the loop destroys the body),
 * so a large or endless answer neither costs memory nor turns a received status into a timeout.
 */
async function readPrefix(body: AsyncIterable<Buffer>, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= max) break;
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}
