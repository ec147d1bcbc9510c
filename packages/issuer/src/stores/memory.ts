import { LRUCache } from 'lru-cache';
import { KeyedLocks, type NotificationStore, type RunResult, type SequenceView } from './store.ts';

export interface MemoryNotificationStoreOptions {
  /** How many webhook-ids are remembered for de-duplication, the least recently seen forgotten first (default 10,000). */
  maxWebhookIds?: number;
  /** How many operations' last sequenceNumber are remembered, the least recently updated forgotten first (default 10,000). */
  maxOperations?: number;
}

/**
 * A store in this process's memory, for one process and for tests: forgotten at restart, and bounded
 * (both maps are LRUs). A webhook-id forgotten and sent again is applied again unless its operation's
 * sequence still marks it stale; an operation forgotten accepts its next update whatever its number.
 * Several receivers, or a restart that must not apply anything twice: PostgresNotificationStore.
 */
export class MemoryNotificationStore implements NotificationStore {
  readonly #seen: LRUCache<string, true>;
  readonly #sequences: LRUCache<string, number>;
  readonly #locks = new KeyedLocks();

  constructor(opts: MemoryNotificationStoreOptions = {}) {
    this.#seen = new LRUCache({ max: positive(opts.maxWebhookIds ?? 10_000, 'maxWebhookIds') });
    this.#sequences = new LRUCache({ max: positive(opts.maxOperations ?? 10_000, 'maxOperations') });
  }

  async run<T>(webhookId: string, operationIds: readonly string[], work: (seq: SequenceView) => Promise<T>): Promise<RunResult<T>> {
    // The webhook-id and the operations are locked apart ('w:' / 'o:') so an id cannot collide with another kind.
    const release = await this.#locks.acquire([`w:${webhookId}`, ...operationIds.map((id) => `o:${id}`)]);
    try {
      if (this.#seen.has(webhookId)) return { duplicate: true };
      const pending = new Map<string, number>();
      const view: SequenceView = {
        last: (id) => pending.get(id) ?? this.#sequences.get(id),
        set: (id, n) => {
          pending.set(id, n);
        },
      };
      const value = await work(view);
      for (const [id, n] of pending) this.#sequences.set(id, n);
      this.#seen.set(webhookId, true);
      return { duplicate: false, value };
    } finally {
      release();
    }
  }

  /** How many webhook-ids and operations are remembered (for tests and metrics). */
  get size(): { webhookIds: number; operations: number } {
    return { webhookIds: this.#seen.size, operations: this.#sequences.size };
  }
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new TypeError(`${name} must be a positive integer`);
  return n;
}
