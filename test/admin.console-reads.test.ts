import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, readyIssuer, type TestApp, testApp } from './helpers/app.ts';
import { freshStore, type TestStore } from './helpers/stores.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const ISSUER = 'ISSUERCR01';
const DAY_MS = 86_400_000;

/** A 31-day window ending now: its closed hours are rolled up on read, which reads insight_hours first. */
function window(): string {
  const to = new Date();
  return `from=${new Date(to.getTime() - 31 * DAY_MS).toISOString()}&to=${to.toISOString()}`;
}

/**
 * Another session holds insight_hours under an exclusive lock: every insights read then waits inside
 * PostgreSQL, holding its pooled connection, as a slow 31-day aggregate does.
 */
async function lockInsights(store: TestStore, table = 'insight_hours'): Promise<pg.Client> {
  const locker = new pg.Client({ connectionString: store.connectionUrl });
  await locker.connect();
  await locker.query('begin');
  await locker.query(`lock table ${table} in access exclusive mode`);
  return locker;
}

/** The hub's statements waiting on that lock now (asked outside a transaction: pg_stat_activity is read once per transaction). */
async function blocked(watcher: pg.Client, table = 'insight_hours'): Promise<number> {
  const r = await watcher.query(`select count(*)::int as n from pg_stat_activity
    where datname = current_database() and pid <> pg_backend_pid() and wait_event_type = 'Lock' and query like '%' || $1 || '%'`, [table]);
  return r.rows[0].n;
}

async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

