import { MAX_RETRY_AFTER_MS, type ProviderName } from '../carriers/provider.ts';
import { steadyWindowMs } from '../domain/call-budget.ts';
import { deadline } from '../domain/deadlines.ts';
import { type OperationInput, type OperationState, saysNothing } from '../domain/operation.ts';
import type { TrackResult } from '../domain/shipment.ts';
import type { HubContext } from '../operations/context.ts';
import type { RateLimit } from './rate-limit.ts';

/**
 * An operation within one polling round, and the pure rules the poller applies to it: which goes first,
 * where a put-off poll is placed, whose answer it is, and what the state machine is told.
 */

/**
 * Which operations go first when a provider's budget cannot serve all that are due: parcels never
 * answered, then those whose deadline is near (within the longest poll interval) or past, nearest first,
 * then those longest since an answer. A deadline weeks away is no reason to go first.
 */
function priority(s: OperationState, t: HubContext['policy'], now: number): [number, number, number] {
  const answered = s.answers?.lastAt;
  const due = deadline(s, t);
  const dueMs = due ? Date.parse(due) : Number.POSITIVE_INFINITY;
  const near = dueMs <= now + t.pollMaxIntervalMs;
  return [answered ? (near ? 1 : 2) : 0, near ? dueMs : 0, answered ? Date.parse(answered) : 0];
}

export function byPriority(t: HubContext['policy'], now: number): (a: Routed, b: Routed) => number {
  return (a, b) => {
    const pa = priority(a.s, t, now);
    const pb = priority(b.s, t, now);
    return pa[0] - pb[0] || pa[1] - pb[1] || pa[2] - pb[2];
  };
}

/** An operation on its way along its route: `chain` is the order of asking, `at` the provider asked now. */
export interface Routed {
  s: OperationState;
  chain: ProviderName[];
  at: number;
  /** A provider earlier in the route said it does not know the number: what to record if no later one can answer. */
  unknownFrom?: ProviderName;
  /** When the call that got that "unknown" was sent. */
  unknownAskedAt?: string;
}

/**
 * Places for put-off polls in the provider's coming windows, a call's worth (maxBatch numbers) at each
 * place, one place every `window / count`: the budget's own pace, and every call as full as the API
 * allows. Those already waiting (at the front of `ops`) keep the queue's front, from `front`; those newly
 * due take the places booked for them in the shared queue, from `booked` (src/store/carrier-budgets.ts).
 */
export function queuePlaces(ops: Routed[], front: Date, booked: Date, limit: RateLimit, maxBatch: number): (k: number) => Date {
  const placeMs = steadyWindowMs(limit) / limit.count;
  const waiting = ops.filter((r) => r.s.parcel?.waitingSince).length;
  return (k) => new Date(Math.ceil(k < waiting ? front.getTime() + Math.floor(k / maxBatch) * placeMs : booked.getTime() + Math.floor((k - waiting) / maxBatch) * placeMs));
}

/** Whether the provider comes before the parcel's own in its route (the primary answering again). */
export function outranks(r: Routed, name: ProviderName): boolean {
  const held = r.s.parcel?.provider;
  const own = held ? r.chain.indexOf(held as ProviderName) : -1;
  return own < 0 || r.chain.indexOf(name) < own;
}

/** Whether the provider knows the number: the state machine's own rule (saysNothing), not a copy of it. */
export function knows(result: TrackResult | undefined): boolean {
  return result?.kind === 'found' && !saysNothing(result.snapshot);
}

export function toInput(result: TrackResult | undefined, now: Date, askedAt: string, from: { name: string; preferred: boolean }, r: Routed): { input: OperationInput; notBefore?: Date } {
  const iso = now.toISOString();
  if (result?.kind === 'found') return { input: { kind: 'carrier-found', snapshot: result.snapshot, now: iso, from, askedAt } };
  if (result?.kind === 'not_found') return { input: { kind: 'carrier-not-found', now: iso, askedAt } };
  // A carrier error tells us nothing about the parcel, but an earlier provider's "unknown" this round
  // still stands; we wait as asked (a Retry-After, within reason).
  const wait = Math.min(MAX_RETRY_AFTER_MS, result?.retryAfterMs ?? 0);
  const notBefore = wait > 0 ? new Date(now.getTime() + wait) : undefined;
  return { input: waitingInput(r, iso), notBefore };
}

/**
 * What an operation that got no answer this round is told: a provider earlier in its route said "unknown"
 * (that answer stands while this one failed or waits), else only the clock moved.
 */
export function waitingInput(r: Routed, now: string): OperationInput {
  return r.unknownFrom ? { kind: 'carrier-not-found', now, askedAt: r.unknownAskedAt } : { kind: 'tick', now };
}

/**
 * How far to stretch poll intervals so that demand meets the budget. `ratio` is numbers falling due over
 * the numbers the budget takes, in the window just past, at the current stretch: once a window the
 * factor moves by its square root (damped, so it settles rather than swings), between 1 and what the poll
 * bounds allow. At the fixed point, parcels fall due as fast as the budget serves them.
 */
export function stretchAfter(
  held: { factor: number; at: number } | undefined,
  ratio: number,
  perMs: number,
  now: number,
  bounds: { pollMinIntervalMs: number; pollMaxIntervalMs: number },
): { factor: number; at: number } {
  const last = held ?? { factor: 1, at: now };
  if (now - last.at < perMs) return last;
  const most = bounds.pollMaxIntervalMs / bounds.pollMinIntervalMs;
  return { factor: Math.min(most, Math.max(1, last.factor * Math.sqrt(Math.max(ratio, 1e-3)))), at: now };
}
