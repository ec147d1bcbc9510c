import { deadline, decide, type OperationInput } from '../domain/operation.ts';
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
  /** Poll again at this time instead of after the adaptive interval (a poll that was put off). */
  pollAt?: Date;
  /** The provider that answered this carrier data; kept on the parcel if none knew the number before. */
  answeredBy?: string;
}

export async function advanceOperation(ctx: HubContext, operationId: string, input: OperationInput, options: AdvanceOptions = {}): Promise<number> {
  const { wakeNotBefore, pollAt, answeredBy } = options;
  const queued = await ctx.db.transaction().execute(async (tx) => {
    const state = await lockOperation(tx, operationId);
    if (!state) return 0;
    const decision = decide(state, input, ctx.policy);
    const parcel = decision.state.parcel;
    if (answeredBy && parcel && !parcel.provider) decision.state = { ...decision.state, parcel: { ...parcel, provider: answeredBy } };
    const now = Date.parse(input.now);
    let wakeAt = nextWakeAt(decision.state, now, ctx.policy);
    if (wakeAt && pollAt) {
      const due = deadline(decision.state, ctx.policy);
      wakeAt = due && Date.parse(due) < pollAt.getTime() ? new Date(due) : pollAt;
    }
    if (wakeAt && wakeNotBefore && wakeAt < wakeNotBefore) wakeAt = wakeNotBefore;
    await saveDecision(tx, decision, wakeAt);
    return decision.notifications.length;
  });
  if (queued > 0) ctx.kickDelivery();
  return queued;
}
