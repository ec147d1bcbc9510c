import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProviderName } from '../../src/carriers/provider.ts';
import { steadyWindowMs } from '../../src/domain/call-budget.ts';
import type { CarrierCode } from '../../src/domain/carriers.ts';
import { Poller } from '../../src/polling/poller.ts';
import { settleBudget, takeBudget } from '../../src/polling/rate-limit.ts';
import { recordCarrierRound } from '../../src/store/carrier-budgets.ts';
import { FakeClock, FakeProvider, fakeContext, inTransit, openShipments } from '../helpers/carriers.ts';
import { freshStore, STORE_KINDS, type TestStore } from '../helpers/stores.ts';

const routes = (c: CarrierCode): ProviderName[] => (c === 'fedex' ? ['fedex'] : c === 'ups' ? ['ups'] : c === 'usps-iv-api' ? ['usps'] : []);
/** FedEx and UPS first, AfterShip after them (the default routes). */
const withFallback = (c: CarrierCode): ProviderName[] => [...routes(c), 'aftership'];

async function outbox(store: TestStore) {
  const rows = await store.db.selectFrom('outbox').select(['operation_id', 'payload']).orderBy('created_at').orderBy('sequence_number').execute();
  return rows.map((r) => ({ operationId: r.operation_id, ...(JSON.parse(r.payload) as { status: string; errorCode?: string; details: { shipment?: { status: string; carrier: string } } }) }));
}
async function wakeAt(store: TestStore, operationId: string): Promise<number | null> {
  const row = await store.db.selectFrom('operations').select('wake_at').where('operation_id', '=', operationId).executeTakeFirstOrThrow();
  return row.wake_at ? new Date(row.wake_at as unknown as string).getTime() : null;
}

