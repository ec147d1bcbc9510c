import type { ApiError } from '../api.ts';
import type { Answer } from '../api-types.ts';
import { shown } from '../text.ts';
import { Badge, count, percent, Time } from '../ui.tsx';

// Pieces the Notifications and Issuers views share: an issuer's delivery health as the Admin API reports it
// (GET /admin/v1/insights/notifications), the endpoint's state in words, and how a refused write is told.

export type NotificationInsights = Answer<'/admin/v1/insights/notifications'>;
export type IssuerInsight = NotificationInsights['issuers'][number];
export type EndpointState = IssuerInsight['endpoint'];

/**
 * The endpoint's state in words (colour only repeats them): ok, throttled until …, disabled since … and why.
 * An endpoint the hub still sends to but whose deliveries fail (under half delivered, or dead letters now) is
 * "failing", not a green ok: the breaker has not tripped, yet nothing arrives.
 */
export function EndpointBadge({ endpoint, health }: { endpoint: EndpointState; health?: Pick<IssuerInsight, 'successRate' | 'deadNow'> }) {
  if (endpoint.state === 'throttled') {
    return (
      <span class="endpoint">
        <Badge tone="warn">throttled</Badge> until <Time value={endpoint.until} /> <span class="muted">({shown(endpoint.reason)})</span>
      </span>
    );
  }
  if (endpoint.state === 'disabled') {
    return (
      <span class="endpoint">
        <Badge tone="bad">disabled</Badge> since <Time value={endpoint.since} />: <span>{shown(endpoint.reason)}</span>
      </span>
    );
  }
  if (health && (health.deadNow > 0 || (health.successRate !== null && health.successRate < 0.5))) {
    return (
      <span class="endpoint">
        <Badge tone="warn">failing: {health.deadNow > 0 ? `${count(health.deadNow)} dead` : `${percent(health.successRate)} delivered`}</Badge>
      </span>
    );
  }
  return <Badge tone="ok">ok</Badge>;
}

/** What one notification told the issuer about an operation: `#3 PENDING, shipment IN_TRANSIT`. */
export interface Carried {
  sequenceNumber: number;
  status: string | null;
  shipmentStatus: string | null;
}

export function carriedStatus(c: Carried): string {
  return `${c.status ?? '(no status)'}${c.shipmentStatus ? `, shipment ${c.shipmentStatus}` : ''}`;
}

export function carriedText(c: Carried): string {
  return `#${c.sequenceNumber} ${carriedStatus(c)}`;
}

/** A refused write, said so an operator knows what to do: a 403 is a token whose scope is too small. */
export function WriteError({ error, action }: { error: ApiError | undefined; action: string }) {
  if (!error) return null;
  if (error.status === 403) {
    return (
      <p class="error" role="alert">
        Not allowed: {action} needs an admin token with the <strong>operate</strong> scope, and this one has less (the hub said: {error.message}). Sign in with
        an operate or admin token to do this.
      </p>
    );
  }
  return (
    <p class="error" role="alert">
      {action} failed: {error.message}
      {error.status ? ` (${error.code}, HTTP ${error.status})` : ''}
    </p>
  );
}

const UTC_INPUT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?\s*(Z|UTC)?$/i;

/**
 * A time typed as UTC (`2026-12-06T08:00Z`, `2026-12-06 08:00`, seconds optional) as an ISO string, or why
 * not. There is no local reading: a time with another offset is refused rather than converted, so what the
 * operator typed is exactly what the hub is sent.
 */
export function parseUtcInput(text: string): { iso: string } | { problem: string } {
  const m = UTC_INPUT.exec(text.trim());
  if (!m) return { problem: 'write a UTC time as 2026-12-06T08:00Z (date, T or a space, hours:minutes, optional seconds)' };
  const [, y, mo, d, h, mi, s = '00'] = m;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}Z`;
  const t = new Date(iso);
  // Date rolls 31 November into December: the round trip catches a day or hour that does not exist.
  if (Number.isNaN(t.getTime()) || t.toISOString() !== `${y}-${mo}-${d}T${h}:${mi}:${s}.000Z`) return { problem: `${text.trim()} is not a real time` };
  return { iso };
}

/** `2026-12-06T08:00Z`: how a UTC input shows a time (the same form it reads). */
export function utcInputValue(d: Date): string {
  return `${d.toISOString().slice(0, 16)}Z`;
}
