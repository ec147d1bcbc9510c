import { type CarrierProvider, MAX_RETRY_AFTER_MS, type ProviderName, type TrackRequest } from '../carriers/provider.ts';
import { steadyWindowMs } from '../domain/call-budget.ts';
import type { CarrierCode } from '../domain/carriers.ts';
import { awaitsCarrier } from '../domain/deadlines.ts';
import type { OperationState, Parcel } from '../domain/operation.ts';
import { pollIntervalMs } from '../domain/schedule.ts';
import type { TrackResult } from '../domain/shipment.ts';
import { advanceOperation } from '../operations/advance.ts';
import type { HubContext } from '../operations/context.ts';
import { recordCarrierRound } from '../store/carrier-budgets.ts';
import { claimDueOperations, nextDueAt } from '../store/operations.ts';
import { WorkLoop } from '../work-loop.ts';
import { CircuitBreaker } from './breaker.ts';
import { BREAKER_VALUE, breakerGauge, budgetGauge, calls, deadlineWaits, deferred, demandGauge, handedOn, overdueGauge, polls } from './metrics.ts';
import { pauseProvider, type RateLimit, settleBudget, takeBudget } from './rate-limit.ts';
import { byPriority, knows, outranks, queuePlaces, type Routed, stretchAfter, toInput, waitingInput } from './routed.ts';

export interface PollerOptions {
  providers: Map<ProviderName, CarrierProvider>;
  /** Providers that serve a carrier code, in order of preference (TRACKHUB_CARRIER_ROUTES). */
  routes: (carrier: CarrierCode) => ProviderName[];
  /** Budget per provider, shared through the store with every other worker. None: unlimited. */
  rateLimits?: Partial<Record<ProviderName, RateLimit>>;
  batchSize?: number;
  idleWaitMs?: number;
  /** Calls in flight at once to one provider. */
  concurrency?: number;
  breaker?: { threshold?: number; coolDownMs?: number; maxCoolDownMs?: number };
}

/**
 * Wakes due operations: polls the carriers of those that track a parcel (batched per provider, within
 * each provider's shared budget and behind its circuit breaker) and lets every one of them check its
 * deadline. Operations that cannot be polled now are re-scheduled, never dropped, and no deadline acts
 * without the carrier's word (src/domain/operation.ts, awaitsCarrier).
 *
 * Within a budget: the due operations of a provider go by priority (never answered, nearest deadline,
 * longest since an answer); those the budget cannot take now are queued for the coming windows at the
 * pace the budget allows, in that order, and poll intervals stretch by how far demand exceeds supply.
 *
 * Fallback: an operation whose provider does not know the number, failed for it, or has its breaker
 * open, is handed on to the next provider of its route in the same round (each provider's budget and
 * breaker apply). The route is asked in order every time, so a parcel a fallback served returns to its
 * primary once the primary knows it again; whose view wins is the state machine's rule (takesOver).
 */
