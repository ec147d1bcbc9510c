/**
 * A carrier's call budget as a sliding window: at most `count` calls in ANY interval of `perMs`, whatever
 * its alignment. A carrier counts in its own windows (FedEx per 10 s, USPS per hour, DHL per day), never
 * aligned with ours; a fixed window of our own would let `count` calls at the end of one window and
 * `count` more at the start of the next, twice the budget inside one of the carrier's windows.
 *
 * The window is kept as BUCKETS + 2 buckets of `perMs / BUCKETS` each (a few hundred bytes, whatever the
 * budget: a log of every call would hold 17,000 times for DHL's daily budget). Any interval of `perMs`
 * lies within BUCKETS + 1 consecutive buckets, and one more bucket covers a call that leaves a moment
 * after its grant; so the sum over them bounds every interval. The price is the two spare buckets: 98 %
 * of the budget can be used at a steady rate.
 *
 * A grant is counted when it is made, but a carrier counts a call when it arrives, which may be later (a
 * new connection, a busy process). So once the calls are answered they are moved to the bucket of their
 * answer (`settleCalls`), a time no earlier than their arrival: the next grant then keeps its distance
 * from the call's real arrival, not from its grant.
 *
 * Pure: the store keeps the buckets in the provider's row and applies this under the row's lock.
 */
export const BUCKETS = 100;
const KEPT = BUCKETS + 2;

export interface CallLimit {
  count: number;
  perMs: number;
}

/** Calls granted and numbers wanted per bucket, oldest first; the last bucket is number `epoch`. */
export interface BudgetBuckets {
  bucketMs: number;
  epoch: number;
  calls: number[];
  wanted: number[];
}

export interface BudgetTake {
  buckets: BudgetBuckets;
  granted: number;
  /** Calls in the window that ends now (this take's included). */
  used: number;
  /** Numbers that fell due in the window that ends now (this take's included). */
  wanted: number;
  /** When at least one more call will be allowed (now, when some are left). */
  nextCallAt: number;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** The span over which the budget's `count` calls are actually spread at a steady pace (its window and the spare buckets). */
export function steadyWindowMs(limit: CallLimit): number {
  return Math.max(1, Math.ceil(limit.perMs / BUCKETS)) * KEPT;
}

/** The buckets moved on to `now`: those that left the window dropped, empty ones added. */
function shifted(b: BudgetBuckets | null | undefined, limit: CallLimit, now: number): BudgetBuckets {
  const bucketMs = Math.max(1, Math.ceil(limit.perMs / BUCKETS));
  const epoch = Math.floor(now / bucketMs);
  const fresh = (): BudgetBuckets => ({ bucketMs, epoch, calls: new Array(KEPT).fill(0), wanted: new Array(KEPT).fill(0) });
  // A changed budget starts afresh; so does a row written by another shape of this code.
  if (!b || b.bucketMs !== bucketMs || b.calls?.length !== KEPT || b.wanted?.length !== KEPT) return fresh();
  // A clock that stepped back keeps the newest bucket: what was granted stays counted.
  const by = Math.max(0, epoch - b.epoch);
  if (by >= KEPT) return fresh();
  const pad = new Array(by).fill(0);
  return { bucketMs, epoch: b.epoch + by, calls: [...b.calls.slice(by), ...pad], wanted: [...b.wanted.slice(by), ...pad] };
}

/**
 * Takes up to `want` calls and records `arrivals` numbers that fell due (the demand). Nothing is granted
 * before `pausedUntil` (a carrier's Retry-After).
 */
export function takeCalls(b: BudgetBuckets | null | undefined, want: number, arrivals: number, limit: CallLimit, now: number, pausedUntil?: number): BudgetTake {
  const next = shifted(b, limit, now);
  const paused = pausedUntil !== undefined && pausedUntil > now;
  const granted = paused ? 0 : Math.max(0, Math.min(want, limit.count - sum(next.calls)));
  next.calls[KEPT - 1] += granted;
  next.wanted[KEPT - 1] += arrivals;
  const used = sum(next.calls);
  return { buckets: next, granted, used, wanted: sum(next.wanted), nextCallAt: paused ? (pausedUntil as number) : nextCallAt(next, limit.count, now) };
}

/** The first time the calls still in the window number fewer than `count`. */
function nextCallAt(b: BudgetBuckets, count: number, now: number): number {
  let left = sum(b.calls);
  if (left < count) return now;
  // Bucket i leaves the window when the newest bucket is i + KEPT positions on from it.
  for (let i = 0; i < KEPT; i++) {
    left -= b.calls[i];
    if (left < count) return (b.epoch + i + 1) * b.bucketMs;
  }
  return (b.epoch + KEPT) * b.bucketMs;
}

/**
 * Moves calls granted at `grantedAt` to the buckets of their answers (`answeredAt`, one time per call):
 * counted from then on, the window keeps its distance from each call's arrival however late it left.
 * A call whose grant bucket has already left the window is counted at its answer all the same.
 */
export function settleCalls(b: BudgetBuckets | null | undefined, grantedAt: number, answeredAt: number[], limit: CallLimit): BudgetBuckets {
  const latest = Math.max(grantedAt, ...answeredAt);
  const next = shifted(b, limit, latest);
  const at = (t: number) => Math.floor(t / next.bucketMs) - (next.epoch - (KEPT - 1));
  const from = at(grantedAt);
  for (const t of answeredAt) {
    const to = Math.min(KEPT - 1, at(t));
    if (to < 0) continue;
    if (from >= 0 && next.calls[from] > 0) next.calls[from] -= 1;
    next.calls[to] += 1;
  }
  return next;
}
