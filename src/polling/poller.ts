import { Counter, Gauge } from 'prom-client';
import type { CarrierProvider, ProviderName, TrackRequest } from '../carriers/provider.ts';
import type { CarrierCode } from '../domain/carriers.ts';
import { type OperationInput, type OperationState, type Parcel, saysNothing } from '../domain/operation.ts';
import type { TrackResult } from '../domain/shipment.ts';
import { advanceOperation } from '../operations/advance.ts';
import type { HubContext } from '../operations/context.ts';
import { claimDueOperations } from '../store/operations.ts';
import { WorkLoop } from '../work-loop.ts';
import { CircuitBreaker } from './breaker.ts';
import { pauseProvider, type RateLimit, takeBudget } from './rate-limit.ts';

const polls = new Counter({
  name: 'trackhub_carrier_polls_total',
  help: 'Tracking numbers asked of a carrier provider, by result',
  labelNames: ['provider', 'result'],
});
const deferred = new Counter({
  name: 'trackhub_carrier_polls_deferred_total',
  help: 'Tracking numbers not asked this round and re-scheduled, by reason (rate_limit, breaker_open)',
  labelNames: ['provider', 'reason'],
});
const handedOn = new Counter({
  name: 'trackhub_carrier_fallbacks_total',
  help: 'Tracking numbers handed on to the next provider of their route, by reason (breaker_open, not_found)',
  labelNames: ['from', 'to', 'reason'],
});
const breakerGauge = new Gauge({
  name: 'trackhub_carrier_breaker_state',
  help: 'Circuit breaker per provider in this worker: 0 closed, 1 half-open, 2 open',
  labelNames: ['provider'],
});
const BREAKER_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

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

/** An operation on its way along its route: `chain` is the order of asking, `at` the provider asked now. */
interface Routed {
  s: OperationState;
  chain: ProviderName[];
  at: number;
}

/**
 * Wakes due operations: polls the carriers of those that track a parcel (batched per provider, within
 * each provider's shared budget and behind its circuit breaker) and lets every one of them check its
 * deadline. Operations that cannot be polled now are re-scheduled, never dropped.
 *
 * Fallback: an operation whose provider's breaker is open, or that does not know the number, is handed
 * on to the next provider of its route in the same round (each provider's budget and breaker apply).
 * The first provider that knows a number is remembered on the parcel and asked first from then on.
 */
