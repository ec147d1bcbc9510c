import { sql } from 'kysely';
import type { Db } from './db.ts';
import { bucketPercentile } from './insight-rollup.ts';
import { allLiveNotifications, ensureNotificationsRolled, type NotificationCount, notificationCounts } from './notification-rollup.ts';
import { isoUtc } from './sql-time.ts';

/**
 * Per issuer delivery health, behind the console's Notifications view (GET /admin/v1/insights/notifications).
 * A notification is an outbox row that is sent (pending, delivered or dead); rows batched into another wait
 * beside it and are not counted on their own (src/store/notifications.ts). Every figure is read per
 * registered issuer: the window's counts and latencies from the hourly roll-ups of its closed hours and live
 * for the rest (notification-rollup.ts), the figures of now live through outbox_by_issuer (issuer_id, state,
 * created_at) or, for the throttle, outbox_due_by_issuer (issuer_id, next_attempt_at): index ranges of that
 * issuer only, never the whole outbox.
 */

export interface NotificationInsightsQuery {
  from: Date;
  to: Date;
  /** The hub's clock: ages and the throttle are counted from it. */
  now: Date;
}

/** Where the issuer's endpoint stands as the store records it (every instance reads the same). */
export type EndpointState =
  | { state: 'ok' }
  | { state: 'throttled'; until: string; reason: string }
  | { state: 'disabled'; since: string; reason: string };

export interface IssuerNotificationInsight {
  issuerId: string;
  name: string;
  /** Notifications created in the window (their operation's update was committed then), whatever became of them. */
  created: number;
  /** Of those, delivered by now. */
  delivered: number;
  /** Of those, dead by now. */
  dead: number;
  /** Of those, still pending (waiting, retrying or being sent). */
  pending: number;
  /** delivered / (delivered + dead) of those: the finished ones; null when none finished. */
  successRate: number | null;
  /** Commit (created_at) to delivery (delivered_at) of those delivered, in seconds, from log-scale buckets (within insight-rollup.ts PERCENTILE_ERROR). */
  latency: { p50Seconds: number | null; p99Seconds: number | null };
  /** Now, whatever the window: pending notifications, the oldest of them, dead ones. */
  backlog: number;
  oldestPendingAt: string | null;
  oldestPendingAgeSeconds: number | null;
  deadNow: number;
  endpoint: EndpointState;
}

/**
 * What a retry pushed out by the endpoint says: it answered "slow down" (429, 502, 503, 504; reason as
 * outcome.ts writes it, `HTTP <status>`) or did not answer in time (attempt.ts: `timeout after … ms`). The
 * worker's own throttle (src/delivery/throttle.ts) lives in its memory, which an API process cannot read;
 * the retry it scheduled (Retry-After included) is stored, so that is what "throttled until" reports.
 */
const SLOW_DOWN = sql`(last_error ~ '^HTTP (429|502|503|504)$' or last_error like 'timeout after %')`;

interface Row {
  issuer_id: string;
  name: string;
  enabled: boolean;
  disabled_at: string | null;
  disabled_reason: string | null;
  updated_at: string;
  backlog: string;
  oldest: string | null;
  oldest_age: number | null;
  dead_now: string;
  throttled_until: string | null;
  throttle_reason: string | null;
}

const round3 = (v: number | null) => (v === null ? null : Math.round(Number(v) * 1000) / 1000);

/** `rollups: false` counts the window live from outbox alone (the tests' and the bench's reference). */
export async function notificationInsights(db: Db, q: NotificationInsightsQuery, rollups = true): Promise<IssuerNotificationInsight[]> {
  const now = q.now.toISOString();
  const coverage = rollups ? await ensureNotificationsRolled(db, q.from, q.to) : allLiveNotifications(q.from, q.to);
  const counts = new Map<string, NotificationCount[]>();
  for (const c of await notificationCounts(db, coverage)) counts.set(c.issuer_id, [...(counts.get(c.issuer_id) ?? []), c]);
  const res = await sql<Row>`
    select i.issuer_id, i.name, i.enabled, ${isoUtc('i.endpoint_disabled_at')} as disabled_at, i.endpoint_disabled_reason as disabled_reason,
      ${isoUtc('i.updated_at')} as updated_at,
      p.n as backlog, ${isoUtc('p.oldest')} as oldest, extract(epoch from ${now}::timestamptz - p.oldest)::float8 as oldest_age,
      d.n as dead_now, ${isoUtc('t.until')} as throttled_until, t.last_error as throttle_reason
    from issuers i
    cross join lateral (select count(*) as n, min(created_at) as oldest from outbox where issuer_id = i.issuer_id and state = 'pending') p
    cross join lateral (select count(*) as n from outbox where issuer_id = i.issuer_id and state = 'dead') d
    left join lateral (
      select next_attempt_at as until, last_error from outbox
      where issuer_id = i.issuer_id and state = 'pending' and next_attempt_at > ${now}::timestamptz and ${SLOW_DOWN}
      order by next_attempt_at limit 1
    ) t on true
    order by i.issuer_id`.execute(db);
  return res.rows.map((r) => {
    const mine = counts.get(r.issuer_id) ?? [];
    const of = (state: string) => mine.filter((c) => c.state === state).reduce((n, c) => n + c.n, 0);
    const [delivered, dead] = [of('delivered'), of('dead')];
    const created = delivered + dead + of('pending');
    const buckets = mine.filter((c) => c.state === 'delivered' && c.bucket !== null).map((c) => ({ bucket: Number(c.bucket), n: c.n }));
    const finished = delivered + dead;
    return {
      issuerId: r.issuer_id,
      name: r.name,
      created,
      delivered,
      dead,
      pending: created - finished,
      successRate: finished === 0 ? null : Math.round((delivered / finished) * 10_000) / 10_000,
      latency: { p50Seconds: round3(bucketPercentile(buckets, 0.5)), p99Seconds: round3(bucketPercentile(buckets, 0.99)) },
      backlog: Number(r.backlog),
      oldestPendingAt: r.oldest,
      oldestPendingAgeSeconds: r.oldest_age === null ? null : Math.max(0, Math.round(Number(r.oldest_age))),
      deadNow: Number(r.dead_now),
      endpoint: endpointState(r),
    };
  });
}

/** A 410 (stored) first, then an issuer switched off by a PUT (enabled: false), then a retry pushed out by a slow-down answer. */
function endpointState(r: Row): EndpointState {
  if (r.disabled_at !== null) return { state: 'disabled', since: r.disabled_at, reason: r.disabled_reason ?? 'endpoint disabled' };
  // The store keeps no time of the switch itself: the issuer's last write is when it was switched off, or later.
  if (!r.enabled) return { state: 'disabled', since: r.updated_at, reason: 'issuer disabled (enabled: false)' };
  if (r.throttled_until !== null) return { state: 'throttled', until: r.throttled_until, reason: r.throttle_reason ?? 'slow down' };
  return { state: 'ok' };
}
