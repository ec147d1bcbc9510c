/**
 * Scale-out on one PostgreSQL: throughput per configuration of api + worker processes, then a rolling
 * restart under load that must lose nothing.
 *
 *   node scripts/build.mjs && npx tsx bench/scale.ts [--configs 1,2,3] [--seconds 10] [--connections 64]
 *                                                    [--rolling-rate 400] [--no-rolling] [--quick]
 *
 * For each N in --configs: N `trackhub serve` processes with TRACKHUB_ROLE=api and N with
 * TRACKHUB_ROLE=worker on a new database of the external PostgreSQL (BENCH_DATABASE_URL or
 * TRACKHUB_TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres; dropped after). autocannon
 * sends SHIPMENT track requests (two per card, the second superseding the first: three notifications a
 * card) over --connections connections spread evenly over the api processes for --seconds; the workers
 * deliver into a local receiver. Printed per configuration: track requests accepted/s, p99, notifications
 * delivered/s in the same window (first receipts of each committed update), and the ratio of each to the
 * 1+1 configuration of the same run. Then the backlog is drained and checked (nothing lost, in order).
 *
 * Rolling restart (2+2): track requests at --rolling-rate per second, round-robin over the api processes
 * (a request whose connection is refused or reset is sent again on the other, as a load balancer would,
 * and counted); meanwhile each api, then each worker, gets SIGTERM, exits and is started again. Then every
 * 202-accepted operation must be in the store, every committed notification received at least once, and
 * each operation's updates first received in order.
 *
 * Every process, the load generator, the receiver and PostgreSQL share this machine's cores: on a 2-core
 * box more processes cannot add throughput, they share the same CPU (the figures say how much it costs).
 * Runs dist/ (bin/trackhub.js): build first.
 */
import { cpus } from 'node:os';
import { freshDatabase } from '../test/helpers/stores.ts';
import { benchArgs } from './lib/args.ts';
import { type Figure, fmt, report } from './lib/report.ts';
import { checkNothingLost, commitsOf, cpuSeconds, registerIssuers, type ScaleReceiver, scaleReceiver, startCluster } from './scale/cluster.ts';
import { autocannonLoad } from './scale/load.ts';
import { describeRolling, rollingRestart } from './scale/rolling.ts';

const o = benchArgs('scale', {
  configs: { type: 'numbers', default: [1, 2, 3], quick: [1, 2] },
  seconds: { type: 'number', default: 10, quick: 6 },
  connections: { type: 'number', default: 64 },
  'rolling-rate': { type: 'number', default: 400 },
  'no-rolling': { type: 'boolean' },
  quick: { type: 'boolean' },
});
const { configs, seconds, connections } = o;
const rollingRate = o['rolling-rate'];
const rolling = !o['no-rolling'];
const ISSUERS = 4;

process.env.TRACKHUB_TEST_DATABASE_URL ||= process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

interface ConfigFigures {
  n: number;
  acceptedPerSecond: number;
  p99: number;
  deliveredPerSecond: number;
  drainSeconds: number;
  lost: number;
  outOfOrder: number;
}

/** First receipts whose time falls in [from, to]: what the workers delivered during the load. */
const deliveredBetween = (rx: ScaleReceiver, from: number, to: number) => {
  let n = 0;
  for (const { at } of rx.firstSeen.values()) if (at >= from && at <= to) n++;
  return n;
};

