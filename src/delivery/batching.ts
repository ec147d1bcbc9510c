import type { Db } from '../store/db.ts';
import { batchedPayloads, type ClaimedOutboxRow, groupIntoBatches } from '../store/outbox.ts';
import type { Claimed } from './attempt.ts';

/**
 * Turns claimed rows into notifications. An issuer taking several operations per notification
 * (`maxOperationsOf`) gets rows never sent before grouped, and the grouping written down before
 * anything is sent, so every retry carries the same operations under the same webhook-id (the first
 * row's id). A row that heads a batch formed earlier brings its batch's other operations along.
 */
export async function formNotifications(db: Db, rows: ClaimedOutboxRow[], maxOperationsOf: (issuerId: string) => number): Promise<Claimed[]> {
  const out: Claimed[] = [];
  const heads: Claimed[] = [];
  const fresh = new Map<string, ClaimedOutboxRow[]>();
  const assign: { id: string; head: string }[] = [];
  for (const r of rows) {
    const n = { id: r.id, issuerId: r.issuer_id, correlationId: r.correlation_id, attempts: r.attempts, scheduleOffset: r.schedule_offset, payloads: [r.payload] };
    if (r.batch_id !== null) heads.push(n);
    else if (maxOperationsOf(r.issuer_id) > 1 && r.attempts === 1) fresh.set(r.issuer_id, [...(fresh.get(r.issuer_id) ?? []), r]);
    else out.push(n);
  }
  for (const [issuerId, list] of fresh) {
    const max = maxOperationsOf(issuerId);
    for (let i = 0; i < list.length; i += max) {
      const chunk = list.slice(i, i + max);
      const head = chunk[0];
      for (const r of chunk) assign.push({ id: r.id, head: head.id });
      // Its other operations are read back below, like a batch formed earlier's: so the first send and
      // every retry (and the catch-up feed) carry them in one order, the store's.
      heads.push({ id: head.id, issuerId, correlationId: head.correlation_id, attempts: head.attempts, scheduleOffset: head.schedule_offset, payloads: [head.payload] });
    }
  }
  if (assign.length > 0) await groupIntoBatches(db, assign);
  if (heads.length > 0) {
    // A batch formed earlier: its other operations wait in state 'batched' beside the head.
    const members = await batchedPayloads(db, heads.map((h) => h.id));
    const byHead = new Map(heads.map((h) => [h.id, h]));
    for (const m of members) byHead.get(m.batch_id as string)?.payloads.push(m.payload);
    out.push(...heads);
  }
  return out;
}
