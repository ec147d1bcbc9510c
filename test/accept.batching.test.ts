import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../src/domain/errors.ts';
import type { TrackRequestBody } from '../src/domain/track-request.ts';
import { AcceptBatcher, resolveParcel } from '../src/operations/accept.ts';
import type { HubContext } from '../src/operations/context.ts';
import type { Db } from '../src/store/db.ts';
import { type TestApp, testApp } from './helpers/app.ts';
import { STORE_KINDS } from './helpers/stores.ts';

/**
 * What accepting a track request settles beyond the API's answer: which parcel is polled, when the
 * operation first wakes, who is woken, and how concurrent requests share transactions. The clock is
 * pinned, so wake-up times are exact.
 */
const NOW = new Date('2026-06-01T12:00:00.000Z');
const FEDEX = '123456789012'; // a valid FedEx Express number
const AMBIGUOUS = '9261292700768711948021'; // fits USPS (best) and FedEx

describe.each(STORE_KINDS)('accepting track requests on %s', (kind) => {
  let t: TestApp;
  let ctx: HubContext;
  let kicks: { delivery: number; polling: number };
  let transactions: number;

  beforeAll(async () => {
    t = await testApp(kind);
    kicks = { delivery: 0, polling: 0 };
    transactions = 0;
    // The store as the batcher sees it, counting the transactions it opens.
    const db = new Proxy(t.store.db, {
      get(target, prop, receiver) {
        if (prop === 'transaction') {
          return () => {
            transactions++;
            return target.transaction();
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as Db;
    ctx = {
      ...t.context,
      db,
      now: () => NOW,
      kickDelivery: () => void kicks.delivery++,
      kickPolling: () => void kicks.polling++,
    };
    await t.store.db.insertInto('production_sites').values({ site_id: 'FEDEX-SITE', name: 'ships with FedEx', api_key_hash: null, carriers: JSON.stringify(['fedex']) }).execute();
  });
  afterAll(async () => t?.close());

  const row = (operationId: string) =>
    t.store.db.selectFrom('operations').select(['wake_at', 'state', 'is_open']).where('operation_id', '=', operationId).executeTakeFirstOrThrow();
  const accept = (batcher: AcceptBatcher, cardId: string, body: TrackRequestBody) => batcher.accept({ issuerId: 'BANK000001', cardId, correlationId: `corr-${cardId}`, body });

  it('polls the carrier the issuer named, and only that one', async () => {
    expect(await resolveParcel(ctx, { trackingType: 'SHIPMENT', trackingNumber: FEDEX, carrier: 'ups' })).toEqual({
      carrier: 'ups',
      trackingNumber: FEDEX,
      trackingUrl: ctx.trackingUrl('ups', FEDEX),
    });
    expect(await resolveParcel(ctx, { trackingType: 'PRODUCTION' })).toBeUndefined();
  });

  it("asks each carrier that fits an unnamed number in turn, best first, and a site's own carriers first", async () => {
    const parcel = await resolveParcel(ctx, { trackingType: 'SHIPMENT', trackingNumber: AMBIGUOUS });
    expect(parcel).toEqual({
      carrier: 'usps-iv-api',
      trackingNumber: AMBIGUOUS,
      trackingUrl: ctx.trackingUrl('usps-iv-api', AMBIGUOUS),
      candidates: [
        { carrier: 'usps-iv-api', trackingUrl: ctx.trackingUrl('usps-iv-api', AMBIGUOUS) },
        { carrier: 'fedex', trackingUrl: ctx.trackingUrl('fedex', AMBIGUOUS) },
      ],
    });
    const fromSite = await resolveParcel(ctx, { trackingType: 'SHIPMENT', trackingNumber: AMBIGUOUS, productionSite: 'FEDEX-SITE' });
    expect(fromSite?.carrier).toBe('fedex');
    expect(fromSite?.candidates?.map((c) => c.carrier)).toEqual(['fedex', 'usps-iv-api']);
    // A number only one format fits has no candidates to go round.
    expect(await resolveParcel(ctx, { trackingType: 'SHIPMENT', trackingNumber: FEDEX })).toEqual({ carrier: 'fedex', trackingNumber: FEDEX, trackingUrl: ctx.trackingUrl('fedex', FEDEX) });
  });

  it('refuses a number no carrier format fits, asking for the carrier', async () => {
    const err = await resolveParcel(ctx, { trackingType: 'SHIPMENT', trackingNumber: 'X1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ errorCode: 'FIELD_INVALID_VALUE', message: 'trackingNumber: fits no known carrier number format; send the carrier field' });
  });

  it('wakes a new parcel at once and the poller with it; a PRODUCTION sleeps until its deadline and wakes no poller', async () => {
    const batcher = new AcceptBatcher(ctx);
    const before = { ...kicks };
    const shipment = await accept(batcher, 'wake-ship', { trackingType: 'SHIPMENT', trackingNumber: FEDEX, carrier: 'fedex' });
    expect(shipment.created).toBe(true);
    expect(new Date((await row(shipment.operationId)).wake_at as unknown as string).toISOString()).toBe(NOW.toISOString());
    expect(kicks.polling).toBe(before.polling + 1);
    expect(kicks.delivery).toBe(before.delivery + 1); // its PENDING leaves at once

    const production = await accept(batcher, 'wake-prod', { trackingType: 'PRODUCTION' });
    const due = new Date(NOW.getTime() + ctx.policy.productionTimeoutMs).toISOString();
    expect(new Date((await row(production.operationId)).wake_at as unknown as string).toISOString()).toBe(due);
    expect(kicks.polling).toBe(before.polling + 1);

    // A RETURN may be handed the card's shipment parcel inside the transaction: the poller is woken.
    await accept(batcher, 'wake-ship', { trackingType: 'RETURN' });
    expect(kicks.polling).toBe(before.polling + 2);
  });

  it('answers a repeat of an open request with its operation, and supersedes it on a different body', async () => {
    const batcher = new AcceptBatcher(ctx);
    const first = await accept(batcher, 'repeat-1', { trackingType: 'PRODUCTION', productionSite: 'FEDEX-SITE' });
    expect(await accept(batcher, 'repeat-1', { trackingType: 'PRODUCTION', productionSite: 'FEDEX-SITE' })).toEqual({ operationId: first.operationId, created: false });
    const second = await accept(batcher, 'repeat-1', { trackingType: 'PRODUCTION' });
    expect(second.created).toBe(true);
    const old = await row(first.operationId);
    expect(old.is_open).toBe(false);
    expect(old.state).toMatchObject({ status: 'FAILED', errorCode: 'SUPERSEDED' });
  });

  it('puts concurrent requests into transactions of at most maxBatch, each answered with its own operation', async () => {
    const batcher = new AcceptBatcher(ctx, 4, 4);
    const before = transactions;
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => accept(batcher, `batch-${i}`, { trackingType: 'PRODUCTION' })));
    expect(transactions - before).toBe(3); // 4 + 4 + 2
    expect(new Set(results.map((r) => r.operationId)).size).toBe(10);
    expect(results.every((r) => r.created)).toBe(true);
  });

  it('runs no more than maxConcurrent transactions at once; the rest wait their turn', async () => {
    let open = 0;
    let most = 0;
    const slow: HubContext = {
      ...ctx,
      db: new Proxy(ctx.db, {
        get(target, prop) {
          if (prop !== 'transaction') return Reflect.get(target, prop);
          return () => {
            const tx = target.transaction();
            return {
              execute: async <T>(fn: (trx: unknown) => Promise<T>) => {
                open++;
                most = Math.max(most, open);
                try {
                  await new Promise((r) => setTimeout(r, 30));
                  return await tx.execute(fn as never);
                } finally {
                  open--;
                }
              },
            };
          };
        },
      }) as Db,
    };
    const limited = new AcceptBatcher(slow, 1, 2);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => limited.accept({ issuerId: 'BANK000001', cardId: `conc-${i}`, correlationId: 'c', body: { trackingType: 'PRODUCTION' } })));
    expect(results.every((r) => r.created)).toBe(true);
    expect(most).toBe(2);
  });

  it('settles requests for one card one after the other, never in one transaction', async () => {
    const batcher = new AcceptBatcher(ctx, 64, 4);
    const before = transactions;
    const [a, b, c] = await Promise.all([
      accept(batcher, 'same-card', { trackingType: 'PRODUCTION' }),
      accept(batcher, 'same-card', { trackingType: 'PRODUCTION' }),
      accept(batcher, 'other-card', { trackingType: 'PRODUCTION' }),
    ]);
    expect(a.created).toBe(true);
    expect(b).toEqual({ operationId: a.operationId, created: false });
    expect(c.created).toBe(true);
    expect(transactions - before).toBe(2); // same-card + other-card together, then the repeat alone
  });
});

describe.each(STORE_KINDS)('accepting when a transaction fails, on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp(kind);
  });
  afterAll(async () => t?.close());

  /** The store, except that the next `failures` transactions throw `error` before doing anything. */
  function failing(failures: number, error: () => Error): { ctx: HubContext; tries: () => number } {
    let tries = 0;
    const db = new Proxy(t.store.db, {
      get(target, prop, receiver) {
        if (prop === 'transaction') {
          return () => {
            tries++;
            if (tries <= failures) return { execute: async () => Promise.reject(error()) };
            return target.transaction();
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as Db;
    return { ctx: { ...t.context, db, kickDelivery: () => {}, kickPolling: () => {} }, tries: () => tries };
  }
  const uniqueViolation = () => Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' });

  it('a bad request fails alone: the others of its batch are still accepted', async () => {
    const batcher = new AcceptBatcher({ ...t.context, kickDelivery: () => {}, kickPolling: () => {} });
    const cmd = (cardId: string) => ({ issuerId: 'BANK000001', cardId, correlationId: 'c', body: { trackingType: 'PRODUCTION' as const } });
    const [good1, bad, good2] = await Promise.allSettled([batcher.accept(cmd('alone-1')), batcher.accept(cmd('alone-\u0000')), batcher.accept(cmd('alone-2'))]);
    expect(good1).toMatchObject({ status: 'fulfilled', value: { created: true } });
    expect(good2).toMatchObject({ status: 'fulfilled', value: { created: true } });
    expect(bad.status).toBe('rejected');
  });

  it('a request that loses a race on the one-open-operation index is tried again, up to three more times', async () => {
    const raced = failing(3, uniqueViolation);
    const result = await new AcceptBatcher(raced.ctx).accept({ issuerId: 'BANK000001', cardId: 'race-1', correlationId: 'c', body: { trackingType: 'PRODUCTION' } });
    expect(result.created).toBe(true);
    expect(raced.tries()).toBe(4); // the batch, then alone: two more losses and the win

    const lost = failing(5, uniqueViolation);
    await expect(new AcceptBatcher(lost.ctx).accept({ issuerId: 'BANK000001', cardId: 'race-2', correlationId: 'c', body: { trackingType: 'PRODUCTION' } })).rejects.toMatchObject({ code: '23505' });
    expect(lost.tries()).toBe(5); // the batch, then alone four times
  });

  it('any other failure of a lone request is its answer at once, not retried', async () => {
    const down = failing(1, () => new Error('connection terminated'));
    await expect(new AcceptBatcher(down.ctx).accept({ issuerId: 'BANK000001', cardId: 'down-1', correlationId: 'c', body: { trackingType: 'PRODUCTION' } })).rejects.toThrow('connection terminated');
    expect(down.tries()).toBe(1);
  });
});
