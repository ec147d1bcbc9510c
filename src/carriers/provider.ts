import type { CarrierCode } from '../domain/carriers.ts';
import type { TrackResult } from '../domain/shipment.ts';

/** Provider names as they appear in configuration (`TRACKHUB_CARRIER_<PROVIDER>_…`); each has a folder here. */
export const PROVIDER_NAMES = ['fedex', 'ups', 'usps', 'dhl', 'laposte', 'aftership'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export function isProviderName(value: string): value is ProviderName {
  return (PROVIDER_NAMES as readonly string[]).includes(value);
}

/** At most `count` calls per `perMs`, shared by every worker on the store. */
export interface RateLimit {
  count: number;
  perMs: number;
}

export interface ProviderConfig {
  /** An origin such as `https://apis.fedex.com`; the provider appends its API paths. */
  baseUrl: string;
  clientId?: string;
  clientSecret?: string;
  apiKey?: string;
  webhookSecret?: string;
  /** `TRACKHUB_CARRIER_<PROVIDER>_RATE_LIMIT`; the descriptor's `defaultRateLimit` when absent. */
  rateLimit?: RateLimit;
}

/** The only way a provider reaches the network, so tests can hand it a fake (src/net/http-client.ts). */
export type { HttpClient, HttpResponse } from '../net/http-client.ts';

export interface TrackRequest {
  carrier: CarrierCode;
  trackingNumber: string;
}

export interface CarrierProvider {
  readonly name: ProviderName;
  /** Most numbers one API call may carry (FedEx 30, USPS 35, La Poste 10; docs/adding-a-carrier.md, "Numbers per call"). */
  readonly maxBatch: number;
  /** One result per requested number, keyed by tracking number. Never throws for carrier errors. */
  track(requests: TrackRequest[]): Promise<Map<string, TrackResult>>;
}

/**
 * The longest a carrier's Retry-After is obeyed: a day. A larger value (a typo, a broken gateway, a date
 * years ahead) would otherwise freeze the provider for every worker until someone edits the store.
 */
export const MAX_RETRY_AFTER_MS = 86_400_000;

/** Parses a `Retry-After` header (seconds or HTTP date) into milliseconds, at most MAX_RETRY_AFTER_MS. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const ms = /^\d+$/.test(v.trim()) ? Number(v.trim()) * 1000 : Date.parse(v) - now;
  return Number.isFinite(ms) ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms)) : undefined;
}

/** Result for every number of a batch when the whole call failed. */
export function failAll(requests: TrackRequest[], result: TrackResult): Map<string, TrackResult> {
  return new Map(requests.map((r) => [r.trackingNumber, result]));
}

/** The `track` of a provider whose API takes one number per call (`maxBatch` 1): each number in turn. */
export async function trackEach(requests: TrackRequest[], one: (r: TrackRequest) => Promise<TrackResult>): Promise<Map<string, TrackResult>> {
  const results = new Map<string, TrackResult>();
  for (const r of requests) results.set(r.trackingNumber, await one(r));
  return results;
}

/**
 * The `track` of a provider whose API takes several numbers a call: the distinct numbers cut into calls of
 * at most `size`, each answered by `batch`. The poller already cuts by `maxBatch`; cutting here too means no
 * caller can make the provider send a call its carrier refuses. A number `batch` leaves out is an error to
 * retry, never `not_found`: only the carrier's own word on a number makes it unknown.
 */
export async function trackInBatches(
  requests: TrackRequest[],
  size: number,
  batch: (chunk: TrackRequest[]) => Promise<Map<string, TrackResult>>,
): Promise<Map<string, TrackResult>> {
  // Keyed by the requests themselves, so no larger than the list the caller passed.
  const distinct = [...new Map(requests.map((r) => [r.trackingNumber, r])).values()];
  const results = new Map<string, TrackResult>();
  for (let i = 0; i < distinct.length; i += size) {
    const chunk = distinct.slice(i, i + size);
    const answered = await batch(chunk);
    for (const r of chunk) {
      results.set(r.trackingNumber, answered.get(r.trackingNumber) ?? { kind: 'error', retryable: true, message: 'number missing from the carrier answer' });
    }
  }
  return results;
}
