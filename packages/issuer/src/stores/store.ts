/**
 * What a NotificationHandler needs of a store: for one notification, atomically, "was this webhook-id
 * seen?", the last applied sequenceNumber of each operation it touches, and recording both once the
 * application has taken the updates.
 */
export interface SequenceView {
  /** The last sequenceNumber applied for `operationId`, or undefined when none is known. */
  last(operationId: string): number | undefined;
  /** Records `sequenceNumber` as applied for `operationId`; kept only if the unit of work succeeds. */
  set(operationId: string, sequenceNumber: number): void;
  /** A store in a database: the connection of the unit of work's transaction, handed to onUpdate (NotificationMeta.client). */
  readonly client?: unknown;
}

export type RunResult<T> = { duplicate: true } | { duplicate: false; value: T };

export interface NotificationStore {
  /**
   * Runs `work` for the notification `webhookId` touching `operationIds`, as one unit:
   * - a webhook-id already recorded answers `{ duplicate: true }` without running `work`;
   * - otherwise `work` runs; when it resolves, the webhook-id and the sequences it set are recorded
   *   together; when it throws, nothing is recorded and the error is rethrown.
   * Calls for the same webhook-id or sharing an operation run one after the other, never together.
   */
  run<T>(webhookId: string, operationIds: readonly string[], work: (seq: SequenceView) => Promise<T>): Promise<RunResult<T>>;
}

/**
 * Locks by key within one process: holders of different keys run together, holders sharing a key one
 * after the other. Keys are taken in sorted order so two holders of overlapping sets never deadlock.
 * The map holds only keys in use, so it is bounded by the work in flight.
 */
export class KeyedLocks {
  readonly #tails = new Map<string, Promise<void>>();

  async acquire(keys: readonly string[]): Promise<() => void> {
    const releases: (() => void)[] = [];
    for (const key of [...new Set(keys)].sort()) {
      const prev = this.#tails.get(key) ?? Promise.resolve();
      let release = () => {};
      const mine = new Promise<void>((r) => {
        release = r;
      });
      const tail = prev.then(() => mine);
      this.#tails.set(key, tail);
      releases.push(() => {
        release();
        if (this.#tails.get(key) === tail) this.#tails.delete(key);
      });
      await prev;
    }
    return () => {
      for (const r of releases.reverse()) r();
    };
  }
}
