import { WebhookVerificationError } from './errors.ts';
import type { PgClientLike } from './stores/postgres.ts';
import type { NotificationStore } from './stores/store.ts';
import type { NotificationBody, Operation } from './types.ts';
import { checkBody, type HeadersLike, MAX_WEBHOOK_ID, parseBody, parseKeys, toleranceOf, type VerificationKeys, type VerifyOptions, verifyHeaders } from './verify.ts';

/** Where an update came from, and the notification that carried it. */
export interface NotificationMeta {
  webhookId: string;
  /** The push's `webhook-timestamp`, or the feed item's `createdAt`. */
  timestamp: Date;
  correlationId: string | undefined;
  source: 'push' | 'sync';
  /**
   * With PostgresNotificationStore: the store's own connection, inside the transaction that records
   * this notification. Write the application's state with it and the two commit (or roll back)
   * together: each update reaches the application's tables exactly once. Do not release it or end
   * the transaction. An SQL error on it aborts the whole transaction, even when caught: the notification
   * is then refused ("the transaction was aborted by an earlier SQL error in onUpdate"). To catch one,
   * wrap the statement in its own savepoint:
   * `await client.query('SAVEPOINT app'); try { await client.query(sql); } catch (e) { await client.query('ROLLBACK TO SAVEPOINT app'); }`.
   * Undefined with MemoryNotificationStore.
   */
  client?: PgClientLike;
}

export interface NotificationHandlerOptions extends VerifyOptions {
  store: NotificationStore;
  /** Takes one update (a full snapshot of its operation). Throwing refuses the whole notification: nothing of it is recorded, and the hub sends it again. */
  onUpdate: (operation: Operation, meta: NotificationMeta) => Promise<void> | void;
  /** Told of an update older than one already applied (its sequenceNumber is not above the last one); it is not applied. */
  onStale?: (operation: Operation, meta: NotificationMeta) => Promise<void> | void;
}

export interface HandleResult {
  outcome: 'applied' | 'duplicate';
  /** Updates passed to onUpdate. */
  applied: number;
  /** Updates older than one already applied, passed to onStale. */
  stale: number;
}

/**
 * Receives the hub's notifications: verifies each (handle), drops a webhook-id already taken, and
 * passes each operation's updates to onUpdate in sequenceNumber order, an update not newer than the
 * last applied one going to onStale instead. Every update is a full snapshot of its operation, so a gap
 * in the numbers loses nothing. Delivery to onUpdate is at least once: a notification is recorded as
 * seen only after onUpdate returned for all its updates.
 */
export class NotificationHandler {
  readonly #opts: NotificationHandlerOptions;
  readonly #keys: VerificationKeys;

  constructor(opts: NotificationHandlerOptions) {
    if (!opts || typeof opts !== 'object') throw new TypeError('NotificationHandler needs its options: { secrets or publicKeys, store, onUpdate }');
    if (!opts.store || typeof opts.store.run !== 'function') throw new TypeError('store is required (MemoryNotificationStore or PostgresNotificationStore)');
    if (typeof opts.onUpdate !== 'function') throw new TypeError('onUpdate is required');
    this.#opts = opts;
    if (opts.onStale !== undefined && typeof opts.onStale !== 'function') throw new TypeError('onStale must be a function');
    this.#keys = parseKeys(opts);
    toleranceOf(opts);
  }

  /**
   * Verifies a pushed notification (the raw body as received, and its headers) and applies it. Throws
   * WebhookVerificationError for a notification that must not be trusted (answer 401; `invalid_body`:
   * 400), and whatever onUpdate threw (answer 5xx: the hub retries).
   */
  async handle(rawBody: string | Uint8Array, headers: HeadersLike): Promise<HandleResult> {
    const h = verifyHeaders(rawBody, headers, this.#keys, this.#opts);
    const body = parseBody(rawBody);
    return this.process(h.webhookId, body, { ...h, source: 'push' });
  }

  /**
   * Applies a notification already known to come from the hub (the catch-up feed, read over an
   * authenticated connection): de-duplication and ordering as for a push, no signature.
   */
  async process(webhookId: string, body: NotificationBody, meta: NotificationMeta): Promise<HandleResult> {
    if (typeof webhookId !== 'string' || webhookId === '' || webhookId.length > MAX_WEBHOOK_ID) {
      throw new WebhookVerificationError('invalid_webhook_id', `a webhook-id is 1 to ${MAX_WEBHOOK_ID} characters`);
    }
    checkBody(body);
    // Within one notification (a batch), an operation's updates in their order, oldest first.
    const byOperation = new Map<string, Operation[]>();
    for (const op of body.operations) {
      const list = byOperation.get(op.operationId) ?? [];
      list.push(op);
      byOperation.set(op.operationId, list);
    }
    const updates = [...byOperation.values()].flatMap((list) => list.sort((a, b) => a.sequenceNumber - b.sequenceNumber));
    const ids = [...byOperation.keys()];
    const r = await this.#opts.store.run(webhookId, ids, async (seq) => {
      if (seq.client !== undefined) meta = { ...meta, client: seq.client as PgClientLike };
      let applied = 0;
      let stale = 0;
      for (const op of updates) {
        const last = seq.last(op.operationId);
        if (last !== undefined && op.sequenceNumber <= last) {
          stale++;
          await this.#opts.onStale?.(op, meta);
          continue;
        }
        await this.#opts.onUpdate(op, meta);
        seq.set(op.operationId, op.sequenceNumber);
        applied++;
      }
      return { applied, stale };
    });
    return r.duplicate ? { outcome: 'duplicate', applied: 0, stale: 0 } : { outcome: 'applied', ...r.value };
  }
}
