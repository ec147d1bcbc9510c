import type { Db } from '../store/db.ts';
import { type BatchCandidate, batchedPayloads, type ClaimedOutboxRow, groupIntoBatches } from '../store/outbox.ts';
import type { Claimed } from './attempt.ts';

const notificationOf = (r: ClaimedOutboxRow): Claimed => ({
  id: r.id,
  issuerId: r.issuer_id,
  correlationId: r.correlation_id,
  attempts: r.attempts,
  scheduleOffset: r.schedule_offset,
  payloads: [r.payload],
});

/**
 * Turns claimed rows into notifications. An issuer taking several operations per notification
 * (`maxOperationsOf`) gets rows never sent before grouped, and the grouping written down before
 * anything is sent, so every retry carries the same operations under the same webhook-id (the first
 * row's id). A row that heads a batch formed earlier brings its batch's other operations along.
 *
 * Rows to group are sent only as the store grouped them (groupIntoBatches): a row whose claim is no
 * longer this worker's (it stalled past its lease, and the catch-up feed served the row alone, or another
 * worker claimed it again) is left out, not sent under a body the feed never served; it is claimed again.
 */
export async function formNotifications(db: Db, rows: ClaimedOutboxRow[], maxOperationsOf: (issuerId: string) => number): Promise<Claimed[]> {
  const out: Claimed[] = [];
  const heads: Claimed[] = [];
  const fresh: BatchCandidate[] = [];
  for (const r of rows) {
    const max = maxOperationsOf(r.issuer_id);
    if (r.batch_id !== null) heads.push(notificationOf(r));
    else if (max > 1 && r.attempts === 1) fresh.push({ id: r.id, issuer_id: r.issuer_id, attempts: r.attempts, max });
    else out.push(notificationOf(r));
  }
  if (heads.length > 0) {
    // A batch formed earlier: its other operations wait in state 'batched' beside the head.
    const members = await batchedPayloads(db, heads.map((h) => h.id));
    const byHead = new Map(heads.map((h) => [h.id, h]));
    for (const m of members) byHead.get(m.batch_id as string)?.payloads.push(m.payload);
    out.push(...heads);
  }
  if (fresh.length > 0) {
    // The body is built from the rows the grouping wrote, head first, the others in the store's order:
    // the one the feed and every retry read them in (batchedPayloads).
    let current: Claimed | undefined;
    for (const g of await groupIntoBatches(db, fresh)) {
      if (g.id === g.batch_id) {
        current = notificationOf(g);
        out.push(current);
      } else if (current?.id === g.batch_id) current.payloads.push(g.payload);
    }
  }
  return out;
}
