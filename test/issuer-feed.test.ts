import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAccessTokenKey } from '../src/auth/tokens.ts';
import { Dispatcher } from '../src/delivery/dispatcher.ts';
import { FeedCursors } from '../src/http/feed-cursor.ts';
import { createLogger } from '../src/logger.ts';
import { replayNotificationOutcome } from '../src/store/notifications.ts';
import { insertOutbox } from '../src/store/operations.ts';
import { claimDueNotifications } from '../src/store/outbox.ts';
import { clusterIdentity } from '../src/store/store-identity.ts';
import { accessToken, putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { issuerKey } from './helpers/issuer.ts';
import { waitFor } from './helpers/processes.ts';
import { freshDatabase } from './helpers/stores.ts';

// The feed's order rests on PostgreSQL transaction ids; the embedded store is the same PostgreSQL.
let t: TestApp;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
beforeAll(async () => {
  t = await testApp('postgres', { TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true' });
});
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await t.close();
});

interface Page {
  notifications: { webhookId: string; createdAt: string; body: { operations: { operationId: string }[] } }[];
  nextCursor: string;
  hasMore: boolean;
}

async function issuer(issuerId: string, extra: Record<string, unknown> = {}) {
  const key = await issuerKey();
  await putIssuer(t.app, issuerId, key, extra);
  return accessToken(t.app, issuerId, key);
}

const feed = (issuerId: string, token: string, query = '') =>
  t.app.inject({ method: 'GET', url: `/banking/v1/issuers/${issuerId}/notifications${query}`, headers: { authorization: `Bearer ${token}` } });

let seq = 0;
function row(issuerId: string) {
  seq++;
  const id = `msg_feed_${String(seq).padStart(6, '0')}`;
  return { id, issuer_id: issuerId, operation_id: `op_feed_${seq}`, sequence_number: 1, correlation_id: `corr_${seq}`, payload: JSON.stringify({ operationId: `op_feed_${seq}`, sequenceNumber: 1, note: 'é\u2028"' }) };
}

/**
 * Reads the whole feed from `after` until it says it is caught up. Other transactions on the server (other
 * test files) may hold the feed back a moment: `hasMore` is then true and the reader asks again.
 */
async function readAll(issuerId: string, token: string, after?: string, limit = 2) {
  const ids: string[] = [];
  const raw: string[] = [];
  let cursor = after;
  for (let round = 0; round < 200; round++) {
    const res = await feed(issuerId, token, `?limit=${limit}${cursor ? `&after=${cursor}` : ''}`);
    expect(res.statusCode).toBe(200);
    const page = res.json() as Page;
    expect(page.notifications.length).toBeLessThanOrEqual(limit);
    ids.push(...page.notifications.map((n) => n.webhookId));
    raw.push(res.body);
    cursor = page.nextCursor;
    if (!page.hasMore) return { ids, cursor: cursor as string, raw };
  }
  throw new Error('the feed never caught up');
}

describe('catch-up feed', () => {
  it('pages through every notification in commit order, whatever its delivery state; an empty page keeps the cursor', async () => {
    const token = await issuer('FEEDBANK01');
    const rows = [row('FEEDBANK01'), row('FEEDBANK01'), row('FEEDBANK01'), row('FEEDBANK01'), row('FEEDBANK01')];
    for (const r of rows) await insertOutbox(t.store.db, [r]);
    await t.store.db.updateTable('outbox').set({ state: 'dead', attempts: 5 }).where('id', '=', rows[1].id).execute();
    await t.store.db.updateTable('outbox').set({ state: 'delivered', attempts: 1, delivered_at: new Date() }).where('id', '=', rows[2].id).execute();
    const all = await waitFor('five notifications', async () => {
      const got = await readAll('FEEDBANK01', token);
      return got.ids.length === 5 ? got : undefined;
    }, 20_000);
    expect(all.ids).toEqual(rows.map((r) => r.id));
    const again = await feed('FEEDBANK01', token, `?after=${all.cursor}`);
    expect(again.json()).toEqual({ notifications: [], nextCursor: all.cursor, hasMore: false });
    // The first page of a feed with nothing in it gives a cursor to poll with.
    const emptyToken = await issuer('FEEDBANK09');
    const empty = (await feed('FEEDBANK09', emptyToken)).json() as Page;
    expect(empty.notifications).toEqual([]);
    expect(typeof empty.nextCursor).toBe('string');
    expect(empty.hasMore).toBe(false);
  });

  it('two transactions committing out of insert order: nothing is served behind a cursor already handed out', async () => {
    const token = await issuer('FEEDBANK02');
    const start = await readAll('FEEDBANK02', token);
    const early = row('FEEDBANK02');
    const late = row('FEEDBANK02');
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let inserted = () => {};
    const insertedEarly = new Promise<void>((resolve) => {
      inserted = resolve;
    });
    // The first transaction writes its row (taking the lower transaction id) and stays open…
    const first = t.store.db.transaction().execute(async (tx) => {
      await insertOutbox(tx, [early]);
      inserted();
      await held;
    });
    await insertedEarly;
    // …while a second one writes and commits.
    await insertOutbox(t.store.db, [late]);
    const during = await readAll('FEEDBANK02', token, start.cursor);
    // The committed row waits behind the open transaction: served now, the cursor would pass the early row.
    expect(during.ids).toEqual([]);
    release();
    await first;
    const after = await waitFor('both rows', async () => {
      const got = await readAll('FEEDBANK02', token, during.cursor);
      return got.ids.length === 2 ? got : undefined;
    }, 20_000);
    expect(after.ids).toEqual([early.id, late.id]);
  });

  it('serves the pushed webhook-id and body byte for byte, for a batch formed by a push and for rows the feed read first', async () => {
    const pushes: { id: string; body: string }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        pushes.push({ id: String(req.headers['webhook-id']), body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const token = await issuer('FEEDBANK03', { notificationBaseUrl: url, maxOperationsPerNotification: 3 });
    const start = await readAll('FEEDBANK03', token);

    // Read by the feed before any push: each row is pinned as a notification of its own.
    const firstRows = [row('FEEDBANK03'), row('FEEDBANK03')];
    await insertOutbox(t.store.db, firstRows);
    const pulled = await waitFor('the rows read first', async () => {
      const got = await readAll('FEEDBANK03', token, start.cursor, 10);
      return got.ids.length === 2 ? got : undefined;
    }, 20_000);
    // Then pushed in a batch of three (one insert, so the claim takes them together).
    const batchRows = [row('FEEDBANK03'), row('FEEDBANK03'), row('FEEDBANK03')];
    await insertOutbox(t.store.db, batchRows);
    const d = new Dispatcher({ db: t.store.db, log: createLogger('silent'), retryScheduleMs: [50], leaseMs: 10_000, allowPrivateTargets: true, idleWaitMs: 20 });
    d.start();
    cleanups.push(() => d.stop());
    await waitFor('every operation pushed', () => (pushes.reduce((n, p) => n + (JSON.parse(p.body) as Page['notifications'][0]['body']).operations.length, 0) === 5 ? true : undefined), 20_000);
    const all = await waitFor('every notification in the feed', async () => {
      const got = await readAll('FEEDBANK03', token, start.cursor, 10);
      const n = got.raw.flatMap((r) => (JSON.parse(r) as Page).notifications).length;
      return n === pushes.length ? got : undefined;
    }, 20_000);
    const items = all.raw.flatMap((r) => (JSON.parse(r) as Page).notifications);
    expect(items.slice(0, 2).map((i) => i.webhookId)).toEqual(pulled.ids);
    expect(pushes.length).toBe(3);
    for (const p of pushes) {
      const item = items.find((i) => i.webhookId === p.id);
      expect(item, p.id).toBeDefined();
      // The very bytes: written into the answer as pushed, not parsed and written again.
      expect(all.raw.join('')).toContain(`"webhookId":${JSON.stringify(p.id)},"createdAt":${JSON.stringify(item?.createdAt)},"body":${p.body}}`);
    }
    const batch = items.find((i) => i.body.operations.length === 3);
    expect(batch?.body.operations.map((o) => o.operationId).sort()).toEqual(batchRows.map((r) => r.operation_id).sort());
    // Stopped here: left running, it would send the later tests' rows too (see the acknowledgement test).
    await d.stop();
  });

  it('a first send under way (its grouping maybe not written yet) ends the page before it, not skipping it', async () => {
    const token = await issuer('FEEDBANK06', { maxOperationsPerNotification: 3 });
    const start = await readAll('FEEDBANK06', token);
    const [inFlight, after] = [row('FEEDBANK06'), row('FEEDBANK06')];
    await insertOutbox(t.store.db, [inFlight]);
    await insertOutbox(t.store.db, [after]);
    // Claimed by a worker (one attempt counted, lease running), no batch written yet, nothing recorded.
    const [claimed] = await claimDueNotifications(t.store.db, [{ issuer_id: 'FEEDBANK06', lim: 1 }], 1, 60_000);
    expect(claimed).toMatchObject({ id: inFlight.id, batch_id: null, attempts: 1 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const held = await readAll('FEEDBANK06', token, start.cursor);
    expect(held.ids).toEqual([]);
    expect(held.cursor).toBe(start.cursor);
    // Its attempt recorded: served, then the row behind it.
    await t.store.db.insertInto('delivery_attempts').values({ notification_id: inFlight.id, attempt: 1, http_status: 500, latency_ms: 1, error: null, response_body: null }).execute();
    const both = await waitFor('both rows', async () => {
      const got = await readAll('FEEDBANK06', token, start.cursor);
      return got.ids.length === 2 ? got : undefined;
    }, 20_000);
    expect(both.ids).toEqual([inFlight.id, after.id]);
  });

  it('a replayed notification whose attempt log was pruned, its endpoint disabled, is served with everything after it', async () => {
    const token = await issuer('FEEDBANK11');
    const start = await readAll('FEEDBANK11', token);
    const [old, later] = [row('FEEDBANK11'), row('FEEDBANK11')];
    await insertOutbox(t.store.db, [old]);
    await insertOutbox(t.store.db, [later]);
    // Delivered once, long ago: its attempts pruned after 30 days. The endpoint has since answered 410.
    await t.store.db.updateTable('outbox').set({ state: 'delivered', attempts: 1, delivered_at: new Date(Date.now() - 40 * 86_400_000) }).where('id', '=', old.id).execute();
    await t.store.db.updateTable('issuers').set({ endpoint_disabled_at: new Date(), endpoint_disabled_reason: '410 Gone' }).where('issuer_id', '=', 'FEEDBANK11').execute();
    expect(await replayNotificationOutcome(t.store.db, old.id)).toBe('replayed');
    // Pending again, one attempt counted, none logged, and never claimed (the endpoint is disabled): its
    // grouping is fixed all the same (alone), so the feed serves it rather than stopping there for good.
    const got = await waitFor('both rows', async () => {
      const page = await readAll('FEEDBANK11', token, start.cursor);
      return page.ids.length === 2 ? page : undefined;
    }, 10_000);
    expect(got.ids).toEqual([old.id, later.id]);
  });

  it('reading on from a cursor acknowledges the notifications up to it: the updates they held back go out at once, not at their retry', async () => {
    let down = true;
    const pushes: { id: string; seq: number; status: number }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { operations: { sequenceNumber: number }[] };
        const status = down ? 503 : 200;
        pushes.push({ id: String(req.headers['webhook-id']), seq: body.operations[0].sequenceNumber, status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const token = await issuer('FEEDBANK07', { notificationBaseUrl: url });
    const start = await readAll('FEEDBANK07', token);
    // Three updates of one operation; #1's push fails and its retry is ten minutes away, holding #2 and #3.
    const rows = [1, 2, 3].map((n) => ({ ...row('FEEDBANK07'), operation_id: 'op_feed_ack', sequence_number: n, payload: JSON.stringify({ operationId: 'op_feed_ack', sequenceNumber: n }) }));
    await t.store.db.transaction().execute((tx) => insertOutbox(tx, rows));
    const d = new Dispatcher({ db: t.store.db, log: createLogger('silent'), retryScheduleMs: [600_000], leaseMs: 10_000, allowPrivateTargets: true, idleWaitMs: 20 });
    d.start();
    cleanups.push(() => d.stop());
    await waitFor('#1 failed once', async () => {
      const a = await t.store.db.selectFrom('delivery_attempts').select('attempt').where('notification_id', '=', rows[0].id).execute();
      return a.length === 1 ? true : undefined;
    }, 20_000);
    down = false;
    // The receiver is back and catches up: #1 comes from the feed, applied, and the cursor moves past it.
    const first = await waitFor('#1 in the feed', async () => {
      const page = (await feed('FEEDBANK07', token, `?limit=1&after=${start.cursor}`)).json() as Page;
      return page.notifications.length === 1 ? page : undefined;
    }, 20_000);
    expect(first.notifications[0].webhookId).toBe(rows[0].id);
    expect((await feed('FEEDBANK07', token, `?limit=1&after=${first.nextCursor}`)).statusCode).toBe(200);
    const acked = await t.store.db.selectFrom('outbox').select(['state', 'last_error', 'delivered_at']).where('id', '=', rows[0].id).executeTakeFirstOrThrow();
    expect(acked.state).toBe('delivered');
    expect(acked.delivered_at).not.toBeNull();
    expect(acked.last_error).toMatch(/acknowledged through the catch-up feed/);
    // #2 and #3 are pushed now, in order; #1 is not pushed again.
    await waitFor('#2 and #3 pushed', () => (pushes.filter((p) => p.status === 200).length === 2 ? true : undefined), 10_000);
    expect(pushes.map((p) => `${p.seq}:${p.status}`)).toEqual(['1:503', '2:200', '3:200']);
    // Stopped here, not at the end of the file: left running, it claims the next tests' rows (every test
    // issuer has a notification URL), and the next test claims one itself (CI failed on that twice).
    await d.stop();
  });

  it('a notification whose send is under way is left to its attempt by the acknowledgement', async () => {
    const token = await issuer('FEEDBANK08');
    const r = row('FEEDBANK08');
    await insertOutbox(t.store.db, [r]);
    // Only first pages are read here: reading on from a cursor acknowledges what it passes.
    const served = await waitFor('the row in the feed', async () => {
      const page = (await feed('FEEDBANK08', token, '?limit=10')).json() as Page;
      return page.notifications.some((n) => n.webhookId === r.id) ? { cursor: page.nextCursor } : undefined;
    }, 20_000);
    // A worker claims it (lease of a minute) and is sending it.
    const [claimed] = await claimDueNotifications(t.store.db, [{ issuer_id: 'FEEDBANK08', lim: 1 }], 1, 60_000);
    expect(claimed.id).toBe(r.id);
    const leased = await t.store.db.selectFrom('outbox').select(['next_attempt_at']).where('id', '=', r.id).executeTakeFirstOrThrow();
    expect((await feed('FEEDBANK08', token, `?after=${served.cursor}`)).statusCode).toBe(200);
    const after = await t.store.db.selectFrom('outbox').select(['state', 'next_attempt_at', 'attempts']).where('id', '=', r.id).executeTakeFirstOrThrow();
    expect(after).toEqual({ state: 'pending', next_attempt_at: leased.next_attempt_at, attempts: 1 });
    // Its attempt failed and was recorded: now it waits for a retry, and the next read acknowledges it.
    await t.store.db.insertInto('delivery_attempts').values({ notification_id: r.id, attempt: 1, http_status: 500, latency_ms: 1, error: null, response_body: null }).execute();
    await feed('FEEDBANK08', token, `?after=${served.cursor}`);
    expect((await t.store.db.selectFrom('outbox').select('state').where('id', '=', r.id).executeTakeFirstOrThrow()).state).toBe('delivered');
  });

  it('a transaction left open in another database of the server does not hold the feed back', async () => {
    const token = await issuer('FEEDBANK10');
    const start = await readAll('FEEDBANK10', token);
    const other = await freshDatabase('postgres');
    const client = new pg.Client({ connectionString: other.url });
    await client.connect();
    cleanups.push(async () => {
      await client.end().catch(() => {});
      await other.drop();
    });
    await client.query('create table elsewhere (x int)');
    // Idle in transaction, holding a transaction id, in another database.
    await client.query('begin');
    await client.query('insert into elsewhere values (1)');
    const r = row('FEEDBANK10');
    await insertOutbox(t.store.db, [r]);
    const got = await waitFor('the row served', async () => {
      const page = await readAll('FEEDBANK10', token, start.cursor);
      return page.ids.length === 1 ? page : undefined;
    }, 10_000);
    expect(got.ids).toEqual([r.id]);
    await client.query('rollback');
  });

  it("refuses another issuer's token, no token, a bad cursor and a bad limit with the D1 error body", async () => {
    const token = await issuer('FEEDBANK04');
    await issuer('FEEDBANK05');
    const other = await feed('FEEDBANK05', token);
    expect(other.statusCode).toBe(403);
    expect(other.json()).toEqual({ errorCode: 'FORBIDDEN', error: 'the access token belongs to another issuer' });
    const none = await t.app.inject({ method: 'GET', url: '/banking/v1/issuers/FEEDBANK04/notifications' });
    expect(none.statusCode).toBe(401);
    expect(none.json().errorCode).toBe('AUTHORIZER_UNAUTHORIZED');
    const forged = Buffer.from(JSON.stringify(['1; drop table outbox', 'x'])).toString('base64url');
    for (const q of ['?after=nope', `?after=${forged}`, '?after=W10', '?limit=0', '?limit=501', '?limit=abc', '?limit=-1', '?limit=1&limit=2', '?since=1']) {
      const res = await feed('FEEDBANK04', token, q);
      expect(res.statusCode, q).toBe(400);
      expect(res.json().errorCode, q).toMatch(/^FIELD_INVALID_(FORMAT|VALUE)$/);
      expect(res.json().error, q).toMatch(q.includes('after') ? /^after: / : q.includes('since') ? /^since: / : /limit/);
    }
    expect((await feed('FEEDBANK04', token, '?limit=500')).statusCode).toBe(200);
  });

  it("takes only a cursor this hub handed to this issuer: another issuer's, a tampered one or one out of range is a 400 and acknowledges nothing", async () => {
    const tokenA = await issuer('FEEDBANK12');
    const tokenB = await issuer('FEEDBANK13');
    const startA = await readAll('FEEDBANK12', tokenA);
    const r = row('FEEDBANK12');
    await insertOutbox(t.store.db, [r]);
    const cluster = await clusterIdentity(t.store.db);
    const cursors = new FeedCursors(await loadAccessTokenKey(t.store.db), cluster);
    const refused = async (cursor: string, what: string) => {
      const res = await feed('FEEDBANK12', tokenA, `?after=${encodeURIComponent(cursor)}`);
      expect(res.statusCode, what).toBe(400);
      expect(res.json(), what).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'after: is not a cursor this API returned to this issuer (pass nextCursor as it came)' });
    };
    // B's own cursor, handed to B, and one made for B far ahead: not A's.
    const bCursor = (await readAll('FEEDBANK13', tokenB)).cursor;
    await refused(bCursor, "B's cursor");
    await refused(cursors.encode('FEEDBANK13', { xid: '9223372036854775807', id: 'zzzz' }), "B's cursor far ahead");
    // A cursor another hub store (another key) made for A.
    await refused(new FeedCursors(new Uint8Array(32).fill(7), cluster).encode('FEEDBANK12', { xid: '9223372036854775807', id: 'zzzz' }), 'another hub');
    // A cursor of this store from before it moved to another PostgreSQL cluster (its transaction ids restart there).
    const beforeMove = new FeedCursors(await loadAccessTokenKey(t.store.db), 'another-cluster').encode('FEEDBANK12', { xid: '9223372036854775807', id: 'zzzz' });
    await refused(beforeMove, 'another cluster');
    // A's own cursor in another spelling that decodes the same: padding, a stray character, base64 for base64url.
    for (const [spelling, what] of [[`${startA.cursor}=`, 'padded'], [`${startA.cursor}!`, 'a stray character'], [` ${startA.cursor}`, 'a leading space']] as const) await refused(spelling, what);
    // A's own cursor, tampered: the MAC, the position, or the MAC moved onto another position.
    const [body, mac] = startA.cursor.split('.');
    await refused(`${body}.${mac.slice(0, -2)}${mac.endsWith('AA') ? 'AB' : 'AA'}`, 'MAC changed');
    await refused(`${Buffer.from(JSON.stringify(['9223372036854775807', 'zzzz'])).toString('base64url')}.${mac}`, 'position changed');
    await refused(body, 'no MAC');
    await refused(`${startA.cursor}.x`, 'three parts');
    // Signed for A, but past what a transaction id can be: xid8 would cap 2^64 silently; refused from 2^63 on.
    for (const xid of ['18446744073709551616', '18446744073709551615', '9223372036854775808', '99999999999999999999']) await refused(cursors.encode('FEEDBANK12', { xid, id: '' }), xid);
    // 2^63-1 itself is in range (B holds no notification it could acknowledge).
    expect((await feed('FEEDBANK13', tokenB, `?after=${cursors.encode('FEEDBANK13', { xid: '9223372036854775807', id: '' })}`)).statusCode).toBe(200);
    // None of the refused reads acknowledged A's pending notification; A's feed still serves it.
    expect((await t.store.db.selectFrom('outbox').select('state').where('id', '=', r.id).executeTakeFirstOrThrow()).state).toBe('pending');
    const got = await waitFor('the row served', async () => {
      const page = await readAll('FEEDBANK12', tokenA, startA.cursor);
      return page.ids.length === 1 ? page : undefined;
    }, 10_000);
    expect(got.ids).toEqual([r.id]);
  });
});
