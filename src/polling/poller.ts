import type { CarrierProvider, ProviderName, TrackRequest } from '../carriers/provider.ts';
import type { CarrierCode } from '../domain/carriers.ts';
import type { OperationInput, OperationState } from '../domain/operation.ts';
import type { TrackResult } from '../domain/shipment.ts';
import { advanceOperation } from '../operations/advance.ts';
import type { HubContext } from '../operations/context.ts';
import { claimDueOperations } from '../store/operations.ts';
import { Counter } from 'prom-client';
import { WorkLoop } from '../work-loop.ts';

const polls = new Counter({
  name: 'trackhub_carrier_polls_total',
  help: 'Tracking numbers asked of a carrier provider, by result',
  labelNames: ['provider', 'result'],
});

export interface PollerOptions {
  providers: Map<ProviderName, CarrierProvider>;
  /** Provider that serves a carrier code. */
  route: (carrier: CarrierCode) => ProviderName | undefined;
  batchSize?: number;
  idleWaitMs?: number;
}

/**
 * Wakes due operations: polls the carriers of those that track a parcel (batched per provider) and
 * lets every one of them check its deadline.
 */
export class Poller {
  private readonly loop: WorkLoop;

  constructor(
    private readonly ctx: HubContext,
    private readonly o: PollerOptions,
  ) {
    this.loop = new WorkLoop(() => this.runOnce(), o.batchSize ?? 200, o.idleWaitMs ?? 1000, (err) => ctx.log.error({ err }, 'polling round failed'));
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

  async runOnce(): Promise<number> {
    const due = await claimDueOperations(this.ctx.db, this.o.batchSize ?? 200, this.ctx.policy.leaseMs);
    const byProvider = new Map<ProviderName, OperationState[]>();
    const timersOnly: OperationState[] = [];
    for (const s of due) {
      const provider = s.parcel ? this.o.route(s.parcel.carrier) : undefined;
      if (provider && this.o.providers.has(provider)) {
        const list = byProvider.get(provider) ?? [];
        list.push(s);
        byProvider.set(provider, list);
      } else {
        timersOnly.push(s);
      }
    }
    await Promise.all([
      ...[...byProvider].map(([name, ops]) => this.pollProvider(name, ops)),
      ...timersOnly.map((s) => advanceOperation(this.ctx, s.operationId, { kind: 'tick', now: this.ctx.now().toISOString() })),
    ]);
    return due.length;
  }

  private async pollProvider(name: ProviderName, ops: OperationState[]): Promise<void> {
    const provider = this.o.providers.get(name) as CarrierProvider;
    for (let i = 0; i < ops.length; i += provider.maxBatch) {
      const chunk = ops.slice(i, i + provider.maxBatch);
      const requests: TrackRequest[] = chunk.map((s) => ({
        carrier: s.parcel?.carrier as CarrierCode,
        trackingNumber: s.parcel?.trackingNumber as string,
      }));
      const results = await provider.track(requests);
      for (const s of chunk) {
        const result = results.get(s.parcel?.trackingNumber as string);
        polls.inc({ provider: name, result: result?.kind ?? 'missing' });
        const now = this.ctx.now();
        const { input, notBefore } = toInput(result, now);
        await advanceOperation(this.ctx, s.operationId, input, notBefore);
      }
    }
  }
}

function toInput(result: TrackResult | undefined, now: Date): { input: OperationInput; notBefore?: Date } {
  const iso = now.toISOString();
  if (result?.kind === 'found') return { input: { kind: 'carrier-found', snapshot: result.snapshot, now: iso } };
  if (result?.kind === 'not_found') return { input: { kind: 'carrier-not-found', now: iso } };
  // A carrier error tells us nothing about the parcel: only deadlines may act, and we wait as asked.
  const notBefore = result?.retryAfterMs ? new Date(now.getTime() + result.retryAfterMs) : undefined;
  return { input: { kind: 'tick', now: iso }, notBefore };
}
