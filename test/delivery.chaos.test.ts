import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { chaosReceivers } from './helpers/chaos-receivers.ts';
import { assertion, issuerKey, JWT_BEARER } from './helpers/issuer.ts';
import { freePort, type Proc, runCli, stop, waitFor, waitReady } from './helpers/processes.ts';
import { childProcessStore, freshPostgresDatabase, STORE_KINDS } from './helpers/stores.ts';

/**
 * Chaos: tracking updates flow through the real path (Issuer API → operation + outbox rows committed
 * by the store code → worker processes → issuers' receivers) while receivers fail at random 30 % of
 * the time and go down for a stretch, and workers are SIGKILLed at random and restarted. At the end
 * every accepted update has been received (answered 2xx) at least once; the duplicate rate is printed.
 */
const ADMIN = 'chaos-admin-token-0123456789';
const ISSUERS = ['CHAOSBANK1', 'CHAOSBANK2', 'CHAOSBANK3'];
const UPDATES = 2000;
const FAILURE_RATE = 0.3;

const baseEnv = (databaseUrl: string) => ({
  TRACKHUB_DATABASE_URL: databaseUrl,
  TRACKHUB_ADMIN_TOKEN: ADMIN,
  TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true', // the receivers are on loopback
  TRACKHUB_ISSUER_RATE_LIMIT: '100000',
  // Enough short retries that a random 30 % failure rate and a 3 s outage never exhaust the schedule.
  TRACKHUB_RETRY_SCHEDULE: '100ms,200ms,400ms,800ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,2s,2s,2s,2s,2s',
  // A killed worker's rows come back after the lease, which is never shorter than 1.5 × the attempt
  // timeout (an attempt still running must not be claimed again).
  TRACKHUB_LEASE: '4500ms',
  TRACKHUB_DELIVERY_TIMEOUT: '3s',
  TRACKHUB_LOG_LEVEL: 'warn',
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const between = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

const receivers = () => chaosReceivers(ISSUERS.length, FAILURE_RATE);

async function registerIssuers(api: string, urls: string[]) {
  const tokens: string[] = [];
  for (const [i, issuerId] of ISSUERS.entries()) {
    const key = await issuerKey();
    const put = await fetch(`${api}/admin/v1/issuers/${issuerId}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: issuerId, notificationBaseUrl: urls[i], jwks: { keys: [key.publicJwk] } }),
    });
    expect(put.status).toBe(201);
    const tok = await fetch(`${api}/authz/v1/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: JWT_BEARER, assertion: await assertion(issuerId, key) }),
    });
    tokens.push((await tok.json()).access_token);
  }
  return tokens;
}

/**
 * Sends UPDATES track requests at a steady pace (so the chaos happens while they flow). A request that
 * fails because the hub is down is sent again: the same body for an open operation is idempotent.
 */
