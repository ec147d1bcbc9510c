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
async function lockInsights(store: TestStore): Promise<pg.Client> {
  const locker = new pg.Client({ connectionString: store.connectionUrl });
  await locker.connect();
  await locker.query('begin');
  await locker.query('lock table insight_hours in access exclusive mode');
  return locker;
}

/** The hub's statements waiting on that lock now (asked outside a transaction: pg_stat_activity is read once per transaction). */
async function blocked(watcher: pg.Client): Promise<number> {
  const r = await watcher.query(`select count(*)::int as n from pg_stat_activity
    where datname = current_database() and pid <> pg_backend_pid() and wait_event_type = 'Lock' and query like '%insight_hours%'`);
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
    t = await testApp('postgres', {}, { store, consoleReadLimits: { heavyAtOnce: 2, waitMs: 300, statementTimeoutMs: 4_000 } });
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
      const heavy = Array.from({ length: 12 }, () => t.app.inject({ method: 'GET', url: `/admin/v1/insights/summary?${window()}`, headers: admin }));
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
      expect(refusals).toEqual(Array(12).fill({ status: 503, retryAfter: '5', code: 'SERVICE_UNAVAILABLE' }));
      // Two ran into the statement timeout, ten were turned away waiting for a turn.
      expect(answers.filter((a) => /took over 4 s/.test(a.json().error))).toHaveLength(2);
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
});
