import type { CarrierCode } from '../../domain/carriers.ts';
import type { TrackResult } from '../../domain/shipment.ts';
import { trackingUrl } from '../tracking-urls.ts';
import { ClientCredentialsToken } from '../oauth.ts';
import {
  type CarrierProvider,
  type HttpClient,
  type HttpResponse,
  type ProviderConfig,
  type TrackRequest,
  retryAfterMs,
} from '../provider.ts';
import { type UspsTrackingResponse, parseUspsTrackingResponse } from './parse.ts';

export const USPS_PRODUCTION_ORIGIN = 'https://apis.usps.com';

export function uspsTrackingUrl(carrier: CarrierCode, trackingNumber: string): string {
  return trackingUrl(carrier, trackingNumber);
}

/**
 * USPS Tracking 3.0: OAuth2 client credentials (JSON body) at `/oauth2/v3/token`, then
 * `GET /tracking/v3/tracking/{trackingNumber}?expand=DETAIL`, one number per call.
 */
export class UspsProvider implements CarrierProvider {
  readonly name = 'usps' as const;
  readonly maxBatch = 1;
  private readonly token: ClientCredentialsToken;

  constructor(
    private readonly config: ProviderConfig,
    private readonly http: HttpClient,
  ) {
    this.token = new ClientCredentialsToken(
      http,
      `${config.baseUrl}/oauth2/v3/token`,
      config.clientId ?? '',
      config.clientSecret ?? '',
      'json',
    );
  }

  async track(requests: TrackRequest[]): Promise<Map<string, TrackResult>> {
    const results = new Map<string, TrackResult>();
    for (const r of requests) results.set(r.trackingNumber, await this.trackOne(r.trackingNumber));
    return results;
  }

  private async trackOne(number: string): Promise<TrackResult> {
    try {
      let res = await this.call(number);
      if (res.status === 401) {
        this.token.invalidate();
        res = await this.call(number);
      }
      if (res.status === 429 || res.status >= 500) {
        return {
          kind: 'error',
          retryable: true,
          message: `USPS answered ${res.status}`,
          retryAfterMs: retryAfterMs(res.headers['retry-after']),
        };
      }
      let json: UspsTrackingResponse;
      try {
        json = JSON.parse(res.body) as UspsTrackingResponse;
      } catch {
        return { kind: 'error', retryable: true, message: `USPS sent non-JSON (${res.status})` };
      }
      if (res.status === 404) return { kind: 'not_found', message: 'USPS: no record of this number' };
      if (res.status >= 400 && !json.error) return { kind: 'error', retryable: false, message: `USPS answered ${res.status}` };
      return parseUspsTrackingResponse(json, number);
    } catch (err) {
      return { kind: 'error', retryable: true, message: `USPS unreachable: ${(err as Error).message}` };
    }
  }

  private async call(number: string): Promise<HttpResponse> {
    const token = await this.token.get();
    return this.http(`${this.config.baseUrl}/tracking/v3/tracking/${encodeURIComponent(number)}?expand=DETAIL`, {
      method: 'GET',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    });
  }
}
