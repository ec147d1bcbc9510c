import type { CarrierCode } from '../../domain/carriers.ts';
import type { TrackResult } from '../../domain/shipment.ts';
import { trackingUrl } from '../tracking-urls.ts';
import { type CarrierProvider, type HttpClient, type ProviderConfig, type TrackRequest, retryAfterMs } from '../provider.ts';
import { type DhlTrackResponse, parseDhlTrackResponse } from './parse.ts';

export const DHL_PRODUCTION_ORIGIN = 'https://api-eu.dhl.com';

export function dhlTrackingUrl(carrier: CarrierCode, trackingNumber: string): string {
  return trackingUrl(carrier, trackingNumber);
}

/**
 * `service` narrows the lookup to one DHL division. Only Express is documented with a value we are sure
 * of; Deutsche Post items may live under `parcel-de` or `post-de` and eCommerce under several regional
 * services, so for those we let DHL pick the division.
 */
const SERVICE: Partial<Record<CarrierCode, string>> = { dhl: 'express' };

/** DHL Shipment Tracking – Unified: `GET /track/shipments?trackingNumber=…` with `DHL-API-Key`. */
export class DhlProvider implements CarrierProvider {
  readonly name = 'dhl' as const;
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
    const query = new URLSearchParams({ trackingNumber: r.trackingNumber, language: 'en' });
    const service = SERVICE[r.carrier];
    if (service) query.set('service', service);
    try {
      const res = await this.http(`${this.config.baseUrl}/track/shipments?${query}`, {
        method: 'GET',
        headers: { 'DHL-API-Key': this.config.apiKey ?? '', accept: 'application/json' },
      });
      if (res.status === 429 || res.status >= 500) {
        return {
          kind: 'error',
          retryable: true,
          message: `DHL answered ${res.status}`,
          retryAfterMs: retryAfterMs(res.headers['retry-after']),
        };
      }
      if (res.status === 401 || res.status === 403) {
        return { kind: 'error', retryable: false, message: `DHL refused the API key (${res.status})` };
      }
      let json: DhlTrackResponse;
      try {
        json = JSON.parse(res.body) as DhlTrackResponse;
      } catch {
        return res.status === 404
          ? { kind: 'not_found', message: 'DHL: not found' }
          : { kind: 'error', retryable: true, message: `DHL sent non-JSON (${res.status})` };
      }
      if (res.status >= 400 && json.status === undefined) json.status = res.status;
      return parseDhlTrackResponse(json, r.trackingNumber, r.carrier);
    } catch (err) {
      return { kind: 'error', retryable: true, message: `DHL unreachable: ${(err as Error).message}` };
    }
  }
}