export class Poller {
  private readonly loop: WorkLoop;
  /** When the current round claimed its operations (the lease runs from then). */
  private roundStartedAt = 0;
  private readonly breakers = new Map<ProviderName, CircuitBreaker>();
  /** Per provider, how far poll intervals are stretched, and when that was last adjusted. */
  private readonly stretches = new Map<ProviderName, { factor: number; at: number }>();
  /** A wake-up for the next operation due, so a window's budget is not left unused for an idle wait. */
  private wakeTimer?: NodeJS.Timeout;
  private wakeAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly ctx: HubContext,
    private readonly o: PollerOptions,
  ) {
    this.loop = new WorkLoop(() => this.runOnce(), o.batchSize ?? 200, o.idleWaitMs ?? 1000, (err) => ctx.log.error({ err }, 'polling round failed'));
    for (const name of o.providers.keys()) breakerGauge.set({ provider: name }, 0);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    return this.loop.stop();
  }

  kick(): void {
    this.loop.kick();
  }

  breaker(name: ProviderName): CircuitBreaker {
    let b = this.breakers.get(name);
    if (!b) {
      const c = this.o.breaker ?? {};
      b = new CircuitBreaker(c.threshold ?? 5, c.coolDownMs ?? 30_000, c.maxCoolDownMs ?? 600_000);
      this.breakers.set(name, b);
    }
    return b;
  }

  async runOnce(): Promise<number> {
    this.roundStartedAt = this.ctx.now().getTime();
    const due = await claimDueOperations(this.ctx.relaxedDb ?? this.ctx.db, this.o.batchSize ?? 200, this.ctx.policy.leaseMs, this.ctx.now());
    const routed: Routed[] = [];
    const timersOnly: OperationState[] = [];
    for (const s of due) {
      const chain = s.parcel ? this.chainOf(s.parcel) : [];
      if (chain.length > 0) routed.push({ s, chain, at: 0 });
      else timersOnly.push(s);
    }
    // A parcel no configured provider serves cannot be asked: its deadline waits, and is counted.
    const now = this.roundStartedAt;
    const stranded = timersOnly.filter((s) => s.parcel && awaitsCarrier(s, this.ctx.policy, now)).length;
    if (stranded > 0) deadlineWaits.inc({ provider: 'none', reason: 'no_provider' }, stranded);
    await Promise.all([
      this.pollAll(routed),
      ...timersOnly.map((s) => advanceOperation(this.ctx, s.operationId, { kind: 'tick', now: this.ctx.now().toISOString() })),
    ]);
    // Queued polls fall due every few milliseconds under a tight budget: the loop wakes for the next one
    // rather than sleeping its idle wait (one index lookup).
    if (due.length > 0) {
      const next = await nextDueAt(this.ctx.relaxedDb ?? this.ctx.db);
      if (next) this.wakeFor(next);
    }
    return due.length;
  }

  /** The configured route, in order, every time: the primary first even for a parcel a fallback serves. */
  private chainOf(parcel: Parcel): ProviderName[] {
    return this.o.routes(parcel.carrier).filter((p) => this.o.providers.has(p));
  }

  /** Asks each operation's provider, batched per provider; what is handed on goes to the next one. */
  private async pollAll(round: Routed[]): Promise<void> {
    while (round.length > 0) {
      const byProvider = new Map<ProviderName, Routed[]>();
      for (const r of round) {
        const name = r.chain[r.at];
        const list = byProvider.get(name) ?? [];
        list.push(r);
        byProvider.set(name, list);
      }
      const next = await Promise.all([...byProvider].map(([name, ops]) => this.pollProvider(name, ops)));
      round = next.flat().map((r) => ({ ...r, at: r.at + 1 }));
    }
  }

  /**
   * Those with a provider after this one are handed on (and counted); the rest stay. Not once half the
   * claim's lease is spent: past it another worker may claim the same operations and ask again.
   */
  private handOn(name: ProviderName, ops: Routed[], reason: string, out: Routed[]): Routed[] {
    const stay: Routed[] = [];
    const inTime = this.ctx.now().getTime() - this.roundStartedAt < this.ctx.policy.leaseMs / 2;
    for (const r of ops) {
      const to = r.chain[r.at + 1];
      if (to && inTime) {
        handedOn.inc({ from: name, to, reason });
        out.push(r);
      } else {
        stay.push(r);
      }
    }
    return stay;
  }

  /** Polls one provider's share of the round; returns the operations to hand on to their next provider. */
  private async pollProvider(name: ProviderName, ops: Routed[]): Promise<Routed[]> {
    const provider = this.o.providers.get(name) as CarrierProvider;
    const breaker = this.breaker(name);
    const breakerBefore = breaker.state;
    ops.sort(byPriority(this.ctx.policy, this.ctx.now().getTime()));
    const chunks: Routed[][] = [];
    for (let i = 0; i < ops.length; i += provider.maxBatch) chunks.push(ops.slice(i, i + provider.maxBatch));

    const now = this.ctx.now();
    const allowance = breaker.allowance(now.getTime());
    let granted = allowance === 'all' ? chunks.length : allowance === 'one' ? 1 : 0;
    let retryAt = new Date(breaker.retryAt(now.getTime()));
    let reason = 'breaker_open';
    let stretch = 1;
    let grantId: string | undefined;
    let queueStart = retryAt;
    const limit = this.o.rateLimits?.[name];
    if (limit) {
      // Numbers whose poll fell due now (not those put off before): the provider's demand.
      const arrivals = ops.filter((r) => !r.s.parcel?.waitingSince).length;
      // If the budget grants fewer calls than asked, the newly due among the rest book places in the
      // shared queue, a call's worth at each (those already waiting keep theirs at its front).
      const wantedCalls = granted;
      const booking = {
        places: (g: number) => (g < wantedCalls ? Math.ceil(ops.slice(g * provider.maxBatch).filter((r) => !r.s.parcel?.waitingSince).length / provider.maxBatch) : 0),
        placeMs: steadyWindowMs(limit) / limit.count,
      };
      const budget = await takeBudget(this.ctx.db, name, granted, arrivals, limit, now, booking);
      queueStart = budget.queueStart;
      if (budget.granted < granted) {
        reason = 'rate_limit';
        retryAt = budget.retryAt;
      }
      granted = budget.granted;
      if (granted > 0) grantId = budget.grantId;
      // A half-open breaker's probe the budget refused (a pause, a spent window) is not out: let it go later.
      if (granted === 0 && allowance === 'one') breaker.probeNotSent();
      const perWindow = limit.count * provider.maxBatch;
      const held = stretchAfter(this.stretches.get(name), budget.wanted / perWindow, limit.perMs, now.getTime(), this.ctx.policy);
      this.stretches.set(name, held);
      stretch = held.factor;
      demandGauge.set({ provider: name }, (budget.wanted * 1000) / limit.perMs);
      budgetGauge.set({ provider: name }, (perWindow * 1000) / limit.perMs);
    }
    breakerGauge.set({ provider: name }, BREAKER_VALUE[breaker.state]);
    const overdue = ops.filter((r) => {
      const since = r.s.parcel?.waitingSince;
      return since !== undefined && now.getTime() - Date.parse(since) > pollIntervalMs(r.s, now.getTime(), this.ctx.policy);
    }).length;
    overdueGauge.set({ provider: name }, overdue);

    const out: Routed[] = [];
    // A provider out of budget is waited for, in priority order at the pace its budget allows; one whose
    // breaker is open may stay open for minutes, so the next provider of the route is asked instead.
    const held = chunks.slice(granted).flat();
    const waiting = reason === 'breaker_open' ? this.handOn(name, held, reason, out) : held;

    const queue = chunks.slice(0, granted);
    const answeredAt: Date[] = [];
    const errorWaits = { n: 0 };
    const worker = async () => {
      for (let chunk = queue.shift(); chunk; chunk = queue.shift()) {
        // The breaker opened while this round was under way: leave the provider alone.
        if (breaker.state === 'open') {
          const probeAt = new Date(breaker.retryAt(this.ctx.now().getTime()));
          await this.defer(name, this.handOn(name, chunk, 'breaker_open', out), 'breaker_open', () => probeAt);
        } else {
          await this.pollChunk(name, provider, breaker, chunk, out, stretch, answeredAt, errorWaits);
        }
      }
    };
    // The granted calls leave first (the budget was taken for now: a carrier counts them when they arrive);
    // the put-off polls are written meanwhile.
    const sending = Array.from({ length: Math.min(this.o.concurrency ?? 16, queue.length) }, worker);
    // Already waiting first, then by priority (the order `ops` is in).
    waiting.sort((a, b) => Number(!a.s.parcel?.waitingSince) - Number(!b.s.parcel?.waitingSince));
    const pollAt = reason === 'rate_limit' && limit ? queuePlaces(waiting, retryAt, queueStart, limit, provider.maxBatch) : () => retryAt;
    // Every call of the grant has come back (or failed) before the grant is settled, even when applying an
    // answer or writing a put-off poll failed: a call still out when its grant stops counting would let
    // another in early.
    const [deferral, ...sent] = await Promise.allSettled([this.defer(name, waiting, reason, pollAt), ...sending]);
    if (limit && grantId) await settleBudget(this.ctx.db, name, grantId, answeredAt, limit, this.ctx.now());
    const failure = [deferral, ...sent].find((r) => r.status === 'rejected');
    if (failure) throw failure.reason;
    const waits = (deferral.status === 'fulfilled' ? deferral.value : 0) + errorWaits.n;
    breakerGauge.set({ provider: name }, BREAKER_VALUE[breaker.state]);
    const breakerChanged = breaker.state !== breakerBefore;
    const fallbacks = out.length;
    if (fallbacks > 0 || waits > 0 || overdue > 0 || breakerChanged || limit) {
      const until = breaker.state === 'open' ? new Date(breaker.retryAt(this.ctx.now().getTime())) : null;
      await recordCarrierRound(this.ctx.db, name, { fallbacks, deadlineWaits: waits, overdue, ...(breakerChanged ? { breaker: { state: breaker.state, until } } : {}) }, this.ctx.now());
    }
    return out;
  }

  /**
   * What cannot be asked now comes back when the budget or the breaker allows, the k-th at `pollAt(k)`.
   * No deadline acts meanwhile: those past theirs wait for the carrier's word, and are counted. Returns
   * how many did.
   */
  private async defer(name: ProviderName, ops: Routed[], reason: string, pollAt: (k: number) => Date): Promise<number> {
    if (ops.length === 0) return 0;
    deferred.inc({ provider: name, reason }, ops.length);
    const at = this.ctx.now();
    const waits = ops.filter(({ s }) => awaitsCarrier(s, this.ctx.policy, at.getTime())).length;
    if (waits > 0) deadlineWaits.inc({ provider: name, reason }, waits);
    const now = at.toISOString();
    const times = ops.map((_, k) => pollAt(k));
    await Promise.all(ops.map((r, k) => advanceOperation(this.ctx, r.s.operationId, waitingInput(r, now), { pollAt: times[k] })));
    return waits;
  }

  /** Kicks the loop when the next operation is due (the loop may otherwise sleep its idle wait). */
  private wakeFor(at: Date): void {
    const ms = at.getTime();
    // Further off than a minute, the loop's own idle rounds come first.
    if (ms - this.ctx.now().getTime() > 60_000) return;
    if (ms >= this.wakeAt && this.wakeAt > this.ctx.now().getTime()) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = ms;
    this.wakeTimer = setTimeout(() => {
      this.wakeAt = Number.POSITIVE_INFINITY;
      this.kick();
    }, Math.max(0, ms - this.ctx.now().getTime()));
    this.wakeTimer.unref();
  }

  /** Asks the provider about one batch and applies the answers; the time the answer came goes to `answeredAt` (the budget's settling). */
  private async pollChunk(
    name: ProviderName,
    provider: CarrierProvider,
    breaker: CircuitBreaker,
    routed: Routed[],
    out: Routed[],
    stretch: number,
    answeredAt: Date[],
    errorWaits: { n: number },
  ): Promise<void> {
    const chunk = routed.map((r) => r.s);
    const requests: TrackRequest[] = chunk.map((s) => ({
      carrier: s.parcel?.carrier as CarrierCode,
      trackingNumber: s.parcel?.trackingNumber as string,
    }));
    calls.inc({ provider: name });
    const askedAt = this.ctx.now().toISOString();
    let results: Map<string, TrackResult>;
    try {
      results = await provider.track(requests);
    } finally {
      // Answered or not, the call may have reached the carrier: it counts from now.
      answeredAt.push(this.ctx.now());
    }
    const now = this.ctx.now();
    const all = chunk.map((s) => results.get(s.parcel?.trackingNumber as string));
    // A call that failed for every number counts against the provider; any real answer clears it.
    const failed = all.every((r) => r?.kind === 'error' && r.retryable);
    if (failed) breaker.failure(now.getTime());
    else breaker.success();
    const retryAfter = Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ...all.map((r) => (r?.kind === 'error' && Number.isFinite(r.retryAfterMs) ? (r.retryAfterMs ?? 0) : 0))));
    if (retryAfter > 0) await pauseProvider(this.ctx.db, name, new Date(now.getTime() + retryAfter), now);

    // Each operation is its own short transaction; a batch's are stored side by side.
    await Promise.all(
      chunk.map(async (s, i) => {
        const result = all[i];
        // An answer that says nothing of the number (AfterShip's "Pending" with no scans) is counted as not found.
        polls.inc({ provider: name, result: result?.kind === 'found' && !knows(result) ? 'not_found' : (result?.kind ?? 'missing') });
        // Handed on: a number this provider does not know (the next may know it), or one it failed for
        // (an error, a 429, an open breaker): the next provider can answer now.
        const unknown = result?.kind === 'not_found' || (result?.kind === 'found' && !knows(result));
        const failedHere = result === undefined || result.kind === 'error';
        const reason = unknown ? 'not_found' : failedHere ? (breaker.state === 'open' ? 'breaker_open' : 'error') : undefined;
        if (unknown && !routed[i].unknownFrom) {
          routed[i].unknownFrom = name;
          routed[i].unknownAskedAt = askedAt;
        }
        if (reason && this.handOn(name, [routed[i]], reason, out).length === 0) return;
        // Past its deadline and the carrier failed to answer (an outage, the breaker's probe): it waits, counted.
        if (failedHere && !routed[i].unknownFrom && awaitsCarrier(s, this.ctx.policy, now.getTime())) {
          deadlineWaits.inc({ provider: name, reason: 'error' });
          errorWaits.n++;
        }
        const { input, notBefore } = toInput(result, now, askedAt, { name, preferred: outranks(routed[i], name) }, routed[i]);
        // While the breaker is open, failed operations wait for its probe rather than their own timer.
        const probeAt = failed && breaker.state === 'open' ? new Date(breaker.retryAt(now.getTime())) : undefined;
        if (knows(result) && routed[i].at > 0) this.ctx.log.debug({ operationId: s.operationId, provider: name, primary: routed[i].chain[0] }, 'carrier data from a fallback provider');
        await advanceOperation(this.ctx, s.operationId, input, { wakeNotBefore: notBefore, pollAt: probeAt, stretch });
      }),
    );
  }
}
