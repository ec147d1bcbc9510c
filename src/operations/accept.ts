import { newId } from '../domain/ids.ts';
import { ApiError } from '../domain/errors.ts';
import { decide, newOperation, type OperationState } from '../domain/operation.ts';
import { type TrackRequestBody, requestHash } from '../domain/track-request.ts';
import { nextWakeAt } from '../polling/schedule.ts';
import { findOpenForUpdate, insertOperation, saveDecision } from '../store/operations.ts';
import type { HubContext } from './context.ts';

export interface AcceptCommand {
  issuerId: string;
  cardId: string;
  correlationId: string;
  body: TrackRequestBody;
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string })?.code === '23505';
}

async function productionSiteCarriers(ctx: HubContext, siteId: string | undefined) {
  if (!siteId) return undefined;
  const row = await ctx.db.selectFrom('production_sites').select('carriers').where('site_id', '=', siteId).executeTakeFirst();
  return row?.carriers as unknown as OperationState['request']['carrier'][] | undefined;
}

async function resolveParcel(ctx: HubContext, body: TrackRequestBody): Promise<OperationState['parcel']> {
  if (!body.trackingNumber) return undefined;
  let carrier = body.carrier;
  if (!carrier) {
    const siteCarriers = (await productionSiteCarriers(ctx, body.productionSite))?.filter((c) => c !== undefined);
    const candidates = ctx.detect(body.trackingNumber, { countryCode: body.countryCode, siteCarriers });
    carrier = candidates[0];
    if (!carrier) {
      throw new ApiError('FIELD_INVALID_VALUE', 'trackingNumber: fits no known carrier number format; send the carrier field');
    }
  }
  return { carrier, trackingNumber: body.trackingNumber, trackingUrl: ctx.trackingUrl(carrier, body.trackingNumber) };
}

/**
 * Accepts a track request: the operation and its first notification are stored in one transaction before
 * the caller answers 202. The same body again while the operation is open is the same operation; a
 * different body supersedes it.
 */
export async function acceptTrack(ctx: HubContext, cmd: AcceptCommand): Promise<{ operationId: string; created: boolean }> {
  const hash = requestHash(cmd.body);
  const parcel = await resolveParcel(ctx, cmd.body);
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await ctx.db.transaction().execute(async (tx) => {
        const now = ctx.now();
        const nowIso = now.toISOString();
        const open = await findOpenForUpdate(tx, cmd.issuerId, cmd.cardId, cmd.body.trackingType);
        if (open && open.request_hash === hash) return { operationId: open.operation_id, created: false };
        if (open) {
          const superseded = decide(open.state, { kind: 'supersede', now: nowIso }, ctx.policy);
          await saveDecision(tx, superseded, null);
        }
        const state = newOperation({
          operationId: newId('op', now.getTime()),
          issuerId: cmd.issuerId,
          cardId: cmd.cardId,
          correlationId: cmd.correlationId,
          request: cmd.body,
          parcel,
          now: nowIso,
        });
        const accepted = decide(state, { kind: 'accept', now: nowIso }, ctx.policy);
        // A parcel gets its first poll at once; everything else sleeps until its deadline.
        const wakeAt = parcel ? now : nextWakeAt(accepted.state, now.getTime(), ctx.policy);
        await insertOperation(tx, accepted, hash, wakeAt);
        return { operationId: state.operationId, created: true };
      });
      if (result.created) {
        ctx.kickDelivery();
        if (parcel) ctx.kickPolling();
      }
      return result;
    } catch (err) {
      // Two identical requests raced past the open-operation check; the loser now sees the winner.
      if (isUniqueViolation(err) && attempt < 3) continue;
      throw err;
    }
  }
}
