/**
 * The pieces of the scale-out runs (bench/scale.ts and test/e2e/rolling-restart.e2e.test.ts): N api and
 * M worker `trackhub serve` processes on one PostgreSQL database, a receiver standing in for the issuers'
 * back-ends, and the check that nothing accepted or committed was lost.
 *
 * Runs dist/ (bin/trackhub.js): build first (`node scripts/build.mjs`) after changing src/.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { sandboxNumbers } from '../../src/sandbox/numbers.ts';
import { assertion, issuerKey, JWT_BEARER, type TestIssuerKey, tokenUrl } from '../../test/helpers/issuer.ts';
import { freePort, type Proc, runCli, stop, waitFor, waitReady } from '../../test/helpers/processes.ts';

export const ADMIN = 'scale-bench-admin-token-0123456789abcdef';

/** Two valid FedEx numbers: a card's second track request names the other one, which supersedes the first. */
export const TRACKING_NUMBERS = sandboxNumbers('7733333')
  .filter((r) => r.carrier === 'fedex')
  .slice(0, 2)
  .map((r) => r.trackingNumber);

export interface Cluster {
  apiUrls: string[];
  apis: Proc[];
  workers: Proc[];
  /** SIGTERM, wait for the exit, start again (an api: until /readyz answers; a worker: its start line). */
  restartApi(i: number): Promise<{ drainMs: number; exitCode: number | null }>;
  restartWorker(i: number): Promise<{ drainMs: number; exitCode: number | null }>;
  stop(): Promise<void>;
}

/**
 * Starts `apis` api processes and `workers` worker processes on `databaseUrl`. The carriers are not
 * configured, so a SHIPMENT is never polled: the work is the Issuer API accepting (operation + outbox row,
 * a supersede's two rows) and the workers delivering.
 */
export async function startCluster(databaseUrl: string, apis: number, workers: number, extraEnv: Record<string, string> = {}): Promise<Cluster> {
  const env = {
    TRACKHUB_DATABASE_URL: databaseUrl,
    TRACKHUB_ADMIN_TOKEN: ADMIN,
    TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true', // the receiver is on loopback
    TRACKHUB_ISSUER_RATE_LIMIT: '1000000',
    TRACKHUB_RETRY_SCHEDULE: '200ms,500ms,1s,1s,2s,2s,2s,2s,2s,2s',
    TRACKHUB_LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  const ports: number[] = [];
  const apiProcs: Proc[] = [];
  const workerProcs: Proc[] = [];
  const startApi = async (i: number) => {
    ports[i] ??= await freePort();
    apiProcs[i] = runCli(['serve'], { ...env, TRACKHUB_PORT: String(ports[i]), TRACKHUB_ROLE: 'api' });
  };
  const startWorker = async (i: number) => {
    // A worker serves no API; its TRACKHUB_PORT (a free one) is only where a sandbox would be reached.
    workerProcs[i] = runCli(['serve'], { ...env, TRACKHUB_PORT: String(await freePort()), TRACKHUB_ROLE: 'worker', TRACKHUB_LOG_LEVEL: 'info' });
  };
  const workerStarted = async (w: Proc): Promise<void> => {
    await waitFor('worker start', () => (w.output().includes('trackhub started') ? true : undefined), 60_000, 50);
  };
  // The first api migrates the database; the others start once it has.
  await startApi(0);
  const apiUrl = (i: number) => `http://127.0.0.1:${ports[i]}`;
  await waitReady(apiUrl(0), apiProcs[0]);
  for (let i = 1; i < apis; i++) await startApi(i);
  for (let i = 0; i < workers; i++) await startWorker(i);
  for (let i = 1; i < apis; i++) await waitReady(apiUrl(i), apiProcs[i]);
  for (const w of workerProcs) await workerStarted(w);
  const restart = async (procs: Proc[], i: number, start: (i: number) => Promise<void>, ready: () => Promise<void>) => {
    const at = performance.now();
    await stop(procs[i], 'SIGTERM');
    const drainMs = performance.now() - at;
    const exitCode = procs[i].child.exitCode;
    await start(i);
    await ready();
    return { drainMs, exitCode };
  };
  return {
    apiUrls: Array.from({ length: apis }, (_, i) => apiUrl(i)),
    apis: apiProcs,
    workers: workerProcs,
    restartApi: (i) => restart(apiProcs, i, startApi, () => waitReady(apiUrl(i), apiProcs[i])),
    restartWorker: (i) => restart(workerProcs, i, startWorker, () => workerStarted(workerProcs[i])),
    async stop() {
      await Promise.all([...apiProcs, ...workerProcs].map((p) => stop(p)));
    },
  };
}

export interface Issuer {
  id: string;
  key: TestIssuerKey;
  token: string;
}

/** Registers `count` issuers (notifications to `receiverUrl`) through the first api; an access token each. */
export async function registerIssuers(apiUrl: string, count: number, receiverUrl: string): Promise<Issuer[]> {
  const out: Issuer[] = [];
  for (let i = 0; i < count; i++) {
    const id = `SCALEBNK${String(i + 1).padStart(2, '0')}`;
    const key = await issuerKey();
    const put = await fetch(`${apiUrl}/admin/v1/issuers/${id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: id, notificationBaseUrl: receiverUrl, jwks: { keys: [key.publicJwk] } }),
    });
    if (put.status !== 201 && put.status !== 200) throw new Error(`PUT issuer ${id}: HTTP ${put.status} ${await put.text()}`);
    const tok = await fetch(`${apiUrl}/authz/v1/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: JWT_BEARER, assertion: await assertion(id, key, { aud: tokenUrl(apiUrl) }) }),
    });
    if (!tok.ok) throw new Error(`token for ${id}: HTTP ${tok.status} ${await tok.text()}`);
    out.push({ id, key, token: ((await tok.json()) as { access_token: string }).access_token });
  }
  return out;
}