async function throughput(n: number): Promise<ConfigFigures> {
  const db = await freshDatabase('postgres');
  const rx = await scaleReceiver();
  const cluster = await startCluster(db.url, n, n);
  try {
    const issuers = await registerIssuers(cluster.apiUrls[0], ISSUERS, rx.url);
    await autocannonLoad(cluster.apiUrls, issuers, 'warm', Math.min(connections, 16), 2);
    const commitsBefore = await commitsOf(db.url);
    const cpuBefore = [cpuSeconds(cluster.apis), cpuSeconds(cluster.workers)];
    const from = Date.now();
    const burst = await autocannonLoad(cluster.apiUrls, issuers, `n${n}`, connections, seconds);
    const to = Date.now();
    const cpu = [cpuSeconds(cluster.apis) - cpuBefore[0], cpuSeconds(cluster.workers) - cpuBefore[1]];
    // Includes the workers' commits (claims, records) and the statistics collector's lag of up to a second.
    const commits = (await commitsOf(db.url)) - commitsBefore;
    const delivered = deliveredBetween(rx, from, to);
    // The accepted operations are not collected from autocannon; the loss check reads every committed
    // notification against the receiver, and the rolling phase checks the operations themselves.
    const check = await checkNothingLost(db.url, new Set(), rx, 120_000);
    const drainSeconds = (Date.now() - to) / 1000;
    const f = {
      n,
      acceptedPerSecond: burst.accepted / seconds,
      p99: burst.p99,
      deliveredPerSecond: delivered / ((to - from) / 1000),
      drainSeconds,
      lost: check.lostNotifications,
      outOfOrder: check.outOfOrder,
    };
    console.log(
      `${n}+${n}: track ${fmt(f.acceptedPerSecond)} accepted/s  p50 ${burst.p50} ms  p99 ${burst.p99} ms  non-2xx ${burst.non2xx}  errors ${burst.errors}` +
        `  | delivered ${fmt(f.deliveredPerSecond)}/s during the load; backlog drained ${drainSeconds.toFixed(1)} s after it` +
        `  | committed ${check.committed}, received ${check.received}, out of order ${check.outOfOrder}`,
    );
    const perK = (x: number) => ((x / Math.max(1, burst.accepted)) * 1000).toFixed(2);
    console.log(
      `     CPU s per 1,000 accepted: api processes ${perK(cpu[0])}, workers ${perK(cpu[1])} (of ${seconds * cpus().length} core-s in the window: api ${cpu[0].toFixed(1)}, workers ${cpu[1].toFixed(1)});` +
        ` database commits per accepted request ${(commits / Math.max(1, burst.accepted)).toFixed(2)}`,
    );
    return f;
  } finally {
    await cluster.stop();
    await rx.close();
    await db.drop();
  }
}

console.log(`bench/scale: configs ${configs.map((n) => `${n}+${n}`).join(', ')}, ${connections} connections, ${seconds} s each, ${cpus().length} cores, Node ${process.version}`);
if (cpus().length <= 2) console.log('  (2 cores: every process, the load generator, the receiver and PostgreSQL share them; more processes share the same CPU)');
const all: ConfigFigures[] = [];
for (const n of configs) all.push(await throughput(n));
const figures: Figure[] = [];
const base = all[0];
for (const f of all) {
  const versus = f === base ? undefined : { measure: `${base.n}+${base.n}`, unit: '/s' };
  figures.push(
    {
      measure: `scale: track requests accepted/s, ${f.n} api + ${f.n} worker, ${connections} connections`,
      value: f.acceptedPerSecond,
      unit: '/s',
      ...(versus && { baseline: { ...versus, value: base.acceptedPerSecond }, ratio: f.acceptedPerSecond / base.acceptedPerSecond }),
    },
    { measure: `scale: track p99, ${f.n} api + ${f.n} worker`, value: f.p99, unit: 'ms' },
    {
      measure: `scale: notifications delivered/s, ${f.n} api + ${f.n} worker`,
      value: f.deliveredPerSecond,
      unit: '/s',
      ...(versus && { baseline: { ...versus, value: base.deliveredPerSecond }, ratio: f.deliveredPerSecond / base.deliveredPerSecond }),
    },
    { measure: `scale: notifications lost or out of order, ${f.n}+${f.n}`, value: f.lost + f.outOfOrder, unit: '', target: '0', met: f.lost + f.outOfOrder === 0 },
  );
}
if (rolling) {
  const r = await rollingRestart(rollingRate);
  for (const line of describeRolling(r, rollingRate)) console.log(line);
  figures.push(
    { measure: `rolling restart 2+2: operations accepted (202), ${r.failedOver} requests failed over`, value: r.accepted, unit: '' },
    { measure: 'rolling restart 2+2: processes that did not exit 0 on SIGTERM', value: r.stops.filter((s) => s.exitCode !== 0).length, unit: '', target: '0', met: r.stops.every((s) => s.exitCode === 0) },
    { measure: 'rolling restart 2+2: accepted operations lost', value: r.lostOperations, unit: '', target: '0', met: r.lostOperations === 0 },
    {
      measure: `rolling restart 2+2: notifications lost (of ${r.committed} committed, ${r.received} received)`,
      value: r.lostNotifications,
      unit: '',
      target: '0',
      met: r.lostNotifications === 0,
    },
    { measure: 'rolling restart 2+2: operations notified out of order', value: r.outOfOrder, unit: '', target: '0', met: r.outOfOrder === 0 },
  );
}
report('scale', figures);
process.exit(0);
