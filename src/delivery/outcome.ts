import type { AttemptRecord } from '../store/outbox.ts';
import type { AttemptResult } from './attempt.ts';
import { deliveryMetrics } from './metrics.ts';
import { nextRetryDelayMs } from './retry.ts';
import { isSlowDown } from './throttle.ts';

const isSuccess = (status: number | undefined) => status !== undefined && status >= 200 && status < 300;

/**
 * What an attempt tells the endpoint's throttle: a 2xx lets it grow back; a slow-down status (429, 502,
 * 503, 504) or a timeout shrinks it (a hung endpoint would otherwise keep its full concurrency of
 * hanging sends on every round); anything else leaves it as it is.
 */
export function throttleSignal(result: AttemptResult): 'success' | 'trouble' | 'other' {
  if (isSuccess(result.status)) return 'success';
  return isSlowDown(result.status) || result.timedOut ? 'trouble' : 'other';
}

export interface OutcomePolicy {
  retryScheduleMs: number[];
  random?: () => number;
  /** The dispatcher's clock: a retry's next_attempt_at is counted from it. */
  now: () => number;
}

export interface Outcomes {
  /** One per attempt, for the store to write (src/store/outbox.ts recordAttempts). */
  rows: AttemptRecord[];
  /** Issuers whose endpoint answered 410 Gone: to be disabled until an operator updates them. */
  gone: Set<string>;
  /** Issuers with a notification that ended (delivered or dead): later updates it held back may go now. */
  ended: Set<string>;
  /** Notifications that died with this attempt, to be told to the operator. */
  dead: { notificationId: string; issuerId: string; reason: string }[];
}

/**
 * Decides what becomes of each attempted notification: delivered on a 2xx; on a 410 kept pending with
 * a fresh retry schedule (the endpoint is disabled meanwhile); otherwise retried after the schedule's
 * next delay (counted from the last replay, `scheduleOffset`; stretched by Retry-After up to twice
 * the delay), or dead when the schedule is spent. Counts each outcome and each attempt's latency in
 * the metrics. Writes nothing: the caller records the rows.
 */
export function decideOutcomes(results: AttemptResult[], policy: OutcomePolicy): Outcomes {
  const out: Outcomes = { rows: [], gone: new Set(), ended: new Set(), dead: [] };
  for (const r of results) {
    const issuer = r.n.issuerId;
    deliveryMetrics.latency.observe({ issuer }, r.latencyMs / 1000);
    const base = {
      id: r.n.id, attempt: r.n.attempts, attempted_at: new Date(r.startedAt).toISOString(), http_status: r.status ?? null, error: r.error ?? null,
      // PostgreSQL text cannot hold NUL.
      latency_ms: Math.round(r.latencyMs), response_body: r.responseText === null ? null : r.responseText.replace(/\0/g, ''),
    };
    if (isSuccess(r.status)) {
      out.rows.push({ ...base, outcome: 'delivered', reason: null, next_at: null, new_offset: null });
      out.ended.add(issuer);
      deliveryMetrics.outcomes.inc({ issuer, outcome: 'delivered' });
      continue;
    }
    const reason = r.error ?? `HTTP ${r.status}`;
    if (r.status === 410) {
      out.gone.add(issuer);
      out.rows.push({ ...base, outcome: 'retry', reason, next_at: new Date(policy.now()).toISOString(), new_offset: r.n.attempts });
      deliveryMetrics.outcomes.inc({ issuer, outcome: 'endpoint_disabled' });
      continue;
    }
    const delay = nextRetryDelayMs(policy.retryScheduleMs, r.n.attempts - r.n.scheduleOffset, { retryAfterMs: r.retryAfterMs, random: policy.random });
    if (delay === undefined) {
      out.rows.push({ ...base, outcome: 'dead', reason, next_at: null, new_offset: null });
      out.ended.add(issuer);
      out.dead.push({ notificationId: r.n.id, issuerId: issuer, reason });
      deliveryMetrics.outcomes.inc({ issuer, outcome: 'dead' });
    } else {
      out.rows.push({ ...base, outcome: 'retry', reason, next_at: new Date(policy.now() + delay).toISOString(), new_offset: null });
      deliveryMetrics.outcomes.inc({ issuer, outcome: 'retry' });
    }
  }
  return out;
}
