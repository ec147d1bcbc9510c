import pino from 'pino';
import type { CarrierProvider, ProviderName, TrackRequest } from '../../src/carriers/provider.ts';
import type { CarrierCode } from '../../src/domain/carriers.ts';
import { decide, newOperation } from '../../src/domain/operation.ts';
import type { CarrierSnapshot, TrackResult } from '../../src/domain/shipment.ts';
import { buildContext, type HubContext } from '../../src/operations/context.ts';
import type { Db } from '../../src/store/db.ts';
import { insertOperations } from '../../src/store/operations.ts';

/** A clock the test moves by hand. */
export class FakeClock {
  constructor(public ms = Date.parse('2026-05-01T08:00:00Z')) {}
  now = () => new Date(this.ms);
  advance(ms: number): void {
    this.ms += ms;
  }
}

export function fakeContext(db: Db, clock: FakeClock, policy: Partial<HubContext['policy']> = {}): HubContext {
  return buildContext({
    db,
    log: pino({ level: 'silent' }),
    now: clock.now,
    policy: {
      notFoundAfterMs: 7 * 86_400_000,
      expireAfterMs: 30 * 86_400_000,
      productionTimeoutMs: 30 * 86_400_000,
      returnTimeoutMs: 90 * 86_400_000,
      pollMinIntervalMs: 60_000,
      pollMaxIntervalMs: 3_600_000,
      leaseMs: 30_000,
      ...policy,
    },
    detect: () => [],
    trackingUrl: (c: CarrierCode, n: string) => `https://track.example/${c}/${n}`,
  });
}

/** Opens SHIPMENT operations due now, as acceptance would. Returns their ids. */
let opened = 0;
export async function openShipments(ctx: HubContext, parcels: { carrier: CarrierCode; trackingNumber: string; candidates?: CarrierCode[] }[]): Promise<string[]> {
  const now = ctx.now();
  const items = parcels.map((p, i) => {
    // Unique across calls: a test may open a second operation for a number another test already used.
    const n = opened++;
    const state = newOperation({
      operationId: `op_${p.trackingNumber}_${n}`,
      issuerId: 'ISSUER0001',
      cardId: `card-${p.trackingNumber}-${n}`,
      correlationId: 'corr',
      request: { trackingType: 'SHIPMENT', trackingNumber: p.trackingNumber },
      parcel: {
        carrier: p.carrier,
        trackingNumber: p.trackingNumber,
        trackingUrl: ctx.trackingUrl(p.carrier, p.trackingNumber),
        ...(p.candidates ? { candidates: p.candidates.map((c) => ({ carrier: c, trackingUrl: ctx.trackingUrl(c, p.trackingNumber) })) } : {}),
      },
      now: now.toISOString(),
    });
    return { decision: decide(state, { kind: 'accept', now: now.toISOString() }, ctx.policy), hash: `h${i}`, wakeAt: now };
  });
  await ctx.db.transaction().execute((tx) => insertOperations(tx, items));
  return items.map((i) => i.decision.state.operationId);
}

/** A provider whose answers the test scripts; it records every call. */
export class FakeProvider implements CarrierProvider {
  calls: TrackRequest[][] = [];
  answer: (r: TrackRequest) => TrackResult = () => ({ kind: 'not_found', message: 'unknown' });
  constructor(
    readonly name: ProviderName,
    readonly maxBatch = 1,
  ) {}
  async track(requests: TrackRequest[]): Promise<Map<string, TrackResult>> {
    this.calls.push(requests);
    return new Map(requests.map((r) => [r.trackingNumber, this.answer(r)]));
  }
  get numbersAsked(): number {
    return this.calls.reduce((n, c) => n + c.length, 0);
  }
}

export function inTransit(r: TrackRequest, at: string): TrackResult {
  const snapshot: CarrierSnapshot = {
    carrier: r.carrier,
    trackingNumber: r.trackingNumber,
    status: 'IN_TRANSIT',
    message: 'Departed',
    checkpoints: [{ checkpointTime: at, message: 'Departed', status: 'IN_TRANSIT', raw: { code: 'DP', description: 'Departed' } }],
  };
  return { kind: 'found', snapshot };
}
