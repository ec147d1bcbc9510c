/**
 * Memory under a long steady load: a whole hub (`trackhub serve --sandbox`: API, poller and dispatcher in
 * one process, on the embedded store) takes track requests at half the peak rate measured at the start of
 * the same run, for --minutes, while its notifications go to a local receiver. The hub's resident memory
 * (VmRSS) is sampled every 5 s; the figure is its growth from the end of the first minute (the baseline:
 * caches and pools warm) to the mean of the last minute.
 *
 *   npx tsx bench/soak.ts [--minutes 10] [--rate N (default: half the measured peak)]
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { freePort, runCli, stop, waitReady } from '../test/helpers/processes.ts';
import { tempDir } from '../test/helpers/stores.ts';
import { benchArgs } from './lib/args.ts';
import { benchIssuer } from './lib/issuer.ts';
import { fmt, report } from './lib/report.ts';

// --rate 0, as no --rate, means half the peak measured at the start.
const { minutes, rate: givenRate } = benchArgs('soak', {
  minutes: { type: 'number', default: 10 },
  rate: { type: 'number', default: 0, zero: true, note: '0: half the measured peak' },
});
const ADMIN = 'bench-admin-token-0123456789abcdef';
const ISSUER = 'SOAKBANK01';
const TARGET_GROWTH = 10; // %

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** The issuer's back-end: answers 204 and counts the notifications. */
async function countingReceiver(): Promise<{ url: string; count: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    count: () => n,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function load(base: string, token: string, opts: Partial<autocannon.Options>): Promise<autocannon.Result> {
  let n = 0;
  const run = `${Date.now().toString(36)}`;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: base,
        ...opts,
        requests: [
          {
            method: 'POST',
            setupRequest: (req) => ({
              ...req,
              path: `/banking/v1/issuers/${ISSUER}/physicalCards/soak-${run}-${n++}/track`,
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: JSON.stringify({ trackingType: 'SHIPMENT', trackingNumber: '123456789012', carrier: 'fedex' }),
            }),
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
}

const dir = tempDir('trackhub-soak-');
const rx = await countingReceiver();
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const hub = runCli(['serve', '--sandbox'], {
  TRACKHUB_DATABASE_URL: `embedded://${dir}/pg`,
  TRACKHUB_PORT: String(port),
  TRACKHUB_ADMIN_TOKEN: ADMIN,
  TRACKHUB_LOG_LEVEL: 'warn',
  TRACKHUB_ISSUER_RATE_LIMIT: '1000000',
  TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true', // the receiver is on loopback
});
try {
  await waitReady(base, hub);
  const token = await benchIssuer(base, ADMIN, ISSUER, rx.url);

  const peak = await load(base, token, { connections: 64, duration: 5 });
  const peakRate = peak['2xx'] / 5;
  const rate = givenRate || Math.max(1, Math.round(peakRate / 2));
  console.log(`bench/soak: peak ${fmt(peakRate)} accepted/s; soaking at ${fmt(rate)}/s for ${minutes} min (hub pid ${hub.child.pid})`);

  const pid = hub.child.pid as number;
  const samples: { at: number; mb: number }[] = [];
  const started = Date.now();
  const sampler = setInterval(() => {
    samples.push({ at: (Date.now() - started) / 1000, mb: rssMb(pid) });
    const last = samples.at(-1);
    if (last && samples.length % 12 === 0) console.log(`  ${Math.round(last.at)} s: RSS ${last.mb.toFixed(1)} MB, ${fmt(rx.count())} notifications received`);
  }, 5000);
  const soak = await load(base, token, { connections: 16, duration: minutes * 60, overallRate: rate });
  clearInterval(sampler);

  const warm = samples.filter((s) => s.at <= 60).at(-1) ?? samples[0];
  const lastMinute = samples.filter((s) => s.at > minutes * 60 - 60);
  const endMb = lastMinute.reduce((a, s) => a + s.mb, 0) / Math.max(1, lastMinute.length);
  const growth = ((endMb - warm.mb) / warm.mb) * 100;
  const accepted = soak['2xx'];
  report('soak', [
    {
      measure: `hub RSS growth over a ${minutes}-minute soak at ${fmt(rate)} track requests/s (half the peak ${fmt(peakRate)}/s; ${fmt(accepted)} accepted, non-2xx ${soak.non2xx}, errors ${soak.errors}, ${fmt(rx.count())} notifications received, p99 ${soak.latency.p99} ms): ${warm.mb.toFixed(1)} → ${endMb.toFixed(1)} MB`,
      value: growth,
      unit: '%',
      baseline: { measure: 'RSS after the first minute', value: warm.mb, unit: 'MB' },
      ratio: endMb / warm.mb,
      target: `< ${TARGET_GROWTH} % growth`,
      met: growth < TARGET_GROWTH && soak.non2xx === 0,
    },
  ]);
} finally {
  await stop(hub);
  await rx.close();
}