export class Poller {
  private readonly loop: WorkLoop;
  /** When the current round claimed its operations (the lease runs from then). */
  private roundStartedAt = 0;
  private readonly breakers = new Map<ProviderName, CircuitBreaker>();

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
    await Promise.all([
      this.pollAll(routed),
      ...timersOnly.map((s) => advanceOperation(this.ctx, s.operationId, { kind: 'tick', now: this.ctx.now().toISOString() })),
    ]);
    return due.length;
  }

  /**
   * The configured route until a provider knows the number; from then on that provider alone. Another
   * provider reports the same scans under other codes (they would show twice among the checkpoints), so
   * while the known one is unavailable its parcels wait for its breaker's probe rather than hop. A parcel
   * first answered by the fallback during the primary's outage therefore stays with the fallback.
   */
  private chainOf(parcel: Parcel): ProviderName[] {
    const route = this.o.routes(parcel.carrier).filter((p) => this.o.providers.has(p));
    const known = route.find((p) => p === parcel.provider);
    return known ? [known] : route;
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
    const chunks: Routed[][] = [];
    for (let i = 0; i < ops.length; i += provider.maxBatch) chunks.push(ops.slice(i, i + provider.maxBatch));

    const now = this.ctx.now();
    const allowance = breaker.allowance(now.getTime());
    let calls = allowance === 'all' ? chunks.length : allowance === 'one' ? 1 : 0;
    let retryAt = new Date(breaker.retryAt(now.getTime()));
    let reason = 'breaker_open';
    const limit = this.o.rateLimits?.[name];
    if (calls > 0 && limit) {
      const budget = await takeBudget(this.ctx.db, name, calls, limit, now);
      if (budget.granted < calls) {
        reason = 'rate_limit';
        retryAt = budget.retryAt;
      }
      calls = budget.granted;
    }
    breakerGauge.set({ provider: name }, BREAKER_VALUE[breaker.state]);

    const out: Routed[] = [];
    // A provider out of budget is waited for (its window is seconds away); one whose breaker is open
    // may stay open for minutes, so the next provider of the route is asked instead.
    const held = chunks.slice(calls).flat();
    await this.defer(name, reason === 'breaker_open' ? this.handOn(name, held, reason, out) : held, reason, retryAt);

    const queue = chunks.slice(0, calls);
    const worker = async () => {
      for (let chunk = queue.shift(); chunk; chunk = queue.shift()) {
        // The breaker opened while this round was under way: leave the provider alone.
        if (breaker.state === 'open') await this.defer(name, this.handOn(name, chunk, 'breaker_open', out), 'breaker_open', new Date(breaker.retryAt(this.ctx.now().getTime())));
        else await this.pollChunk(name, provider, breaker, chunk, out);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency ?? 4, queue.length) }, worker));
    breakerGauge.set({ provider: name }, BREAKER_VALUE[breaker.state]);
    return out;
  }

  /** What cannot be asked now comes back when the budget or the breaker allows; deadlines still act. */
  private async defer(name: ProviderName, ops: Routed[], reason: string, pollAt: Date): Promise<void> {
    if (ops.length === 0) return;
    deferred.inc({ provider: name, reason }, ops.length);
    const now = this.ctx.now().toISOString();
    await Promise.all(ops.map(({ s }) => advanceOperation(this.ctx, s.operationId, { kind: 'tick', now }, { pollAt })));
  }

  private async pollChunk(name: ProviderName, provider: CarrierProvider, breaker: CircuitBreaker, routed: Routed[], out: Routed[]): Promise<void> {
    const chunk = routed.map((r) => r.s);
    const requests: TrackRequest[] = chunk.map((s) => ({
      carrier: s.parcel?.carrier as CarrierCode,
      trackingNumber: s.parcel?.trackingNumber as string,
    }));
    const results = await provider.track(requests);
    const now = this.ctx.now();
    const all = chunk.map((s) => results.get(s.parcel?.trackingNumber as string));
    // A call that failed for every number counts against the provider; any real answer clears it.
    const failed = all.every((r) => r?.kind === 'error' && r.retryable);
    if (failed) breaker.failure(now.getTime());
    else breaker.success();
    const retryAfter = Math.max(0, ...all.map((r) => (r?.kind === 'error' ? (r.retryAfterMs ?? 0) : 0)));
    if (retryAfter > 0) await pauseProvider(this.ctx.db, name, new Date(now.getTime() + retryAfter), now);

    // Each operation is its own short transaction; a batch's are stored side by side.
    await Promise.all(
      chunk.map(async (s, i) => {
        const result = all[i];
        polls.inc({ provider: name, result: result?.kind ?? 'missing' });
        // Handed on: a number this provider does not know (the aggregator may know it), or a failure
        // that just opened the breaker (the next provider can answer now; the probe is minutes away).
        const unknown = result?.kind === 'not_found' || (result?.kind === 'found' && !knows(result));
        const reason = unknown ? 'not_found' : failed && breaker.state === 'open' ? 'breaker_open' : undefined;
        if (reason && this.handOn(name, [routed[i]], reason, out).length === 0) return;
        const { input, notBefore } = toInput(result, now);
        // While the breaker is open, failed operations wait for its probe rather than their own timer.
        const probeAt = failed && breaker.state === 'open' ? new Date(breaker.retryAt(now.getTime())) : undefined;
        if (knows(result) && routed[i].at > 0) this.ctx.log.debug({ operationId: s.operationId, provider: name, primary: routed[i].chain[0] }, 'carrier data from a fallback provider');
        await advanceOperation(this.ctx, s.operationId, input, { wakeNotBefore: notBefore, pollAt: probeAt, answeredBy: knows(result) ? name : undefined });
      }),
    );
  }
}

/** Whether the provider knows the number: the state machine's own rule (saysNothing), not a copy of it. */
function knows(result: TrackResult | undefined): boolean {
  return result?.kind === 'found' && !saysNothing(result.snapshot);
}

function toInput(result: TrackResult | undefined, now: Date): { input: OperationInput; notBefore?: Date } {
  const iso = now.toISOString();
  if (result?.kind === 'found') return { input: { kind: 'carrier-found', snapshot: result.snapshot, now: iso } };
  if (result?.kind === 'not_found') return { input: { kind: 'carrier-not-found', now: iso } };
  // A carrier error tells us nothing about the parcel: only deadlines may act, and we wait as asked.
  const notBefore = result?.retryAfterMs ? new Date(now.getTime() + result.retryAfterMs) : undefined;
  return { input: { kind: 'tick', now: iso }, notBefore };
}
