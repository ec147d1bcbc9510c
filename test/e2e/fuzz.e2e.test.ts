import { describe, expect, it } from 'vitest';
import { report, runFuzz } from '../../bench/fuzz/run.ts';

/**
 * A slice of `npm run fuzz` in every run: 2,000 requests generated from the hub's OpenAPI document with a
 * fixed seed (the same requests every time), then 2,000 with a seed drawn now (new requests every run,
 * replayable from the seed the failure message prints). Each run starts its own `trackhub serve
 * --sandbox` on an embedded store; any finding fails the test with the fuzzer's report.
 */
const RUNS = 2_000;
const FIXED_SEED = 20_261_205;

describe('HTTP API fuzzing (a 2,000-request slice of npm run fuzz)', () => {
  for (const [name, seed] of [
    ['a fixed seed', FIXED_SEED],
    ['a random seed', (Math.random() * 2 ** 31) | 0],
  ] as const) {
    it(`no 5xx, contract error bodies, no bad credential accepted, no secret echoed: ${name} (${seed})`, async () => {
      const result = await runFuzz({ runs: RUNS, seed, concurrency: 8, log: () => {} });
      const replay = `npm run fuzz -- --seed ${seed} --runs ${RUNS}`;
      expect(result.sent + result.unsendable, 'every generated request was tried').toBe(RUNS);
      // Most requests must get an answer: a client that refused them all would prove nothing.
      expect(result.sent).toBeGreaterThan(RUNS * 0.95);
      for (const route of result.routes) expect(result.counts.has(route), `${route} was reached`).toBe(true);
      expect(result.failures, report(result, replay)).toEqual([]);
    }, 600_000);
  }
});
