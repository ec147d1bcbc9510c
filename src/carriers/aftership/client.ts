import type { CarrierCode } from '../../domain/carriers.ts';
import type { TrackResult } from '../../domain/shipment.ts';
import {
  type CarrierProvider,
  type HttpClient,
  type HttpResponse,
  type ProviderConfig,
  retryAfterMs,
  type TrackRequest,
} from '../provider.ts';
import { trackingUrl } from '../tracking-urls.ts';
import { type AftershipEnvelope, parseAftershipResponse, trackingOf } from './parse.ts';
import { AFTERSHIP_ALREADY_EXISTS } from './statuses.ts';

export const AFTERSHIP_PRODUCTION_ORIGIN = 'https://api.aftership.com';
/** Dated API version (AfterShip quick start, 2026-07); v4 is the legacy shape the parser also reads. */
export const AFTERSHIP_API_VERSION = '2026-07';

/** The carrier's public page: AfterShip serves every carrier, so the page is the carrier's own. */
export function aftershipTrackingUrl(carrier: CarrierCode, trackingNumber: string): string {
  return trackingUrl(carrier, trackingNumber);
}

type Outcome = { res: HttpResponse; json?: AftershipEnvelope };

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

  private get root(): string {
    return `${this.config.baseUrl}/tracking/${AFTERSHIP_API_VERSION}`;
  }

  async track(requests: TrackRequest[]): Promise<Map<string, TrackResult>> {
    const results = new Map<string, TrackResult>();
    for (const r of requests) results.set(r.trackingNumber, await this.trackOne(r));
    return results;
  }

  private async trackOne(r: TrackRequest): Promise<TrackResult> {
    const key = `${r.carrier}:${r.trackingNumber}`;
    try {
      const known = this.ids.get(key);
      if (known) {
        const got = await this.send('GET', `/trackings/${encodeURIComponent(known)}`);
        if (got.res.status !== 404) return this.finish(got, r, key);
        // Deleted on AfterShip's side (or expired and purged): register it again.
        this.ids.delete(key);
      }
      const created = await this.send('POST', '/trackings', { tracking_number: r.trackingNumber, slug: r.carrier });
      if (created.json?.meta?.code !== AFTERSHIP_ALREADY_EXISTS) return this.finish(created, r, key);
      const query = new URLSearchParams({ tracking_numbers: r.trackingNumber, slug: r.carrier });
      return this.finish(await this.send('GET', `/trackings?${query}`), r, key);
    } catch (err) {
      return { kind: 'error', retryable: true, message: `AfterShip unreachable: ${(err as Error).message}` };
    }
  }

  private finish({ res, json }: Outcome, r: TrackRequest, key: string): TrackResult {
    if (res.status === 429 || res.status >= 500) {
      return {
        kind: 'error',
        retryable: true,
        message: `AfterShip answered ${res.status}`,
        retryAfterMs: retryAfterMs(res.headers['retry-after']) ?? resetMs(res.headers['x-ratelimit-reset']),
      };
    }
    if (!json) return { kind: 'error', retryable: true, message: `AfterShip sent non-JSON (${res.status})` };
    if (!json.meta && res.status >= 400) json.meta = { code: res.status };
    const result = parseAftershipResponse(json, r.trackingNumber, r.carrier);
    const id = trackingOf(json, r.trackingNumber, r.carrier)?.id;
    if (result.kind === 'found' && id) this.ids.set(key, id);
    return result;
  }

  private async send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Outcome> {
    const res = await this.http(`${this.root}${path}`, {
      method,
      headers: { 'as-api-key': this.config.apiKey ?? '', 'content-type': 'application/json', accept: 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    try {
      return { res, json: JSON.parse(res.body) as AftershipEnvelope };
    } catch {
      return { res };
    }
  }
}

/** `x-ratelimit-reset` is a Unix time in seconds. */
function resetMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v || !/^\d+$/.test(v.trim())) return undefined;
  return Math.max(0, Number(v) * 1000 - now);
}
