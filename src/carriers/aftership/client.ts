import type { TrackResult } from '../../domain/shipment.ts';
import { callJson, type JsonCall } from '../http.ts';
import { type CarrierProvider, type HttpClient, type HttpResponse, type ProviderConfig, type TrackRequest, trackEach } from '../provider.ts';
import { type AftershipEnvelope, parseAftershipResponse, trackingOf } from './parse.ts';
import { AFTERSHIP_ALREADY_EXISTS } from './statuses.ts';

/** Dated API version (AfterShip quick start, 2026-07); v4 is the legacy shape the parser also reads. */
export const AFTERSHIP_API_VERSION = '2026-07';
/** AfterShip ids remembered, one per number tracked; past this the oldest is forgotten (and registered again if polled). */
const MAX_KNOWN_IDS = 100_000;

/**
 * AfterShip Tracking API. A number must be registered (`POST /trackings`) before AfterShip tracks it;
 * afterwards it is read by id. The slug is the hub's carrier code, which follows AfterShip's slugs.
 */
export class AftershipProvider implements CarrierProvider {
  readonly name = 'aftership' as const;
  readonly maxBatch = 1;
  /** AfterShip ids of numbers already registered, so a poll is one GET rather than a POST. */
  private readonly ids = new Map<string, string>();

  constructor(
    private readonly config: ProviderConfig,
    private readonly http: HttpClient,
  ) {}

  track(requests: TrackRequest[]): Promise<Map<string, TrackResult>> {
    return trackEach(requests, (r) => this.trackOne(r));
  }

  private async trackOne(r: TrackRequest): Promise<TrackResult> {
    const key = `${r.carrier}:${r.trackingNumber}`;
    const known = this.ids.get(key);
    if (known) {
      const got = await this.send('GET', `/trackings/${encodeURIComponent(known)}`);
      if (!(got.ok && got.status === 404)) return this.finish(got, r, key);
      // Deleted on AfterShip's side (or expired and purged): register it again.
      this.ids.delete(key);
    }
    const created = await this.send('POST', '/trackings', { tracking_number: r.trackingNumber, slug: r.carrier });
    if (!created.ok || created.json.meta?.code !== AFTERSHIP_ALREADY_EXISTS) return this.finish(created, r, key);
    const query = new URLSearchParams({ tracking_numbers: r.trackingNumber, slug: r.carrier });
    return this.finish(await this.send('GET', `/trackings?${query}`), r, key);
  }

  private finish(call: JsonCall<AftershipEnvelope>, r: TrackRequest, key: string): TrackResult {
    if (!call.ok) return call.result;
    const json = call.json;
    if (!json.meta && call.status >= 400) json.meta = { code: call.status };
    const result = parseAftershipResponse(json, r.trackingNumber, r.carrier);
    const id = trackingOf(json, r.trackingNumber, r.carrier)?.id;
    if (result.kind === 'found' && id) this.remember(key, id);
    return result;
  }

  private remember(key: string, id: string): void {
    this.ids.delete(key);
    this.ids.set(key, id);
    if (this.ids.size > MAX_KNOWN_IDS) this.ids.delete(this.ids.keys().next().value as string);
  }

  private send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<JsonCall<AftershipEnvelope>> {
    return callJson<AftershipEnvelope>({
      label: 'AfterShip',
      http: this.http,
      url: `${this.config.baseUrl}/tracking/${AFTERSHIP_API_VERSION}${path}`,
      method,
      headers: { 'as-api-key': this.config.apiKey ?? '', 'content-type': 'application/json', accept: 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      waitWithoutRetryAfter: (headers) => resetMs(headers['x-ratelimit-reset']),
    });
  }
}

/** `x-ratelimit-reset` is a Unix time in seconds. */
function resetMs(value: HttpResponse['headers'][string], now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v || !/^\d+$/.test(v.trim())) return undefined;
  return Math.max(0, Number(v) * 1000 - now);
}
