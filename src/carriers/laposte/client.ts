import type { CarrierCode } from '../../domain/carriers.ts';
import type { TrackResult } from '../../domain/shipment.ts';
import { trackingUrl } from '../tracking-urls.ts';
import { type CarrierProvider, type HttpClient, type ProviderConfig, type TrackRequest, retryAfterMs } from '../provider.ts';
import { type LaPosteResponse, parseLaPosteResponse } from './parse.ts';

export const LAPOSTE_PRODUCTION_ORIGIN = 'https://api.laposte.fr';

export function laposteTrackingUrl(carrier: CarrierCode, trackingNumber: string): string {
  return trackingUrl(carrier, trackingNumber);
}

/**
 * La Poste Suivi v2: `GET /suivi/v2/idships/{id}?lang=en_GB` with `X-Okapi-Key`. Several ids per call are
 * reported but unverified, so one number per call.
 */
export class LaPosteProvider implements CarrierProvider {
  readonly name = 'laposte' as const;
  readonly maxBatch = 1;

  constructor(
    private readonly config: ProviderConfig,
    private readonly http: HttpClient,
  ) {}

  async track(requests: TrackRequest[]): Promise<Map<string, TrackResult>> {
    const results = new Map<string, TrackResult>();
    for (const r of requests) results.set(r.trackingNumber, await this.trackOne(r));
    return results;
  }

  private async trackOne(r: TrackRequest): Promise<TrackResult> {
    try {
      const res = await this.http(`${this.config.baseUrl}/suivi/v2/idships/${encodeURIComponent(r.trackingNumber)}?lang=en_GB`, {
        method: 'GET',
        headers: { 'X-Okapi-Key': this.config.apiKey ?? '', accept: 'application/json' },
      });
      if (res.status === 429 || res.status >= 500) {
        return {
          kind: 'error',
          retryable: true,
          message: `La Poste answered ${res.status}`,
          retryAfterMs: retryAfterMs(res.headers['retry-after']),
        };
      }
      if (res.status === 401 || res.status === 403) {
        return { kind: 'error', retryable: false, message: `La Poste refused the API key (${res.status})` };
      }
      let json: LaPosteResponse;
      try {
        json = JSON.parse(res.body) as LaPosteResponse;
      } catch {
        return { kind: 'error', retryable: true, message: `La Poste sent non-JSON (${res.status})` };
      }
      if (!Array.isArray(json) && json.returnCode === undefined && res.status >= 400) json.returnCode = res.status;
      return parseLaPosteResponse(json, r.trackingNumber, r.carrier);
    } catch (err) {
      return { kind: 'error', retryable: true, message: `La Poste unreachable: ${(err as Error).message}` };
    }
  }
}
