/**
 * `npm run fuzz`: requests generated from the hub's own OpenAPI document, sent to a hub the fuzzer starts
 * (or to `--url`, on this machine only), every answer checked. Exits 1 on any failure, and when the heap a
 * hub it started keeps after a full collection grew more than FLAT_PCT over the second half of the run.
 *
 *   npm run fuzz -- [--runs 100000] [--seed N] [--concurrency 16] [--url http://127.0.0.1:8080 --admin-token T [--pid P]]
 */
import { Command, InvalidArgumentError } from 'commander';
import { FLAT_PCT, report, runFuzz } from './run.ts';

const integer = (min: number) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be a whole number of at least ${min}`);
  return n;
};

const program = new Command('fuzz')
  .description("fuzz the hub's HTTP APIs with requests generated from its OpenAPI document")
  .option('--runs <n>', 'requests to send', integer(1), 100_000)
  .option('--seed <n>', 'seed (default: random, printed)', integer(-(2 ** 31)))
  .option('--concurrency <n>', 'requests in flight', integer(1), 16)
  .option('--url <url>', 'a hub already running on this machine (default: start one)')
  .option('--admin-token <token>', 'with --url: its admin token (default: TRACKHUB_ADMIN_TOKEN)')
  .option('--pid <pid>', "with --url: the hub's process id, to sample its RSS", integer(1))
  .parse();

const o = program.opts<{ runs: number; seed?: number; concurrency: number; url?: string; adminToken?: string; pid?: number }>();
const seed = o.seed ?? (Math.random() * 2 ** 31) | 0;
const replay = `npm run fuzz -- --seed ${seed} --runs ${o.runs}${o.url ? ` --url ${o.url}` : ''}`;
try {
  const result = await runFuzz({ runs: o.runs, seed, concurrency: o.concurrency, url: o.url, adminToken: o.adminToken ?? process.env.TRACKHUB_ADMIN_TOKEN, pid: o.pid });
  process.stdout.write(`${report(result, replay)}\n`);
  const heapGrew = result.afterGc !== undefined && result.afterGc.secondHalfGrowthPct > FLAT_PCT;
  process.exitCode = result.failures.length > 0 || heapGrew ? 1 : 0;
} catch (err) {
  process.stderr.write(`fuzz: ${(err as Error).message}\n(seed ${seed}; replay: ${replay})\n`);
  process.exitCode = 2;
}