describe.each(STORE_KINDS)('polling on %s with a fake clock', (kind) => {
  let store: TestStore;
  let clock: FakeClock;
  beforeEach(async () => {
    store = await freshStore(kind);
    clock = new FakeClock();
  });
  afterEach(async () => {
    await store.close();
  });

  it('two workers together stay within the provider budget; the rest are queued at the budget\'s pace and all asked', async () => {
    const ctx = fakeContext(store.db, clock);
    const fedex = new FakeProvider('fedex', 1);
    const asked: { at: number; n: string }[] = [];
    fedex.answer = (r) => {
      asked.push({ at: clock.ms, n: r.trackingNumber });
      return inTransit(r, clock.now().toISOString());
    };
    const providers = new Map([['fedex' as ProviderName, fedex]]);
    const limit = { fedex: { count: 5, perMs: 10_000 } };
    const a = new Poller(ctx, { providers, routes, rateLimits: limit, batchSize: 10 });
    const b = new Poller(ctx, { providers, routes, rateLimits: limit, batchSize: 10 });
    const ids = await openShipments(ctx, Array.from({ length: 20 }, (_, i) => ({ carrier: 'fedex' as const, trackingNumber: `NUM${i}` })));

    const [ra, rb] = await Promise.all([a.runOnce(), b.runOnce()]);
    expect(ra + rb).toBe(20); // both worked: every due operation was claimed by one of them
    expect(fedex.numbersAsked).toBe(5);
    // The other 15 wait for the budget to free up, queued at its pace (not all at one instant).
    const wakes = (await Promise.all(ids.map((id) => wakeAt(store, id)))).filter((w) => w !== null && w < clock.ms + 60_000) as number[];
    const held = wakes.filter((w) => w >= clock.ms + 10_000);
    expect(held).toHaveLength(15);
    expect(new Set(held).size).toBeGreaterThan(5);

    // Every 500 ms for a minute: all 20 are asked once, and no 10 s interval ever holds more than 5 calls.
    for (let t = 0; t < 60_000 && new Set(asked.map((x) => x.n)).size < 20; t += 500) {
      clock.advance(500);
      await Promise.all([a.runOnce(), b.runOnce()]);
    }
    expect(new Set(asked.map((x) => x.n)).size).toBe(20);
    for (const x of asked) expect(asked.filter((y) => y.at >= x.at && y.at < x.at + 10_000).length).toBeLessThanOrEqual(5);
  });

  it('backs off a provider for the Retry-After it sent, for every worker, while other providers go on', async () => {
    const ctx = fakeContext(store.db, clock);
    const ups = new FakeProvider('ups');
    ups.answer = () => ({ kind: 'error', retryable: true, message: 'UPS answered 429', retryAfterMs: 120_000 });
    const fedex = new FakeProvider('fedex');
    fedex.answer = (r) => inTransit(r, clock.now().toISOString());
    const providers = new Map<ProviderName, FakeProvider>([['ups', ups], ['fedex', fedex]]);
    const limits = { ups: { count: 100, perMs: 1000 }, fedex: { count: 100, perMs: 1000 } };
    const a = new Poller(ctx, { providers, routes, rateLimits: limits });
    const b = new Poller(ctx, { providers, routes, rateLimits: limits });
    const [upsOp] = await openShipments(ctx, [{ carrier: 'ups', trackingNumber: '1ZA' }]);
    await a.runOnce();
    expect(ups.calls).toHaveLength(1);
    expect(await wakeAt(store, upsOp)).toBe(clock.ms + 120_000);

    // A new UPS parcel due a minute later is not asked either, even by the other worker.
    clock.advance(60_000);
    const [later] = await openShipments(ctx, [{ carrier: 'ups', trackingNumber: '1ZB' }, { carrier: 'fedex', trackingNumber: 'FDX1' }]);
    await b.runOnce();
    expect(ups.calls).toHaveLength(1);
    expect(fedex.calls).toHaveLength(1);
    expect(await wakeAt(store, later)).toBe(clock.ms + 60_000);

    clock.advance(60_000);
    ups.answer = (r) => inTransit(r, clock.now().toISOString());
    await b.runOnce();
    expect(ups.numbersAsked).toBe(3);
  });

  it('opens the breaker after repeated failures, re-schedules without asking, probes after the cool-down and closes', async () => {
    const ctx = fakeContext(store.db, clock);
    const ups = new FakeProvider('ups');
    ups.answer = () => ({ kind: 'error', retryable: true, message: 'UPS answered 503' });
    const fedex = new FakeProvider('fedex');
    fedex.answer = (r) => inTransit(r, clock.now().toISOString());
    const providers = new Map<ProviderName, FakeProvider>([['ups', ups], ['fedex', fedex]]);
    const poller = new Poller(ctx, { providers, routes, concurrency: 1, breaker: { threshold: 3, coolDownMs: 300_000 } });
    const upsOps = await openShipments(ctx, Array.from({ length: 5 }, (_, i) => ({ carrier: 'ups' as const, trackingNumber: `1Z${i}` })));
    await openShipments(ctx, [{ carrier: 'fedex', trackingNumber: 'FDX' }]);

    await poller.runOnce();
    // Three failing calls opened it; the other two numbers of the round were not asked.
    expect(ups.numbersAsked).toBe(3);
    expect(poller.breaker('ups').state).toBe('open');
    expect(fedex.numbersAsked).toBe(1); // the healthy provider is not held back
    // The failure that opened it and the two never asked wait for the probe; the two earlier failures
    // keep their own (shorter) poll interval and will find the breaker open.
    const wakes = await Promise.all(upsOps.map((id) => wakeAt(store, id)));
    expect(wakes.filter((w) => w === clock.ms + 300_000)).toHaveLength(3);

    clock.advance(300_000);
    ups.answer = (r) => inTransit(r, clock.now().toISOString());
    await poller.runOnce();
    // Half-open: exactly one probe; it succeeded, so the breaker is closed and the rest come next round.
    expect(ups.numbersAsked).toBe(4);
    expect(poller.breaker('ups').state).toBe('closed');
    clock.advance(1_000);
    await poller.runOnce();
    expect(ups.numbersAsked).toBe(8);
    const metrics = await (await import('prom-client')).register.getSingleMetricAsString('trackhub_carrier_breaker_state');
    expect(metrics).toMatch(/trackhub_carrier_breaker_state\{provider="ups"\} 0/);
  });

  it('drives not-found and expiry with the clock (docs/contract.md §3.3)', async () => {
    const ctx = fakeContext(store.db, clock);
    const fedex = new FakeProvider('fedex');
    const firstScan = clock.now().toISOString();
    fedex.answer = (r) => (r.trackingNumber === 'QUIET' ? inTransit(r, firstScan) : { kind: 'not_found', message: 'no' });
    const poller = new Poller(ctx, { providers: new Map([['fedex' as ProviderName, fedex]]), routes });
    const [never, quiet] = await openShipments(ctx, [{ carrier: 'fedex', trackingNumber: 'NEVER' }, { carrier: 'fedex', trackingNumber: 'QUIET' }]);

    // Walk through 31 days, a poll round every 3 hours (each parcel is due again within the 1 h maximum).
    for (let hours = 0; hours < 31 * 24; hours += 3) {
      clock.advance(3 * 3_600_000);
      await poller.runOnce();
    }
    const sent = await outbox(store);
    const ends = (id: string) => sent.filter((n) => n.operationId === id && n.status === 'FAILED');
    expect(ends(never)).toHaveLength(1);
    expect(ends(never)[0].errorCode).toBe('TRACKING_NUMBER_NOT_FOUND');
    expect(ends(quiet)).toHaveLength(1);
    expect(ends(quiet)[0]).toMatchObject({ errorCode: 'TRACKING_EXPIRED', details: { shipment: { status: 'EXPIRED' } } });
    // The quiet parcel: PENDING, IN_TRANSIT, then EXPIRED; nothing for the identical answers in between.
    expect(sent.filter((n) => n.operationId === quiet).map((n) => n.status)).toEqual(['PENDING', 'SUCCESSFUL', 'FAILED']);
    const polledAfterEnd = fedex.calls.length;
    clock.advance(86_400_000);
    await poller.runOnce();
    expect(fedex.calls.length).toBe(polledAfterEnd);
    expect(await wakeAt(store, never)).toBeNull();
  });

  it('tries each candidate carrier of an ambiguous number in turn and sticks with the one that knows it', async () => {
    const ctx = fakeContext(store.db, clock);
    const usps = new FakeProvider('usps');
    const fedex = new FakeProvider('fedex');
    fedex.answer = (r) => inTransit(r, clock.now().toISOString());
    const poller = new Poller(ctx, { providers: new Map<ProviderName, FakeProvider>([['usps', usps], ['fedex', fedex]]), routes });
    const [id] = await openShipments(ctx, [{ carrier: 'usps-iv-api', trackingNumber: '92001', candidates: ['usps-iv-api', 'fedex'] }]);
    await poller.runOnce();
    expect(usps.calls).toHaveLength(1);
    clock.advance(120_000);
    await poller.runOnce();
    expect(fedex.calls).toHaveLength(1);
    const sent = await outbox(store);
    expect(sent.filter((n) => n.operationId === id).at(-1)?.details.shipment).toMatchObject({ carrier: 'fedex', status: 'IN_TRANSIT' });
    const row = await sql<{ carrier: string }>`select carrier from operations where operation_id = ${id}`.execute(store.db);
    expect(row.rows[0].carrier).toBe('fedex');
    clock.advance(3_600_000);
    await poller.runOnce();
    expect(usps.calls).toHaveLength(1);
    expect(fedex.calls).toHaveLength(2);
  });

  it('asks AfterShip when the primary does not know the number, and returns to the primary once it knows it', async () => {
    const ctx = fakeContext(store.db, clock);
    const fedex = new FakeProvider('fedex'); // answers not_found
    const aftership = new FakeProvider('aftership');
    aftership.answer = (r) => inTransit(r, clock.now().toISOString());
    const poller = new Poller(ctx, { providers: new Map<ProviderName, FakeProvider>([['fedex', fedex], ['aftership', aftership]]), routes: withFallback });
    const [id] = await openShipments(ctx, [{ carrier: 'fedex', trackingNumber: 'FDX404' }]);
    const provider = async () => {
      const row = await store.db.selectFrom('operations').select('state').where('operation_id', '=', id).executeTakeFirstOrThrow();
      return (row.state as unknown as { parcel: { provider?: string } }).parcel.provider;
    };

    await poller.runOnce();
    expect(fedex.calls).toHaveLength(1);
    expect(aftership.calls).toEqual([[{ carrier: 'fedex', trackingNumber: 'FDX404' }]]);
    const sent = (await outbox(store)).filter((n) => n.operationId === id);
    expect(sent.map((n) => n.status)).toEqual(['PENDING', 'SUCCESSFUL']);
    expect(sent[1].details.shipment).toMatchObject({ carrier: 'fedex', status: 'IN_TRANSIT' });
    expect(await provider()).toBe('aftership');

    // The primary is still asked first each time; AfterShip serves while FedEx does not know the number.
    clock.advance(3_600_000);
    await poller.runOnce();
    expect(fedex.calls).toHaveLength(2);
    expect(aftership.calls).toHaveLength(2);

    // FedEx knows it now: the parcel returns to FedEx, whose history replaces AfterShip's, and AfterShip is no longer asked.
    fedex.answer = (r) => inTransit(r, clock.now().toISOString());
    clock.advance(3_600_000);
    await poller.runOnce();
    expect(await provider()).toBe('fedex');
    clock.advance(3_600_000);
    await poller.runOnce();
    expect(fedex.calls).toHaveLength(4);
    expect(aftership.calls).toHaveLength(2);
    const last = (await outbox(store)).filter((n) => n.operationId === id).at(-1) as unknown as { details: { shipment: { checkpoints?: unknown[] } } };
    expect(last.details.shipment).toMatchObject({ carrier: 'fedex', status: 'IN_TRANSIT' });
    const metrics = (await import('prom-client')).register;
    expect(await metrics.getSingleMetricAsString('trackhub_carrier_fallbacks_total')).toMatch(/from="fedex",to="aftership",reason="not_found"\} [1-9]/);
    expect(await metrics.getSingleMetricAsString('trackhub_carrier_polls_total')).toMatch(/provider="aftership",result="found"\} [1-9]/);
  });

  it('hands nothing on once half the poll lease is spent: the next round asks again', async () => {
    const ctx = fakeContext(store.db, clock);
    const fedex = new FakeProvider('fedex');
    let slow = true;
    fedex.answer = () => {
      if (slow) clock.advance(ctx.policy.leaseMs); // a round that took the whole lease
      return { kind: 'not_found', message: 'unknown' };
    };
    const aftership = new FakeProvider('aftership');
    aftership.answer = (r) => inTransit(r, clock.now().toISOString());
    const poller = new Poller(ctx, { providers: new Map<ProviderName, FakeProvider>([['fedex', fedex], ['aftership', aftership]]), routes: withFallback });
    const [id] = await openShipments(ctx, [{ carrier: 'fedex', trackingNumber: 'FDXSLOW' }]);
    await poller.runOnce();
    expect(aftership.calls).toHaveLength(0); // another worker may own the operation by now
    slow = false;
    clock.advance(3_600_000);
    await poller.runOnce();
    expect(aftership.calls).toHaveLength(1);
    expect((await outbox(store)).filter((n) => n.operationId === id).at(-1)?.details.shipment).toMatchObject({ status: 'IN_TRANSIT' });
  });

  it.each(['PENDING', 'EXPIRED'] as const)("AfterShip's %s with no scans does not pin the parcel to AfterShip: the primary is still asked first", async (status) => {
    const ctx = fakeContext(store.db, clock);
    const fedex = new FakeProvider('fedex'); // answers not_found
    const aftership = new FakeProvider('aftership');
    aftership.answer = (r) => {
      const found = inTransit(r, clock.now().toISOString());
      return found.kind === 'found' ? { kind: 'found', snapshot: { ...found.snapshot, status, checkpoints: [] } } : found;
    };
    const poller = new Poller(ctx, { providers: new Map<ProviderName, FakeProvider>([['fedex', fedex], ['aftership', aftership]]), routes: withFallback });
    const [id] = await openShipments(ctx, [{ carrier: 'fedex', trackingNumber: 'FDXQUIET' }]);
    await poller.runOnce();
    const row = await store.db.selectFrom('operations').select('state').where('operation_id', '=', id).executeTakeFirstOrThrow();
    expect((row.state as unknown as { parcel: { provider?: string } }).parcel.provider).toBeUndefined();
    clock.advance(3_600_000);
    await poller.runOnce();
    expect(fedex.calls).toHaveLength(2);
  });

  it('a number neither provider knows ends TRACKING_NUMBER_NOT_FOUND, with both asked on each poll', async () => {
    const ctx = fakeContext(store.db, clock, { notFoundAfterMs: 3 * 3_600_000 });
    const fedex = new FakeProvider('fedex');
    const aftership = new FakeProvider('aftership');
    const poller = new Poller(ctx, { providers: new Map<ProviderName, FakeProvider>([['fedex', fedex], ['aftership', aftership]]), routes: withFallback });
    const [id] = await openShipments(ctx, [{ carrier: 'fedex', trackingNumber: 'NOWHERE' }]);
    for (let i = 0; i < 4; i++) {
      await poller.runOnce();
      clock.advance(3_600_000);
    }
    // Polled at 0, 1 h and 2 h, and at the 3 h deadline, which then ends it.
    expect(fedex.calls).toHaveLength(4);
    expect(aftership.calls).toHaveLength(4);
    expect((await outbox(store)).filter((n) => n.operationId === id).at(-1)).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_NUMBER_NOT_FOUND' });
  });

  it('a UPS error that does not open the breaker hands the number to AfterShip in the same round; AfterShip\'s older view does not replace UPS\'s', async () => {
    const ctx = fakeContext(store.db, clock);
    const firstScan = clock.now().toISOString();
    const ups = new FakeProvider('ups');
    ups.answer = (r) => inTransit(r, firstScan);
    const aftership = new FakeProvider('aftership');
    aftership.answer = (r) => inTransit(r, firstScan);
    const poller = new Poller(ctx, {
      providers: new Map<ProviderName, FakeProvider>([['ups', ups], ['aftership', aftership]]),
      routes: withFallback,
      breaker: { threshold: 5, coolDownMs: 300_000 },
    });
    const [id] = await openShipments(ctx, [{ carrier: 'ups', trackingNumber: '1ZKNOWN' }]);
    await poller.runOnce();
    const sentBefore = (await outbox(store)).filter((n) => n.operationId === id).length;

    // One 503 (the breaker stays closed): AfterShip is asked in the same round. It has nothing newer: no update.
    ups.answer = () => ({ kind: 'error', retryable: true, message: 'UPS answered 503' });
    clock.advance(3_600_000);
    await poller.runOnce();
    expect(poller.breaker('ups').state).toBe('closed');
    expect(aftership.calls).toHaveLength(1);
    expect((await outbox(store)).filter((n) => n.operationId === id)).toHaveLength(sentBefore);
    const row = await store.db.selectFrom('operations').select('state').where('operation_id', '=', id).executeTakeFirstOrThrow();
    const state = row.state as unknown as { parcel: { provider?: string }; answers?: { lastAt: string } };
    expect(state.parcel.provider).toBe('ups');
    expect(state.answers?.lastAt).toBe(clock.now().toISOString()); // AfterShip's answer still counts as asked

    // A scan UPS has not shown yet: AfterShip's view takes over, as news.
    const newer = new Date(clock.ms - 60_000).toISOString();
    aftership.answer = (r) => inTransit(r, newer);
    clock.advance(3_600_000);
    await poller.runOnce();
    const sent = (await outbox(store)).filter((n) => n.operationId === id);
    expect(sent).toHaveLength(sentBefore + 1);
    const metrics = (await import('prom-client')).register;
    expect(await metrics.getSingleMetricAsString('trackhub_carrier_fallbacks_total')).toMatch(/from="ups",to="aftership",reason="error"\} [1-9]/);
  });

  it('hands numbers to AfterShip while the primary breaker is open, within AfterShip\'s own budget', async () => {
    const ctx = fakeContext(store.db, clock);
    const ups = new FakeProvider('ups');
    ups.answer = () => ({ kind: 'error', retryable: true, message: 'UPS answered 503' });
    const aftership = new FakeProvider('aftership');
    aftership.answer = (r) => inTransit(r, clock.now().toISOString());
    const poller = new Poller(ctx, {
      providers: new Map<ProviderName, FakeProvider>([['ups', ups], ['aftership', aftership]]),
      routes: withFallback,
      rateLimits: { aftership: { count: 2, perMs: 10_000 } },
      breaker: { threshold: 1, coolDownMs: 300_000 },
    });
    const [first] = await openShipments(ctx, [{ carrier: 'ups', trackingNumber: '1ZFIRST' }]);
    // The failed call opens the breaker: the number goes on to AfterShip in the same round.
    await poller.runOnce();
    expect(poller.breaker('ups').state).toBe('open');
    expect(ups.calls).toHaveLength(1);
    expect(aftership.calls).toHaveLength(1);
    expect((await outbox(store)).filter((n) => n.operationId === first).at(-1)?.details.shipment).toMatchObject({ carrier: 'ups', status: 'IN_TRANSIT' });
    // AfterShip gave its first data: its view stands until UPS knows the number again.
    const firstRow = await store.db.selectFrom('operations').select('state').where('operation_id', '=', first).executeTakeFirstOrThrow();
    expect((firstRow.state as unknown as { parcel: { provider?: string } }).parcel.provider).toBe('aftership');

    // While it is open, UPS is not asked at all; AfterShip takes what its budget allows, the rest wait.
    clock.advance(20_000);
    const later = await openShipments(ctx, [{ carrier: 'ups', trackingNumber: '1ZB' }, { carrier: 'ups', trackingNumber: '1ZC' }, { carrier: 'ups', trackingNumber: '1ZD' }]);
    await poller.runOnce();
    expect(ups.calls).toHaveLength(1);
    expect(aftership.numbersAsked).toBe(3);
    // The third waits for AfterShip's budget to free up (its sliding window: 10 s after its calls).
    const wakes = await Promise.all(later.map((id) => wakeAt(store, id)));
    expect(wakes.filter((w) => w !== null && w >= clock.ms + 10_000 && w < clock.ms + 11_000)).toHaveLength(1);
  });

  it('a probe the budget or a pause refused is not lost: the breaker probes again once the pause ends', async () => {
    const ctx = fakeContext(store.db, clock);
    const ups = new FakeProvider('ups');
    ups.answer = () => ({ kind: 'error', retryable: true, message: 'UPS answered 429', retryAfterMs: 120_000 });
    const poller = new Poller(ctx, { providers: new Map<ProviderName, FakeProvider>([['ups', ups]]), routes, rateLimits: { ups: { count: 100, perMs: 1000 } }, breaker: { threshold: 1, coolDownMs: 30_000 } });
    await openShipments(ctx, [{ carrier: 'ups', trackingNumber: '1ZPAUSED' }]);
    await poller.runOnce();
    expect(poller.breaker('ups').state).toBe('open');
    // The cool-down is over at 60 s but UPS's pause is not: the probe is held back, not spent.
    clock.advance(60_000);
    await poller.runOnce();
    expect(ups.calls).toHaveLength(1);
    ups.answer = (r) => inTransit(r, clock.now().toISOString());
    clock.advance(70_000);
    await poller.runOnce();
    expect(ups.calls).toHaveLength(2);
    expect(poller.breaker('ups').state).toBe('closed');
  });

  it('obeys a Retry-After for a day at most, and a nonsense one does not stop the round', async () => {
    const ctx = fakeContext(store.db, clock);
    const ups = new FakeProvider('ups');
    ups.answer = (r) => ({ kind: 'error', retryable: true, message: 'UPS answered 429', retryAfterMs: r.trackingNumber === '1ZHUGE' ? 1e23 : 1e13 });
    const fedex = new FakeProvider('fedex');
    fedex.answer = (r) => inTransit(r, clock.now().toISOString());
    const poller = new Poller(ctx, { providers: new Map<ProviderName, FakeProvider>([['ups', ups], ['fedex', fedex]]), routes, rateLimits: { ups: { count: 100, perMs: 1000 } } });
    const [a, b] = await openShipments(ctx, [{ carrier: 'ups', trackingNumber: '1ZHUGE' }, { carrier: 'ups', trackingNumber: '1ZBIG' }]);
    await openShipments(ctx, [{ carrier: 'fedex', trackingNumber: 'FDXOK' }]);
    await poller.runOnce();
    expect(fedex.calls).toHaveLength(1);
    for (const id of [a, b]) expect(await wakeAt(store, id)).toBeLessThanOrEqual(clock.ms + 86_400_000);
    const row = await store.db.selectFrom('carrier_rate_limits').select('paused_until').where('provider', '=', 'ups').executeTakeFirstOrThrow();
    expect(new Date(row.paused_until as unknown as string).getTime()).toBe(clock.ms + 86_400_000);
  });

  it('keeps the primary\'s "unknown" when the fallback cannot answer, so the number can still end not found', async () => {
    const ctx = fakeContext(store.db, clock, { notFoundAfterMs: 3 * 3_600_000, pollMinIntervalMs: 60_000, pollMaxIntervalMs: 3_600_000 });
    const fedex = new FakeProvider('fedex'); // answers not_found
    const aftership = new FakeProvider('aftership');
    aftership.answer = () => ({ kind: 'error', retryable: false, message: 'AfterShip answered 401' });
    const poller = new Poller(ctx, { providers: new Map<ProviderName, FakeProvider>([['fedex', fedex], ['aftership', aftership]]), routes: withFallback });
    const [id] = await openShipments(ctx, [{ carrier: 'fedex', trackingNumber: 'FDXGONE' }]);
    for (let h = 0; h <= 4; h++) {
      await poller.runOnce();
      clock.advance(3_600_000);
    }
    const sent = (await outbox(store)).filter((n) => n.operationId === id);
    expect(sent.at(-1)).toMatchObject({ status: 'FAILED', errorCode: 'TRACKING_NUMBER_NOT_FOUND' });
    expect(aftership.calls.length).toBeGreaterThan(0);
  });


  it('under a tight budget every call goes out as full as the API allows: put-off polls are queued a call\'s worth at a time', async () => {
    const ctx = fakeContext(store.db, clock);
    const fedex = new FakeProvider('fedex', 30);
    fedex.answer = (r) => inTransit(r, clock.now().toISOString());
    const poller = new Poller(ctx, { providers: new Map([['fedex' as ProviderName, fedex]]), routes, rateLimits: { fedex: { count: 1, perMs: 20_000 } }, batchSize: 200 });
    const ids = await openShipments(ctx, Array.from({ length: 72 }, (_, i) => ({ carrier: 'fedex' as const, trackingNumber: `FDXB${i}` })));
    await poller.runOnce();
    expect(fedex.calls.map((c) => c.length)).toEqual([30]);
    // The 42 left wait in two places: 30 at the first, 12 at the second.
    // (The 30 asked are next due after the poll interval, a minute away.)
    const wakes = (await Promise.all(ids.map((id) => wakeAt(store, id)))).filter((w) => w !== null && w < clock.ms + 50_000) as number[];
    const places = [...new Set(wakes)].sort((a, b) => a - b);
    expect(places).toHaveLength(2);
    expect(wakes.filter((w) => w === places[0])).toHaveLength(30);
    for (const place of places) {
      clock.ms = place;
      await poller.runOnce();
    }
    expect(fedex.calls.map((c) => c.length)).toEqual([30, 30, 12]);
  });


  it('a round that fails settles its grant only once every call of it is back: a call still out keeps counting', async () => {
    const ctx = fakeContext(store.db, clock);
    let release = () => {};
    const slow = new Promise<void>((r) => {
      release = r;
    });
    const ups: FakeProvider & { track: FakeProvider['track'] } = new FakeProvider('ups');
    const track = ups.track.bind(ups);
    ups.track = async (requests) => {
      if (requests[0].trackingNumber === '1ZTHROWS') throw new Error('the carrier client broke');
      await slow;
      return track(requests);
    };
    ups.answer = (r) => inTransit(r, clock.now().toISOString());
    const poller = new Poller(ctx, { providers: new Map([['ups' as ProviderName, ups]]), routes, rateLimits: { ups: { count: 2, perMs: 10_000 } } });
    await openShipments(ctx, [{ carrier: 'ups', trackingNumber: '1ZTHROWS' }, { carrier: 'ups', trackingNumber: '1ZSLOW' }]);
    const round = poller.runOnce();
    await new Promise((r) => setTimeout(r, 200));
    // The failed call has come back, the slow one has not: the grant still counts whole.
    const during = await store.db.selectFrom('carrier_rate_limits').select('buckets').where('provider', '=', 'ups').executeTakeFirstOrThrow();
    expect((during.buckets as unknown as { inFlight: { calls: number }[] }).inFlight.map((f) => f.calls)).toEqual([2]);
    release();
    await expect(round).rejects.toThrow(/the carrier client broke/);
    const after = await store.db.selectFrom('carrier_rate_limits').select('buckets').where('provider', '=', 'ups').executeTakeFirstOrThrow();
    const buckets = after.buckets as unknown as { inFlight: unknown[]; calls: number[] };
    expect(buckets.inFlight).toEqual([]);
    expect(buckets.calls.reduce((a, b) => a + b, 0)).toBe(2); // both calls count from their return
  });


  it('two workers book their put-off polls in one shared queue: the second books after the first, never the same places', async () => {
    const limit = { count: 1, perMs: 5_000 };
    const placeMs = steadyWindowMs(limit);
    const a = await takeBudget(store.db, 'fedex', 2, 60, limit, clock.now(), { places: (g) => (g < 2 ? 1 : 0), placeMs });
    const b = await takeBudget(store.db, 'fedex', 2, 60, limit, clock.now(), { places: (g) => (g < 2 ? 2 : 0), placeMs });
    expect([a.granted, b.granted]).toEqual([1, 0]);
    expect(a.queueStart.getTime()).toBe(a.retryAt.getTime());
    expect(b.queueStart.getTime()).toBe(a.queueStart.getTime() + placeMs);
    // A third, later, books after both; once the queue's end has passed, places start at the next call again.
    const c = await takeBudget(store.db, 'fedex', 1, 1, limit, clock.now(), { places: () => 1, placeMs });
    expect(c.queueStart.getTime()).toBe(a.queueStart.getTime() + 3 * placeMs);
    clock.advance(10 * placeMs);
    const d = await takeBudget(store.db, 'fedex', 1, 1, limit, clock.now(), { places: () => 0, placeMs });
    expect(d.queueStart.getTime()).toBe(d.retryAt.getTime());
  });

  it('places left empty (their polls closed or answered early) do not hold new put-off polls back while the budget has calls to spare', async () => {
    const limit = { count: 5, perMs: 10_000 };
    const placeMs = steadyWindowMs(limit) / limit.count;
    // 5 granted, 55 more booked: the queue ends about 112 s ahead.
    const first = await takeBudget(store.db, 'fedex', 60, 60, limit, clock.now(), { places: (g) => 60 - g, placeMs });
    expect(first.granted).toBe(5);
    await settleBudget(store.db, 'fedex', first.grantId, Array.from({ length: 5 }, () => clock.now()), limit, clock.now());
    // Most of them closed meanwhile. A window later, a take is granted all it asked with calls to spare...
    clock.advance(placeMs * 6);
    const spare = await takeBudget(store.db, 'fedex', 1, 1, limit, clock.now(), { places: () => 0, placeMs });
    expect(spare.granted).toBe(1);
    // ...so the next put-off poll is placed at the next call the budget allows, not behind the empty places.
    const busy = await takeBudget(store.db, 'fedex', 6, 6, limit, clock.now(), { places: (g) => 6 - g, placeMs });
    expect(busy.granted).toBe(4);
    expect(busy.queueStart.getTime()).toBe(busy.retryAt.getTime());
    expect(busy.queueStart.getTime() - clock.ms).toBeLessThan(limit.perMs * 1.1);
  });


  it('a provider row removed by hand is made again by the next take and the next round record', async () => {
    const limit = { count: 5, perMs: 1_000 };
    expect((await takeBudget(store.db, 'dhl', 1, 1, limit, clock.now())).granted).toBe(1);
    await store.db.deleteFrom('carrier_rate_limits').where('provider', '=', 'dhl').execute();
    expect((await takeBudget(store.db, 'dhl', 1, 1, limit, clock.now())).granted).toBe(1);
    await store.db.deleteFrom('carrier_rate_limits').where('provider', '=', 'dhl').execute();
    await recordCarrierRound(store.db, 'dhl', { fallbacks: 2, deadlineWaits: 1, overdue: 0 }, clock.now());
    const row = await store.db.selectFrom('carrier_rate_limits').select(['fallbacks_total', 'deadline_waits_total']).where('provider', '=', 'dhl').executeTakeFirstOrThrow();
    expect(row).toEqual({ fallbacks_total: 2, deadline_waits_total: 1 });
  });

});
