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

/** A count read back from the store: a whole number from 0 to 10^9, anything else 0 (a row edited by hand). */
function countOf(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.min(1e9, Math.max(0, Math.floor(v))) : 0;
}

/** The grants still in flight at `now`, from whatever the row holds: well-formed, not expired, at most MAX_IN_FLIGHT. */
function inFlightAt(b: BudgetBuckets | null | undefined, now: number): InFlight[] {
  const given: unknown[] = Array.isArray(b?.inFlight) ? (b?.inFlight as unknown[]) : [];
  return given
    .filter((f): f is InFlight => typeof f === 'object' && f !== null && typeof (f as InFlight).id === 'string' && Number.isFinite((f as InFlight).at))
    .map((f) => ({ id: f.id.slice(0, 64), at: f.at, calls: countOf(f.calls) }))
    // A grant stamped ahead of this clock (another worker's clock runs ahead) expires all the same.
    .filter((f) => Math.abs(now - f.at) < IN_FLIGHT_MS)
    .slice(-MAX_IN_FLIGHT);
}

/**
 * The buckets moved on to `now`: those that left the window dropped, empty ones added, lost grants
 * forgotten. Whatever the row holds is read defensively (a hand-edited or older row never throws).
 * Buckets of another size (a worker started with another window length, during a rolling restart) are
 * re-bucketed by time, each into the bucket holding its end: calls keep counting for as long as the
 * stricter reading says, instead of being forgotten or counted twice.
 */
function shifted(b: BudgetBuckets | null | undefined, limit: CallLimit, now: number): BudgetBuckets {
  const bucketMs = Math.max(1, Math.ceil(limit.perMs / BUCKETS));
  const epoch = Math.floor(now / bucketMs);
  const out: BudgetBuckets = { bucketMs, epoch, calls: new Array(KEPT).fill(0), wanted: new Array(KEPT).fill(0), inFlight: inFlightAt(b, now) };
  const calls: unknown[] = Array.isArray(b?.calls) ? (b?.calls as unknown[]) : [];
  const wanted: unknown[] = Array.isArray(b?.wanted) ? (b?.wanted as unknown[]) : [];
  const oldMs = b && Number.isSafeInteger(b.bucketMs) && b.bucketMs > 0 ? b.bucketMs : undefined;
  if (!b || oldMs === undefined || !Number.isSafeInteger(b.epoch)) return out;
  // A row written by a clock ahead of this one is read as of now: a skew of an hour must not freeze the
  // budget for an hour (its calls still count, as if just made).
  const newest = Math.min(b.epoch, Math.floor((now + oldMs - 1) / oldMs));
  const place = (i: number, length: number): number => {
    const endMs = (newest - (length - 1) + i + 1) * oldMs;
    return Math.min(KEPT - 1, Math.floor((endMs - 1) / bucketMs) - (epoch - (KEPT - 1)));
  };
  calls.forEach((v, i) => {
    const at = place(i, calls.length);
    if (at >= 0) out.calls[at] += countOf(v);
  });
  wanted.forEach((v, i) => {
    const at = place(i, wanted.length);
    if (at >= 0) out.wanted[at] += countOf(v);
  });
  return out;
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
  // A clock that is not a time grants nothing (an Invalid Date would otherwise read as an empty window).
  const paused = (pausedUntil !== undefined && pausedUntil > now) || !Number.isFinite(now);
  const granted = paused ? 0 : Math.max(0, Math.min(want, limit.count - counted(next)));
  if (granted > 0) next.inFlight = [...(next.inFlight ?? []), { id: grantId, at: now, calls: granted }];
  next.wanted[KEPT - 1] += arrivals;
  return { buckets: next, granted, grantId, used: counted(next), wanted: sum(next.wanted), nextCallAt: !paused ? nextCallAt(next, limit.count, now) : pausedUntil !== undefined && pausedUntil > now ? pausedUntil : 0 };
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
export function settleCalls(b: BudgetBuckets | null | undefined, grantId: string, given: number[], limit: CallLimit, now: number): BudgetBuckets {
  // Times that are not times are counted as made now (never as an empty window).
  const answeredAt = given.map((t) => (Number.isFinite(t) ? t : now));
  const next = shifted(b, limit, answeredAt.reduce((a, t) => Math.max(a, t), now));
  next.inFlight = (next.inFlight ?? []).filter((f) => f.id !== grantId);
  const first = next.epoch - (KEPT - 1);
  for (const t of answeredAt) {
    // An answer older than the window no longer counts (a long round's first answers); a later one than
    // the newest bucket (a clock ahead) counts in the newest.
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
