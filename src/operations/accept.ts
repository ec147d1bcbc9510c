import { ApiError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { type Decision, decide, newOperation, type OperationState } from '../domain/operation.ts';
import { nextWakeAt } from '../domain/schedule.ts';
import { requestHash, type TrackRequestBody } from '../domain/track-request.ts';
import { type Db, isUniqueViolation } from '../store/db.ts';
import { insertOperations, lockCards, lockOpenOperations, saveDecision } from '../store/operations.ts';
import { siteCarriers } from '../store/production-sites.ts';
import type { HubContext } from './context.ts';
import { matchWaitingSiteEvents } from './matching.ts';

export interface AcceptCommand {
  issuerId: string;
  cardId: string;
  correlationId: string;
  body: TrackRequestBody;
}

export interface AcceptResult {
  operationId: string;
  created: boolean;
}

export interface Prepared extends AcceptCommand {
  hash: string;
  parcel: OperationState['parcel'];
  key: string;
}

export async function resolveParcel(ctx: HubContext, body: TrackRequestBody): Promise<OperationState['parcel']> {
  const trackingNumber = body.trackingNumber;
  if (!trackingNumber) return undefined;
  if (body.carrier) return { carrier: body.carrier, trackingNumber, trackingUrl: ctx.trackingUrl(body.carrier, trackingNumber) };
  const candidates = ctx.detect(trackingNumber, { countryCode: body.countryCode, siteCarriers: body.productionSite ? await siteCarriers(ctx.db, body.productionSite) : undefined });
  const carrier = candidates[0];
  if (!carrier) throw new ApiError('FIELD_INVALID_VALUE', 'trackingNumber: fits no known carrier number format; send the carrier field');
  return {
    carrier,
    trackingNumber,
    trackingUrl: ctx.trackingUrl(carrier, trackingNumber),
    // Several carriers fit the number: each is asked in turn until one knows it (docs/contract.md §2.2).
    ...(candidates.length > 1 ? { candidates: candidates.map((c) => ({ carrier: c, trackingUrl: ctx.trackingUrl(c, trackingNumber) })) } : {}),
  };
}

/**
 * Stores a batch of track requests in one transaction: the open operations of their cards are read
 * (and locked) in one statement, and the new operations and their first notifications written in two.
 * Each request keeps its own contract: the same body while open is the same operation; a different
 * body supersedes it. Keys in a batch are distinct (the batcher sees to it).
 */
async function commitBatch(ctx: HubContext, batch: Prepared[]): Promise<AcceptResult[]> {
  return ctx.db.transaction().execute((tx) => acceptInTransaction(ctx, tx as Db, batch));
}

/**
 * The body of commitBatch, for callers that already hold a transaction (site events opening SHIPMENTs).
 * `keepOpen`: an open operation of the same key is kept whatever its request; a site's report must
 * never supersede what the issuer itself asked for.
 */
export async function acceptInTransaction(ctx: HubContext, tx: Db, batch: Prepared[], opts: { keepOpen?: boolean } = {}): Promise<AcceptResult[]> {
  const now = ctx.now();
  const nowIso = now.toISOString();
  // One transaction at a time per card, across instances: requests for a card are settled in turn (a
  // row lock alone would not do: a transaction waiting on the open operation's lock would then find it
  // closed and not see its successor, and insert a second one), and site events on the card never miss
  // a request or the other way round.
  await lockCards(tx, batch);
  const open = await lockOpenOperations(
    tx,
    batch.map((p) => ({ issuerId: p.issuerId, cardId: p.cardId, trackingType: p.body.trackingType })),
  );
  const openByKey = new Map(open.map((r) => [`${r.issuer_id}|${r.card_id}|${r.tracking_type}`, r]));
  const results: AcceptResult[] = [];
  const inserts: { decision: Decision; hash: string; wakeAt: Date | null }[] = [];
  for (const p of batch) {
    const existing = openByKey.get(p.key);
    if (existing && (opts.keepOpen || existing.request_hash === p.hash)) {
      results.push({ operationId: existing.operation_id, created: false });
      continue;
    }
    if (existing) await saveDecision(tx, decide(existing.state, { kind: 'supersede', now: nowIso }, ctx.policy), null);
    const state = newOperation({ operationId: newId('op', now.getTime()), issuerId: p.issuerId, cardId: p.cardId, correlationId: p.correlationId, request: p.body, parcel: p.parcel, now: nowIso });
    const decision = decide(state, { kind: 'accept', now: nowIso }, ctx.policy);
    // A parcel gets its first poll at once; everything else sleeps until its deadline.
    inserts.push({ decision, hash: p.hash, wakeAt: p.parcel ? now : nextWakeAt(decision.state, now.getTime(), ctx.policy) });
    results.push({ operationId: state.operationId, created: true });
  }
  // A site may have reported the card before this request came: complete or equip the new operations now.
  await matchWaitingSiteEvents(ctx, tx, inserts, now);
  await insertOperations(tx, inserts);
  return results;
}

/**
 * Coalesces concurrent track requests into a few transactions: under load many small transactions
 * become a few large ones, a few of them committing at once (their WAL flushes share one disk write),
 * and alone a request still commits at once. A request is answered only after its transaction has
 * committed. A card is in at most one transaction at a time: a repeat of a card waits for the
 * transaction holding it and then sees its result.
 */
export class AcceptBatcher {
  private queue: { p: Prepared; resolve: (r: AcceptResult) => void; reject: (e: unknown) => void }[] = [];
  private readonly inFlightKeys = new Set<string>();
  private running = 0;
  private pumpScheduled = false;

  constructor(
    private readonly ctx: HubContext,
    private readonly maxBatch = 256,
    /**
     * Transactions in flight at once; leaves the rest of the pool to the workers and the other routes. Two,
     * not more: with 64 requests waiting, two transactions of ~32 cost PostgreSQL less per request than four
     * of ~16 (each transaction is five round trips whatever its size): 2,511 against 1,747 accepted/s in a
     * store-only loop (bench/track.ts measures the route).
     */
    private readonly maxConcurrent = 2,
  ) {}

  async accept(cmd: AcceptCommand): Promise<AcceptResult> {
    const p: Prepared = {
      ...cmd,
      hash: requestHash(cmd.body),
      parcel: await resolveParcel(this.ctx, cmd.body),
      key: `${cmd.issuerId}|${cmd.cardId}|${cmd.body.trackingType}`,
    };
    const result = new Promise<AcceptResult>((resolve, reject) => this.queue.push({ p, resolve, reject }));
    this.schedulePump();
    return result;
  }

  /** Runs after the current I/O phase, so requests that arrived together share one transaction. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.maxConcurrent && this.queue.length > 0) {
      const batch = this.cut();
      if (batch.length === 0) return; // every waiting card is in a transaction already
      this.running++;
      void this.commit(batch).finally(() => {
        for (const b of batch) this.inFlightKeys.delete(b.p.key);
        this.running--;
        if (this.queue.length > 0) this.schedulePump();
      });
    }
  }

  /** Up to maxBatch requests with distinct cards, none of them in a transaction already. */
  private cut(): typeof this.queue {
    const batch: typeof this.queue = [];
    const rest: typeof this.queue = [];
    for (const item of this.queue) {
      if (batch.length < this.maxBatch && !this.inFlightKeys.has(item.p.key)) {
        this.inFlightKeys.add(item.p.key);
        batch.push(item);
      } else rest.push(item);
    }
    this.queue = rest;
    return batch;
  }

  private async commit(batch: typeof this.queue): Promise<void> {
    try {
      const results = await commitBatch(this.ctx, batch.map((b) => b.p));
      for (const [i, b] of batch.entries()) {
        this.logAccepted(b.p, results[i]);
        b.resolve(results[i]);
      }
    } catch (err) {
      if (batch.length > 1 || isUniqueViolation(err)) {
        // Another instance raced us to a card (or one request is bad): settle each request on its own.
        for (const b of batch) await this.commitAlone(b);
      } else batch[0].reject(err);
      return;
    }
    this.ctx.kickDelivery();
    // A RETURN may have been given the card's shipment parcel inside the transaction: wake the poller too.
    if (batch.some((b) => b.p.parcel || b.p.body.trackingType === 'RETURN')) this.ctx.kickPolling();
  }

  /**
   * One line per committed track request. Not the card id (the hub's files that hold card ids are private
   * to its user; the operation id leads to the card through the Admin API), nor the token or body.
   */
  private logAccepted(p: Prepared, result: AcceptResult): void {
    this.ctx.log.info(
      { issuerId: p.issuerId, operationId: result.operationId, trackingType: p.body.trackingType, carrier: p.parcel?.carrier ?? null, created: result.created, correlationId: p.correlationId },
      result.created ? 'track request accepted' : 'track request repeated: same open operation',
    );
  }

  private async commitAlone(b: (typeof this.queue)[number]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const [result] = await commitBatch(this.ctx, [b.p]);
        this.logAccepted(b.p, result);
        b.resolve(result);
        this.ctx.kickDelivery();
        return;
      } catch (err) {
        // The loser of a race on the one-open-operation index now sees the winner.
        if (isUniqueViolation(err) && attempt < 3) continue;
        b.reject(err);
        return;
      }
    }
  }
}
