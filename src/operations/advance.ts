import { deadline } from '../domain/deadlines.ts';
import { decide, type OperationInput } from '../domain/operation.ts';
import { nextWakeAt } from '../domain/schedule.ts';
import { lockOperation, saveDecision } from '../store/operations.ts';
import type { HubContext } from './context.ts';

/**
 * Feeds one input to an operation under a row lock and stores what the state machine decides, with
 * its notifications, in one transaction. Returns how many notifications it queued.
 */
export interface AdvanceOptions {
  /** Do not wake the operation before this (a carrier's Retry-After). */
  wakeNotBefore?: Date;
  /** A poll put off (budget, breaker): poll at this time instead of after the adaptive interval. */
  pollAt?: Date;
  /** How far the provider's demand exceeds its budget (≥ 1): poll intervals grow by it, within their bounds. */
  stretch?: number;
}

export async function advanceOperation(ctx: HubContext, operationId: string, input: OperationInput, options: AdvanceOptions = {}): Promise<number> {
  const { wakeNotBefore, pollAt, stretch } = options;
  const queued = await ctx.db.transaction().execute(async (tx) => {
    const state = await lockOperation(tx, operationId);
    if (!state) return 0;
    const decision = decide(state, input, ctx.policy);
    const now = Date.parse(input.now);
    const parcel = decision.state.parcel;
    // The parcel's poll is waiting from the first time it was put off until a carrier answers.
    if (pollAt && parcel && !parcel.waitingSince) decision.state = { ...decision.state, parcel: { ...parcel, waitingSince: input.now } };
    let wakeAt = nextWakeAt(decision.state, now, ctx.policy, stretch);
    if (wakeAt && pollAt) {
      // A deadline still ahead and before the put-off poll wakes it first (its poll then decides).
      const due = deadline(decision.state, ctx.policy);
      const dueMs = due ? Date.parse(due) : Number.POSITIVE_INFINITY;
      wakeAt = dueMs > now && dueMs < pollAt.getTime() ? new Date(dueMs) : pollAt;
    }
    if (wakeAt && wakeNotBefore && wakeAt < wakeNotBefore) wakeAt = wakeNotBefore;
    await saveDecision(tx, decision, wakeAt);
    return decision.notifications.length;
  });
  if (queued > 0) ctx.kickDelivery();
  return queued;
}