async function sendUpdates(api: () => string, tokens: string[], durationMs: number): Promise<Set<string>> {
  const expected = new Set<string>();
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < UPDATES; i = next++) {
      const due = started + (i / UPDATES) * durationMs;
      if (due > Date.now()) await sleep(due - Date.now());
      const issuer = i % ISSUERS.length;
      for (;;) {
        try {
          // undici's request, not fetch: the receivers share this process, and fetch's cost here made them
          // answer late, so more of what a killed hub had sent was received after it died.
          const res = await request(`${api()}/banking/v1/issuers/${ISSUERS[issuer]}/physicalCards/card-${i}/track`, {
            method: 'POST',
            headers: { authorization: `Bearer ${tokens[issuer]}`, 'content-type': 'application/json' },
            body: JSON.stringify({ trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber: `CHAOS${i}` }),
          });
          if (res.statusCode === 202) {
            expected.add(((await res.body.json()) as { operationId: string }).operationId);
            break;
          }
          await res.body.dump();
        } catch {
          // hub restarting
        }
        await sleep(100);
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return expected;
}

/** Takes each receiver down for a stretch, one after the other, while the updates flow. */
async function outages(rx: Awaited<ReturnType<typeof receivers>>, until: () => boolean) {
  for (const r of rx.list) {
    if (until()) return;
    await sleep(between(1000, 2500));
    await r.down();
    await sleep(3000);
    await r.up();
  }
}

async function report(label: string, expected: Set<string>, rx: Awaited<ReturnType<typeof receivers>>, kills: number) {
  const missing = [...expected].filter((id) => !rx.accepted.has(id));
  const deliveries = [...rx.acceptedIds.values()].reduce((a, b) => a + b, 0);
  const duplicates = deliveries - rx.acceptedIds.size;
  const rate = duplicates / Math.max(1, rx.acceptedIds.size);
  console.log(
    `[chaos ${label}] updates=${expected.size} received=${expected.size - missing.length} missing=${missing.length} ` +
      `kills=${kills} duplicates=${duplicates} duplicate-rate=${(rate * 100).toFixed(2)}% attempts=${await rx.attempts()}`,
  );
  return { missing, rate };
}

describe.each(STORE_KINDS.filter((k) => k === 'postgres'))('chaos on %s: two workers killed at random', () => {
  it('every update reaches its issuer at least once', async () => {
    const db = await freshPostgresDatabase();
    const rx = await receivers();
    const apiPort = await freePort();
    const api = `http://127.0.0.1:${apiPort}`;
    const env = baseEnv(db.url);
    const apiProc = runCli(['serve'], { ...env, TRACKHUB_PORT: String(apiPort), TRACKHUB_ROLE: 'api' });
    const workers: (Proc | undefined)[] = [undefined, undefined];
    const startWorker = async (i: number) => {
      const w = runCli(['serve'], { ...env, TRACKHUB_PORT: String(await freePort()), TRACKHUB_ROLE: 'worker', TRACKHUB_LOG_LEVEL: 'info' });
      workers[i] = w;
      await waitFor(`worker ${i} started`, () => (w.output().includes('trackhub started') ? true : undefined), 60_000, 50);
    };
    let kills = 0;
    let done = false;
    try {
      await waitReady(api, apiProc);
      const tokens = await registerIssuers(api, rx.list.map((r) => r.url));
      await startWorker(0);
      await startWorker(1);
      const chaos = (async () => {
        // Each kill comes after the workers have run for a random while, so they work between kills.
        while (!done) {
          await sleep(between(1000, 2500));
          if (done) continue;
          const i = Math.floor(Math.random() * 2);
          await stop(workers[i], 'SIGKILL');
          kills++;
          await sleep(between(100, 800));
          await startWorker(i);
        }
      })();
      const flow = outages(rx, () => done);
      const expected = await sendUpdates(() => api, tokens, 12_000);
      expect(expected.size).toBe(UPDATES);
      // Keep the chaos going until at least three kills have happened, whatever the machine's speed.
      await waitFor('every update received', () => (kills >= 3 && [...expected].every((id) => rx.accepted.has(id)) ? true : undefined), 90_000, 250).catch(() => undefined);
      done = true;
      await Promise.all([chaos, flow]);
      const { missing, rate } = await report('postgres', expected, rx, kills);
      expect(missing).toEqual([]);
      expect(kills).toBeGreaterThanOrEqual(3);
      // Each SIGKILL re-sends what the killed worker had in flight (received, not yet recorded): the rate
      // depends on load; measured 1-5 % with ~3 kills in 40 s on a busy 2-core machine.
      expect(rate).toBeLessThan(0.1);
    } finally {
      done = true;
      for (const w of workers) await stop(w, 'SIGKILL');
      await stop(apiProc);
      await rx.close();
      await db.drop();
    }
  }, 150_000);
});

describe('chaos on the embedded store: the one process SIGKILLed twice and restarted', () => {
  it('every update reaches its issuer at least once; duplicates printed (bounded)', async () => {
    const store = await childProcessStore('embedded', 'trackhub-chaos');
    const rx = await receivers();
    const port = await freePort();
    const api = `http://127.0.0.1:${port}`;
    const env = { ...baseEnv(store.url), TRACKHUB_PORT: String(port), TRACKHUB_ROLE: 'all' };
    let hub: Proc | undefined = runCli(['serve'], env);
    let kills = 0;
    let done = false;
    try {
      await waitReady(api, hub);
      const tokens = await registerIssuers(api, rx.list.map((r) => r.url));
      const chaos = (async () => {
        for (let k = 0; k < 2 && !done; k++) {
          await sleep(between(2500, 4500));
          await stop(hub, 'SIGKILL');
          kills++;
          hub = runCli(['serve'], env);
          await waitReady(api, hub);
        }
      })();
      const flow = outages(rx, () => done);
      const expected = await sendUpdates(() => api, tokens, 10_000);
      expect(expected.size).toBe(UPDATES);
      await waitFor('every update received', () => ([...expected].every((id) => rx.accepted.has(id)) ? true : undefined), 90_000, 250).catch(() => undefined);
      done = true;
      await Promise.all([chaos, flow]);
      const { missing, rate } = await report('embedded', expected, rx, kills);
      expect(missing).toEqual([]);
      expect(kills).toBe(2);
      // Each SIGKILL re-sends what the receivers had answered and the hub had not yet written down: about
      // (deliveries/s) x (answer-to-record time). Measured here: ~290 attempts/s and a median 9 ms + 8 ms
      // from the receiver's answer to the hub's record on this shared 2-core machine, giving 0-11 of 2,000
      // (0-0.55 %) over 7 runs of this file alone, 1.35 % once inside the full suite (three test files at
      // once on two cores: every answer reaches the hub later). The goal is under 0.1 %; this bound only
      // catches a gross regression without failing on the machine's scheduling.
      expect(rate).toBeLessThan(0.03);
    } finally {
      done = true;
      await stop(hub, 'SIGKILL');
      await rx.close();
      await store.cleanup();
    }
  }, 150_000);
});
