import { describe, expect, it } from 'vitest';
import { type BudgetBuckets, IN_FLIGHT_MS, settleCalls, takeCalls, windowAt } from './call-budget.ts';

const t0 = Date.parse('2026-05-01T08:00:00Z');

/** Asks for `want` calls every `stepMs` for `forMs`; returns the time of every call granted. */
function drive(limit: { count: number; perMs: number }, want: number, stepMs: number, forMs: number, start = t0): number[] {
  let b: BudgetBuckets | undefined;
  const calls: number[] = [];
  for (let now = start; now < start + forMs; now += stepMs) {
    const take = takeCalls(b, want, 0, limit, now);
    // Answered at once: each call counts from its answer.
    b = settleCalls(take.buckets, take.grantId, new Array(take.granted).fill(now), limit, now);
    for (let i = 0; i < take.granted; i++) calls.push(now);
  }
  return calls;
}

/** The most calls inside any interval of `perMs`, wherever it starts. */
function busiest(calls: number[], perMs: number): number {
  return Math.max(0, ...calls.map((c) => calls.filter((d) => d >= c && d < c + perMs).length));
}

describe('the sliding call budget', () => {
  it('never lets more than the budget into any interval of its length, whatever the alignment', () => {
    for (const [limit, step] of [
      [{ count: 1, perMs: 2_000 }, 7],
      [{ count: 5, perMs: 10_000 }, 33],
      [{ count: 60, perMs: 3_600_000 }, 17_000],
    ] as const) {
      // Greedy takers starting at odd offsets, asking for more than the budget each time.
      for (const offset of [0, 1, 999, 1_234]) {
        const calls = drive(limit, limit.count * 3, step, limit.perMs * 6, t0 + offset);
        expect(busiest(calls, limit.perMs), JSON.stringify({ limit, offset })).toBeLessThanOrEqual(limit.count);
        // ...and still serves at least 95 % of it over six windows.
        expect(calls.length).toBeGreaterThanOrEqual(Math.floor(limit.count * 6 * 0.95));
      }
    }
  });

  it('says when the next call will be allowed, and grants it then', () => {
    const limit = { count: 2, perMs: 1_000 };
    const first = takeCalls(undefined, 5, 0, limit, t0);
    expect(first.granted).toBe(2);
    expect(first.nextCallAt).toBeGreaterThanOrEqual(t0 + 1_000);
    expect(first.nextCallAt).toBeLessThanOrEqual(t0 + 1_030);
    const answered = settleCalls(first.buckets, first.grantId, [t0, t0], limit, t0);
    expect(takeCalls(answered, 1, 0, limit, first.nextCallAt - 1).granted).toBe(0);
    expect(takeCalls(answered, 1, 0, limit, first.nextCallAt).granted).toBe(1);
  });

  it('counts the numbers that fell due over the window (the demand), and forgets them after it', () => {
    const limit = { count: 10, perMs: 1_000 };
    let take = takeCalls(undefined, 0, 30, limit, t0);
    take = takeCalls(take.buckets, 0, 12, limit, t0 + 500);
    expect(take.wanted).toBe(42);
    expect(takeCalls(take.buckets, 0, 0, limit, t0 + 1_600).wanted).toBe(0);
  });

  it('grants nothing while the carrier asked to be left alone, and names the end of the pause', () => {
    const take = takeCalls(undefined, 3, 0, { count: 10, perMs: 1_000 }, t0, t0 + 60_000);
    expect(take.granted).toBe(0);
    expect(take.nextCallAt).toBe(t0 + 60_000);
  });

  it('keeps the calls made across a change of window (a rolling restart with two settings), re-bucketed by time', () => {
    const one = { count: 2, perMs: 1_000 };
    const two = { count: 4, perMs: 2_000 };
    // Two workers on different settings take in turn, each settling at once: no second holds more than 2.
    let b: BudgetBuckets | undefined;
    const calls: number[] = [];
    for (let now = t0, i = 0; now < t0 + 10_000; now += 50, i++) {
      const limit = i % 2 === 0 ? one : two;
      const take = takeCalls(b, 5, 0, limit, now);
      b = settleCalls(take.buckets, take.grantId, new Array(take.granted).fill(now), limit, now);
      for (let k = 0; k < take.granted; k++) calls.push(now);
    }
    // Each take holds its own setting against every call made: at most the looser of the two in any
    // interval (wiping the other setting's buckets let 20 through in one second).
    expect(busiest(calls, 1_000)).toBeLessThanOrEqual(4);
    expect(busiest(calls, 2_000)).toBeLessThanOrEqual(8);
    expect(calls.length).toBeGreaterThanOrEqual(15);
  });

  it('reads a row from a skewed clock without freezing or forgetting: ahead by an hour is read as now, behind keeps counting', () => {
    const limit = { count: 5, perMs: 1_000 };
    const a = takeCalls(undefined, 5, 0, limit, t0 + 3_600_000);
    const ahead = settleCalls(a.buckets, a.grantId, [t0 + 3_600_000, t0 + 3_600_000, t0 + 3_600_000, t0 + 3_600_000, t0 + 3_600_000], limit, t0 + 3_600_000);
    // Read by a worker an hour behind: the calls count as just made, and a window later the budget is free.
    const read = takeCalls(ahead, 5, 0, limit, t0);
    expect(read.granted).toBe(0);
    expect(takeCalls(read.buckets, 5, 0, limit, t0 + 1_100).granted).toBe(5);
    // A grant stamped an hour ahead (never settled) stops counting like any lost grant.
    expect(takeCalls(a.buckets, 5, 0, limit, t0).granted).toBe(5);
    // Answers stamped after the newest bucket (a clock ahead) count in the newest; those older than the window not at all.
    const mixed = settleCalls(takeCalls(undefined, 5, 0, limit, t0).buckets, `${t0}`, [t0 + 60_000, t0 - 60_000], limit, t0);
    expect(takeCalls(mixed, 5, 0, limit, t0 + 10).granted).toBe(4);
  });

  it('reads whatever a hand-edited row holds without throwing, counting nonsense as nothing', () => {
    const limit = { count: 5, perMs: 1_000 };
    for (const row of [
      { bucketMs: 10, epoch: 'x', calls: [], wanted: [] },
      { bucketMs: 10, epoch: 1.5, calls: [1], wanted: [1] },
      { bucketMs: 10, epoch: Math.floor(t0 / 10), calls: ['a', {}, -92_000, 1e300], wanted: [null], inFlight: [null, { id: 3 }, { id: 'g', at: t0, calls: '3' }] },
      'not an object',
      [1, 2, 3],
      42,
    ]) {
      const take = takeCalls(row as never, 5, 0, limit, t0);
      expect(take.granted, JSON.stringify(row)).toBeGreaterThanOrEqual(0);
      expect(take.granted, JSON.stringify(row)).toBeLessThanOrEqual(5);
      expect(Number.isFinite(take.used)).toBe(true);
      expect(windowAt(row as never, limit, t0).calls).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('settling calls at their answer', () => {
  it('moves granted calls to the bucket of their answer, so the next grant keeps its distance from a late call', () => {
    const limit = { count: 1, perMs: 1_000 };
    const granted = takeCalls(undefined, 1, 0, limit, t0);
    // The call left late and was answered 300 ms after its grant: the next call waits a window from then.
    const settled = settleCalls(granted.buckets, granted.grantId, [t0 + 300], limit, t0);
    expect(takeCalls(settled, 1, 0, limit, t0 + 1_100).granted).toBe(0);
    expect(takeCalls(settled, 1, 0, limit, t0 + 1_330).granted).toBe(1);
    // Unsettled, it counts in full while in flight, however long: nobody else may call meanwhile.
    expect(takeCalls(granted.buckets, 1, 0, limit, t0 + 5_000).granted).toBe(0);
    // ...until it is taken as lost.
    expect(takeCalls(granted.buckets, 1, 0, limit, t0 + IN_FLIGHT_MS).granted).toBe(1);
  });

  it('holds across takers: a call in flight for seconds keeps every other grant away until a window after its answer', () => {
    const limit = { count: 5, perMs: 1_000 };
    // Worker A takes 5 at 0; one of its calls needs 1.5 s to leave (a token fetched first) and is answered at 1.6 s.
    const a = takeCalls(undefined, 5, 0, limit, t0, undefined, 'a');
    // Worker B asks at 1.1 s (A's grant bucket has left the window): nothing, A's calls are still in flight.
    const b = takeCalls(a.buckets, 5, 0, limit, t0 + 1_100, undefined, 'b');
    expect(b.granted).toBe(0);
    const settled = settleCalls(b.buckets, 'a', [t0 + 50, t0 + 50, t0 + 50, t0 + 50, t0 + 1_600], limit, t0 + 1_600);
    // Four answered at 50 ms are long gone from the window; the late one counts until 2.6 s.
    expect(takeCalls(settled, 5, 0, limit, t0 + 1_700, undefined, 'b').granted).toBe(4);
    expect(takeCalls(settled, 5, 0, limit, t0 + 2_630, undefined, 'b').granted).toBe(5);
  });
});

describe('the window as an operator reads it', () => {
  it('counts calls, calls in flight and numbers wanted in the window that ends now, idle time included', () => {
    const limit = { count: 10, perMs: 1_000 };
    const a = takeCalls(undefined, 3, 40, limit, t0, undefined, 'a');
    expect(windowAt(a.buckets, limit, t0 + 10)).toEqual({ calls: 0, inFlight: 3, wanted: 40 });
    const settled = settleCalls(a.buckets, 'a', [t0 + 20, t0 + 20, t0 + 20], limit, t0);
    expect(windowAt(settled, limit, t0 + 500)).toEqual({ calls: 3, inFlight: 0, wanted: 40 });
    // Nothing taken since: a minute later the window is empty, whatever the row last said.
    expect(windowAt(settled, limit, t0 + 60_000)).toEqual({ calls: 0, inFlight: 0, wanted: 0 });
  });

  it('a time that is not a time never empties the window: answers count as made now, a clock that is not a time grants nothing', () => {
    const limit = { count: 5, perMs: 1_000 };
    const a = takeCalls(undefined, 5, 0, limit, t0, undefined, 'a');
    const settled = settleCalls(a.buckets, 'a', [t0, t0, t0, t0, t0], limit, t0);
    const other = settleCalls(settled, 'unrelated', [Number.NaN], limit, t0 + 10);
    expect(takeCalls(other, 5, 0, limit, t0 + 20).granted).toBe(0);
    expect(takeCalls(settled, 5, 0, limit, Number.NaN).granted).toBe(0);
  });

});