describe('console reads cannot take the pool', () => {
  const stores: TestStore[] = [];
  let t: TestApp;
  let store: TestStore;
  let watcher: pg.Client;

  beforeAll(async () => {
    store = await freshStore('postgres');
    stores.push(store);
    t = await testApp('postgres', {}, { store, consoleReadLimits: { readsAtOnce: 3, heavyAtOnce: 2, waitMs: 300, statementTimeoutMs: 4_000 } });
    watcher = new pg.Client({ connectionString: store.connectionUrl });
    await watcher.connect();
  });
  afterAll(async () => {
    await watcher?.end();
    await t?.close();
    for (const s of stores) await s.close();
  });

  it('runs at most two heavy reads at once, answers the rest 503 with Retry-After, and the Issuer API stays fast', async () => {
    const { token } = await readyIssuer(t.app, ISSUER);
    const locker = await lockInsights(store);
    try {
      // Two operators (one heavy slot per token): six reads each.
      const made = await t.app.inject({ method: 'POST', url: '/admin/v1/admin-tokens', headers: admin, payload: { name: 'cr-heavy', scope: 'read' } });
      const second = { authorization: `Bearer ${made.json().token}` };
      const heavy = Array.from({ length: 12 }, (_, i) =>
        t.app.inject({ method: 'GET', url: `/admin/v1/insights/summary?${window()}`, headers: i % 2 === 0 ? admin : second }),
      );
      let settled = false;
      const all = Promise.all(heavy).finally(() => {
        settled = true;
      });
      let peak = 0;
      const sampler = (async () => {
        while (!settled) {
          peak = Math.max(peak, await blocked(watcher));
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      expect(await until(async () => (await blocked(watcher)) === 2, 3_000)).toBe(true);
      // The hot path meanwhile: a track request (a write) and readiness, well under the reads' timeout.
      const began = Date.now();
      const track = await t.app.inject({
        method: 'POST',
        url: `/banking/v1/issuers/${ISSUER}/physicalCards/card_reads_1/track`,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        payload: '{"trackingType":"PRODUCTION"}',
      });
      const trackMs = Date.now() - began;
      expect(track.statusCode, track.body).toBe(202);
      const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      expect(Date.now() - began).toBeLessThan(2_500);
      expect(trackMs).toBeLessThan(2_000);
      const answers = await all;
      await sampler;
      expect(peak).toBe(2);
      const refusals = answers.map((a) => ({ status: a.statusCode, retryAfter: a.headers['retry-after'], code: a.json().errorCode }));
      // Two ran into the statement timeout (Retry-After 30: past what the console retries by itself, with a
      // message asking for a shorter window); ten were turned away busy (Retry-After 2: the console retries).
      const timedOut = { status: 503, retryAfter: '30', code: 'SERVICE_UNAVAILABLE' };
      const busy = { status: 503, retryAfter: '2', code: 'SERVICE_UNAVAILABLE' };
      expect(refusals.filter((r) => r.retryAfter === '30')).toEqual(Array(2).fill(timedOut));
      expect(refusals.filter((r) => r.retryAfter === '2')).toEqual(Array(10).fill(busy));
      expect(answers.filter((a) => /took over 4 s .*shorter window/.test(a.json().error))).toHaveLength(2);
    } finally {
      await locker.query('rollback');
      await locker.end();
    }
    const after = await t.app.inject({ method: 'GET', url: `/admin/v1/insights/summary?${window()}`, headers: admin });
    expect(after.statusCode).toBe(200);
  }, 30_000);

  it('cancels the statement in PostgreSQL when the client goes away', async () => {
    const slow = await testApp('postgres', {}, { store, consoleReadLimits: { statementTimeoutMs: 60_000 } });
    const locker = await lockInsights(store);
    try {
      await slow.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = slow.app.server.address() as AddressInfo;
      const req = request({ host: '127.0.0.1', port, path: `/admin/v1/insights/sites?${window()}`, headers: admin });
      req.on('error', () => {});
      req.end();
      expect(await until(async () => (await blocked(watcher)) === 1, 5_000)).toBe(true);
      req.destroy();
      // Cancelled, not left to wait for the lock (or a minute's timeout) for nobody.
      expect(await until(async () => (await blocked(watcher)) === 0, 3_000)).toBe(true);
    } finally {
      await locker.query('rollback');
      await locker.end();
      await slow.close();
    }
  }, 30_000);

  it('light reads (12 replay previews on a locked outbox) take at most the console pool, never the hub\'s: readiness and the Issuer list stay fast', async () => {
    await readyIssuer(t.app, 'ISSUERCR02');
    const locker = await lockInsights(store, 'outbox');
    try {
      const since = new Date(Date.now() - DAY_MS).toISOString();
      const previews = Array.from({ length: 12 }, () =>
        t.app.inject({ method: 'GET', url: `/admin/v1/issuers/ISSUERCR02/replay-preview?since=${since}`, headers: admin }),
      );
      let settled = false;
      const all = Promise.all(previews).finally(() => {
        settled = true;
      });
      let peak = 0;
      const sampler = (async () => {
        while (!settled) {
          peak = Math.max(peak, await blocked(watcher, 'outbox'));
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      expect(await until(async () => (await blocked(watcher, 'outbox')) === 3, 3_000)).toBe(true);
      const began = Date.now();
      const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
      const issuers = await t.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: admin });
      const ms = Date.now() - began;
      expect(ready.statusCode).toBe(200);
      expect(issuers.statusCode).toBe(200);
      expect(ms).toBeLessThan(500);
      const answers = await all;
      await sampler;
      expect(peak).toBe(3);
      expect(answers.map((a) => a.headers['retry-after']).sort()).toEqual([...Array(9).fill('2'), ...Array(3).fill('30')]);
    } finally {
      await locker.query('rollback');
      await locker.end();
    }
  }, 30_000);

  it('gives one token at most one heavy slot: its second waits (503 busy) while another token gets the other', async () => {
    const made = await t.app.inject({ method: 'POST', url: '/admin/v1/admin-tokens', headers: admin, payload: { name: 'cr-reader', scope: 'read' } });
    expect(made.statusCode, made.body).toBe(201);
    const reader = { authorization: `Bearer ${made.json().token}` };
    const locker = await lockInsights(store);
    try {
      const first = t.app.inject({ method: 'GET', url: `/admin/v1/insights/summary?${window()}`, headers: admin });
      expect(await until(async () => (await blocked(watcher)) === 1, 3_000)).toBe(true);
      // The same token again: a heavy slot is free, but not for it.
      const second = await t.app.inject({ method: 'GET', url: `/admin/v1/insights/summary?${window()}`, headers: admin });
      expect(second.statusCode).toBe(503);
      expect(second.headers['retry-after']).toBe('2');
      expect(await blocked(watcher)).toBe(1);
      const other = t.app.inject({ method: 'GET', url: `/admin/v1/insights/sites?${window()}`, headers: reader });
      expect(await until(async () => (await blocked(watcher)) === 2, 3_000)).toBe(true);
      await locker.query('rollback');
      expect((await first).statusCode).toBe(200);
      expect((await other).statusCode).toBe(200);
    } finally {
      await locker.query('rollback').catch(() => {});
      await locker.end();
    }
  }, 30_000);

  it('cancels reads whose clients left even when every console connection is busy with them', async () => {
    const slow = await testApp('postgres', {}, { store, consoleReadLimits: { heavyAtOnce: 3, statementTimeoutMs: 60_000, waitMs: 10_000 } });
    const locker = await lockInsights(store);
    try {
      await slow.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = slow.app.server.address() as AddressInfo;
      // Three tokens (one heavy read each): the console pool's three connections all wait on the lock.
      const tokens = [ADMIN_TOKEN];
      for (const name of ['cr-cancel-1', 'cr-cancel-2']) {
        const made = await slow.app.inject({ method: 'POST', url: '/admin/v1/admin-tokens', headers: admin, payload: { name, scope: 'read' } });
        tokens.push(made.json().token);
      }
      const reqs = tokens.map((token) => request({ host: '127.0.0.1', port, path: `/admin/v1/insights/sites?${window()}`, headers: { authorization: `Bearer ${token}` } }));
      for (const r of reqs) {
        r.on('error', () => {});
        r.end();
      }
      expect(await until(async () => (await blocked(watcher)) === 3, 5_000)).toBe(true);
      for (const r of reqs) r.destroy();
      // Each cancel runs on the connection kept for cancels, not behind the reads it stops.
      expect(await until(async () => (await blocked(watcher)) === 0, 1_500)).toBe(true);
    } finally {
      await locker.query('rollback');
      await locker.end();
      await slow.close();
    }
  }, 30_000);
});
