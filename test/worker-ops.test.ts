import { afterEach, describe, expect, it } from 'vitest';
import { freePort, type Proc, runCli, stop, waitFor } from './helpers/processes.ts';
import { freshStore, type TestStore } from './helpers/stores.ts';

// A worker-only process has no API; TRACKHUB_OPS_PORT gives it /healthz, /readyz and /metrics (and nothing else).
const ADMIN = 'worker-ops-admin-token-0123456789abcdef';
let store: TestStore | undefined;
let worker: Proc | undefined;
afterEach(async () => {
  await stop(worker);
  await store?.close();
  worker = undefined;
  store = undefined;
});

async function startWorker(env: Record<string, string>): Promise<Proc> {
  store = await freshStore('postgres');
  worker = runCli(['serve'], { TRACKHUB_DATABASE_URL: store.url, TRACKHUB_PORT: String(await freePort()), TRACKHUB_ROLE: 'worker', TRACKHUB_LOG_LEVEL: 'info', TRACKHUB_ADMIN_TOKEN: ADMIN, ...env });
  return worker;
}

describe('a worker-only process and TRACKHUB_OPS_PORT', () => {
  it('serves /healthz, /readyz and its own /metrics (behind a token) on that port, and no other route', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const w = await startWorker({ TRACKHUB_OPS_PORT: String(port) });
    const base = `http://127.0.0.1:${port}`;
    const line = await waitFor('the start line', () => w.output().split('\n').find((l) => l.includes('"msg":"trackhub started"')), 50_000);
    expect(JSON.parse(line)).toMatchObject({ role: 'worker', url: '', ops: base });
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('x-correlation-id')).toMatch(/^corr_/);
    expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({ status: 'ready', store: 'postgres' });
    // Not the sandbox: the metrics name issuers, so they need a token.
    const refused = await fetch(`${base}/metrics`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ errorCode: expect.any(String), error: expect.any(String) });
    const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(metrics.status).toBe(200);
    // This process's own registry: the counters its dispatcher, poller and retention job keep.
    expect(await metrics.text()).toMatch(/^trackhub_retention_last_run_timestamp_seconds /m);
    const other = await fetch(`${base}/banking/v1/issuers/BANK000001/physicalCards/c1/track`, { method: 'POST' });
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ errorCode: 'NOT_FOUND' });
    // The same answers to bad input as the API's (a second attack pass found them Fastify's or Node's).
    const malformed = await fetch(`${base}/%zz`);
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'the URL is malformed' });
    expect(malformed.headers.get('x-correlation-id')).toMatch(/^corr_/);
    const mine = await fetch(`${base}/healthz`, { headers: { 'x-correlation-id': 'scraper-42' } });
    expect(mine.headers.get('x-correlation-id')).toBe('scraper-42');
    const badId = await fetch(`${base}/healthz`, { headers: { 'x-correlation-id': 'bad id!' } });
    expect(badId.status).toBe(400);
    expect(await badId.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: 'x-correlation-id: must be 1 to 64 of [A-Za-z0-9_-]' });
    expect(w.output()).not.toContain(ADMIN);
  });

  it('listens on nothing without it', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const w = await startWorker({ TRACKHUB_PORT: String(port) });
    const line = await waitFor('the start line', () => w.output().split('\n').find((l) => l.includes('"msg":"trackhub started"')), 50_000);
    expect(JSON.parse(line)).not.toHaveProperty('ops');
    // Not even on TRACKHUB_PORT, which for a worker names where the API is.
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('is refused for the api and all roles, and when it is not a port', { timeout: 60_000 }, async () => {
    for (const [env, problem] of [
      [{ TRACKHUB_ROLE: 'api', TRACKHUB_OPS_PORT: '9100' }, /TRACKHUB_OPS_PORT.*is for TRACKHUB_ROLE=worker/],
      [{ TRACKHUB_ROLE: 'all', TRACKHUB_OPS_PORT: '9100' }, /TRACKHUB_OPS_PORT.*is for TRACKHUB_ROLE=worker/],
      [{ TRACKHUB_ROLE: 'worker', TRACKHUB_OPS_PORT: '70000' }, /TRACKHUB_OPS_PORT.*"70000" is not a port number/],
      [{ TRACKHUB_ROLE: 'worker', TRACKHUB_OPS_PORT: 'nine' }, /TRACKHUB_OPS_PORT.*"nine" is not a port number/],
    ] as const) {
      const p = runCli(['serve'], { TRACKHUB_DATABASE_URL: 'postgres://127.0.0.1:1/none', ...env });
      const code = await new Promise<number | null>((resolve) => p.child.once('exit', resolve));
      expect(code, JSON.stringify(env)).toBe(2);
      expect(p.output(), JSON.stringify(env)).toMatch(problem);
    }
  });
});