/**
 * The issuers' back-ends: answers 204 and keeps, for each (operation, sequenceNumber) the notifications
 * carried, the order of its first receipt (ordering is judged on first receipts; a repeat of an earlier
 * update is at-least-once, not disorder), and the time of each first receipt.
 */
export async function scaleReceiver() {
  const firstSeen = new Map<string, { order: number; at: number }>();
  const webhookIds = new Set<string>();
  let receipts = 0;
  let order = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      receipts++;
      webhookIds.add(String(req.headers['webhook-id']));
      const at = Date.now();
      try {
        const ops = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { operations: { operationId: string; sequenceNumber: number }[] }).operations;
        for (const o of ops) {
          const key = `${o.operationId}#${o.sequenceNumber}`;
          if (!firstSeen.has(key)) firstSeen.set(key, { order: order++, at });
        }
      } catch {
        // not a notification: counted as a receipt only
      }
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    firstSeen,
    webhookIds,
    receipts: () => receipts,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
export type ScaleReceiver = Awaited<ReturnType<typeof scaleReceiver>>;

export interface LossCheck {
  accepted: number;
  /** 202-accepted operation ids not found in the store's operations. */
  lostOperations: number;
  /** Notifications (operation, sequence) committed to the outbox. */
  committed: number;
  /** Of those, received at least once. */
  received: number;
  lostNotifications: number;
  /** Operations whose updates first arrived out of sequence order. */
  outOfOrder: number;
}

/**
 * Waits (up to `timeoutMs`) until every notification committed to the outbox has been received, then
 * compares: every 202-accepted operation is in the store, every committed (operation, sequence) arrived at
 * least once, and each operation's updates first arrived in sequence order.
 */
export async function checkNothingLost(databaseUrl: string, acceptedOps: Set<string>, rx: ScaleReceiver, timeoutMs = 60_000): Promise<LossCheck> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const committed = async () =>
      (await client.query<{ operation_id: string; sequence_number: number }>('select operation_id, sequence_number from outbox')).rows.map((r) => `${r.operation_id}#${r.sequence_number}`);
    let keys = await committed();
    const until = Date.now() + timeoutMs;
    while (Date.now() < until && keys.some((k) => !rx.firstSeen.has(k))) {
      await new Promise((r) => setTimeout(r, 250));
      keys = await committed(); // a supersede may still be adding rows: read them again
    }
    const stored = new Set((await client.query<{ operation_id: string }>('select operation_id from operations')).rows.map((r) => r.operation_id));
    const received = keys.filter((k) => rx.firstSeen.has(k)).length;
    const byOperation = new Map<string, { seq: number; order: number }[]>();
    for (const k of keys) {
      const seen = rx.firstSeen.get(k);
      if (!seen) continue;
      const [op, seq] = k.split('#');
      const list = byOperation.get(op) ?? [];
      list.push({ seq: Number(seq), order: seen.order });
      byOperation.set(op, list);
    }
    let outOfOrder = 0;
    for (const list of byOperation.values()) {
      list.sort((a, b) => a.seq - b.seq);
      if (list.some((e, i) => i > 0 && e.order < list[i - 1].order)) outOfOrder++;
    }
    return {
      accepted: acceptedOps.size,
      lostOperations: [...acceptedOps].filter((op) => !stored.has(op)).length,
      committed: keys.length,
      received,
      lostNotifications: keys.length - received,
      outOfOrder,
    };
  } finally {
    await client.end();
  }
}

/** CPU seconds (user + system) the processes have used so far, from /proc (Linux; 0 elsewhere or once exited). */
export function cpuSeconds(procs: Proc[]): number {
  let ticks = 0;
  for (const p of procs) {
    try {
      // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
      const fields = readFileSync(`/proc/${p.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone, or not Linux
    }
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** Transactions committed in the database so far (pg_stat_database): commits per request tell how well writes are grouped. */
export async function commitsOf(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>('select xact_commit as n from pg_stat_database where datname = current_database()')).rows[0].n);
  } finally {
    await client.end();
  }
}
