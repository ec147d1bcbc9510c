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
 * of the budget can be used at a steady pace.
 *
 * A carrier counts a call when it arrives, which may be long after its grant (a new connection, a token
 * fetched first, a busy process). So a grant stays counted, in full, while its calls are in flight (one
 * entry per grant, `inFlight`), and once they are answered each call is counted in the bucket of its
 * answer (`settleCalls`), a time no earlier than its arrival: every other grant, in any worker, keeps its
 * distance from the call's real arrival. A grant never settled (its worker died) stops counting after
 * IN_FLIGHT_MS.
 *
 * Pure: the store keeps this in the provider's row and applies it under the row's lock.
 */
export const BUCKETS = 100;
const KEPT = BUCKETS + 2;
/** A grant not settled within this long is taken as lost (its worker stopped) and no longer counted. */
export const IN_FLIGHT_MS = 120_000;
/** In-flight grants kept at most (one per provider per round per worker); the oldest are dropped first. */
const MAX_IN_FLIGHT = 1_000;

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
  /** Grants whose calls are not answered yet: counted in full until settled. */
  inFlight?: InFlight[];
}

export interface InFlight {
  id: string;
  at: number;
  calls: number;
}

export interface BudgetTake {
  buckets: BudgetBuckets;
  granted: number;
  /** Names this grant for `settleCalls`. */
  grantId: string;
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

/** The buckets moved on to `now`: those that left the window dropped, empty ones added, lost grants forgotten. */
function shifted(b: BudgetBuckets | null | undefined, limit: CallLimit, now: number): BudgetBuckets {
  const bucketMs = Math.max(1, Math.ceil(limit.perMs / BUCKETS));
  const epoch = Math.floor(now / bucketMs);
  const inFlight = (Array.isArray(b?.inFlight) ? (b?.inFlight ?? []) : []).filter((f) => now - f.at < IN_FLIGHT_MS).slice(-MAX_IN_FLIGHT);
  const empty = (): BudgetBuckets => ({ bucketMs, epoch, calls: new Array(KEPT).fill(0), wanted: new Array(KEPT).fill(0), inFlight });
  // A changed budget starts afresh (its calls in flight still count); so does a row of another shape.
  if (!b || b.bucketMs !== bucketMs || b.calls?.length !== KEPT || b.wanted?.length !== KEPT) return empty();
  // A clock that stepped back keeps the newest bucket: what was granted stays counted.
  const by = Math.max(0, epoch - b.epoch);
  if (by >= KEPT) return empty();
  const pad = new Array(by).fill(0);
  return { bucketMs, epoch: b.epoch + by, calls: [...b.calls.slice(by), ...pad], wanted: [...b.wanted.slice(by), ...pad], inFlight };
}

/** Calls counted now: those in the window and those still in flight. */
function counted(b: BudgetBuckets): number {
  return sum(b.calls) + sum((b.inFlight ?? []).map((f) => f.calls));
}

/**
 * Takes up to `want` calls and records `arrivals` numbers that fell due (the demand). Nothing is granted
 * before `pausedUntil` (a carrier's Retry-After).
 */
export function takeCalls(b: BudgetBuckets | null | undefined, want: number, arrivals: number, limit: CallLimit, now: number, pausedUntil?: number, grantId = `${now}`): BudgetTake {
  const next = shifted(b, limit, now);
  const paused = pausedUntil !== undefined && pausedUntil > now;
  const granted = paused ? 0 : Math.max(0, Math.min(want, limit.count - counted(next)));
  if (granted > 0) next.inFlight = [...(next.inFlight ?? []), { id: grantId, at: now, calls: granted }];
  next.wanted[KEPT - 1] += arrivals;
  return { buckets: next, granted, grantId, used: counted(next), wanted: sum(next.wanted), nextCallAt: paused ? (pausedUntil as number) : nextCallAt(next, limit.count, now) };
}

/**
 * The first time the calls still in the window number fewer than `count`, if the calls in flight were
 * answered now (they will be moved to their answers' buckets: until then, this is the earliest it can be).
 */
function nextCallAt(b: BudgetBuckets, count: number, now: number): number {
  const flying = sum((b.inFlight ?? []).map((f) => f.calls));
  let left = sum(b.calls) + flying;
  if (left < count) return now;
  // The calls in flight are answered at the earliest now: they stay in the window for a whole window.
  if (flying >= count) return (b.epoch + KEPT) * b.bucketMs;
  // Bucket i leaves the window when the newest bucket is i + KEPT positions on from it.
  for (let i = 0; i < KEPT; i++) {
    left -= b.calls[i];
    if (left < count) return (b.epoch + i + 1) * b.bucketMs;
  }
  return (b.epoch + KEPT) * b.bucketMs;
}

/**
 * The calls of grant `grantId` were answered at `answeredAt` (one time per call): the grant stops counting
 * in full and each call is counted in the bucket of its answer, a time no earlier than its arrival. A
 * grant no longer known (expired, or the budget changed) is counted at its answers all the same.
 */
export function settleCalls(b: BudgetBuckets | null | undefined, grantId: string, answeredAt: number[], limit: CallLimit): BudgetBuckets {
  const next = shifted(b, limit, Math.max(0, ...answeredAt));
  next.inFlight = (next.inFlight ?? []).filter((f) => f.id !== grantId);
  const first = next.epoch - (KEPT - 1);
  for (const t of answeredAt) {
    const at = Math.min(KEPT - 1, Math.floor(t / next.bucketMs) - first);
    if (at >= 0) next.calls[at] += 1;
  }
  return next;
}

/** The sliding window that ends at `now`, as an operator reads it: calls in it, calls in flight, numbers wanted. */
export function windowAt(b: BudgetBuckets | null | undefined, limit: CallLimit, now: number): { calls: number; inFlight: number; wanted: number } {
  const at = shifted(b, limit, now);
  return { calls: sum(at.calls), inFlight: sum((at.inFlight ?? []).map((f) => f.calls)), wanted: sum(at.wanted) };
}
