/**
 * Throughput of the track endpoint against a no-op route (/healthz) of the same server, in the same run,
 * on the embedded store and (when TRACKHUB_TEST_DATABASE_URL or BENCH_DATABASE_URL is set) on PostgreSQL.
 *
 *   npx tsx bench/track.ts [--connections 32] [--duration 10]
 *
 * The hub runs as a child process with TRACKHUB_ROLE=api, so the load generator and the workers do not
 * share its event loop; what is measured is the API accepting work durably (operation + outbox row).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { stopEmbeddedServer } from '../src/store/embedded.ts';
import { assertion, issuerKey, JWT_BEARER, tokenUrl } from '../test/helpers/issuer.ts';
import { freePort, runCli, stop, waitReady } from '../test/helpers/processes.ts';
import { onBenchPostgres } from '../test/helpers/stores.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const connections = arg('connections', 32);
const duration = arg('duration', 10);
const ADMIN = 'bench-admin-token-0123456789abcdef';
const ISSUER = 'BENCHBANK1';

async function run(url: string, opts: Partial<autocannon.Options>): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ connections, duration, ...opts, url }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function benchStore(label: string, databaseUrl: string) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const hub = runCli(['serve'], {
    TRACKHUB_DATABASE_URL: databaseUrl,
    TRACKHUB_PORT: String(port),
    TRACKHUB_ROLE: 'api',
    TRACKHUB_ADMIN_TOKEN: ADMIN,
    TRACKHUB_LOG_LEVEL: 'warn',
    TRACKHUB_ISSUER_RATE_LIMIT: '1000000',
    TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true', // the notification URL below is on loopback
  });
  try {
    await waitReady(base, hub);
    const key = await issuerKey();
    await fetch(`${base}/admin/v1/issuers/${ISSUER}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Bench', notificationBaseUrl: 'http://127.0.0.1:9', jwks: { keys: [key.publicJwk] } }),
    });
    const tok = await fetch(`${base}/authz/v1/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: JWT_BEARER, assertion: await assertion(ISSUER, key, { aud: tokenUrl(base) }) }),
    });
    const token = (await tok.json()).access_token as string;

    await run(`${base}/healthz`, { duration: 2 }); // warm-up
    const noop = await run(`${base}/healthz`, {});
    let n = 0;
    const body = JSON.stringify({ trackingType: 'SHIPMENT', trackingNumber: '123456789012', carrier: 'fedex' });
    const track = await run(base, {
      requests: [
        {
          method: 'POST',
          setupRequest: (req) => ({
            ...req,
            path: `/banking/v1/issuers/${ISSUER}/physicalCards/bench-${process.pid}-${n++}/track`,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body,
          }),
        },
      ],
    });
    const accepted = track['2xx'];
    const rps = accepted / duration;
    const noopRps = noop['2xx'] / duration;
    console.log(
      `${label.padEnd(9)} track: ${rps.toFixed(0)} accepted/s  p50 ${track.latency.p50} ms  p99 ${track.latency.p99} ms  non-2xx ${track.non2xx}  errors ${track.errors}` +
        `  | no-op: ${noopRps.toFixed(0)} req/s p99 ${noop.latency.p99} ms  | ratio ${(rps / noopRps).toFixed(2)}`,
    );
  } finally {
    await stop(hub);
  }
}

console.log(`bench/track: ${connections} connections, ${duration} s per run, Node ${process.version}`);
const dir = mkdtempSync(join(tmpdir(), 'trackhub-bench-'));
try {
  await benchStore('embedded', `embedded://${dir}/pg`);
} finally {
  await stopEmbeddedServer(join(dir, 'pg'));
  rmSync(dir, { recursive: true, force: true });
}
if (!(await onBenchPostgres((url) => benchStore('postgres', url)))) {
  console.log('postgres  skipped: set TRACKHUB_TEST_DATABASE_URL=postgres://… to include it');
}
