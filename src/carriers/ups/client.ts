import { randomUUID } from 'node:crypto';
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
import { type UpsTrackResponse, parseUpsTrackResponse } from './parse.ts';

export const UPS_PRODUCTION_ORIGIN = 'https://onlinetools.ups.com';

export function upsTrackingUrl(carrier: CarrierCode, trackingNumber: string): string {
  return trackingUrl(carrier, trackingNumber);
}

/**
 * UPS Track API: OAuth2 client credentials with HTTP Basic at `/security/v1/oauth/token`, then
 * `GET /api/track/v1/details/{inquiryNumber}`, one number per call.
 */
export class UpsProvider implements CarrierProvider {
  readonly name = 'ups' as const;
  readonly maxBatch = 1;
  private readonly token: ClientCredentialsToken;

  constructor(
    private readonly config: ProviderConfig,
    private readonly http: HttpClient,
  ) {
    this.token = new ClientCredentialsToken(
      http,
      `${config.baseUrl}/security/v1/oauth/token`,
      config.clientId ?? '',
      config.clientSecret ?? '',
      'basic',
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
          message: `UPS answered ${res.status}`,
          retryAfterMs: retryAfterMs(res.headers['retry-after']),
        };
      }
      let json: UpsTrackResponse;
      try {
        json = JSON.parse(res.body) as UpsTrackResponse;
      } catch {
        return { kind: 'error', retryable: true, message: `UPS sent non-JSON (${res.status})` };
      }
      if (res.status === 404 && !json.response?.errors?.length) return { kind: 'not_found', message: 'UPS: not found' };
      const result = parseUpsTrackResponse(json, number);
      // A 404 whose error code we do not list is still UPS saying it has no such number.
      if (res.status === 404 && result.kind === 'error') return { kind: 'not_found', message: result.message };
      return result;
    } catch (err) {
      return { kind: 'error', retryable: true, message: `UPS unreachable: ${(err as Error).message}` };
    }
  }

  private async call(number: string): Promise<HttpResponse> {
    const token = await this.token.get();
    return this.http(`${this.config.baseUrl}/api/track/v1/details/${encodeURIComponent(number)}?locale=en_US`, {
      method: 'GET',
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        // UPS requires a per-request id and a caller name on every Track call.
        transId: randomUUID().replace(/-/g, '').slice(0, 32),
        transactionSrc: 'trackhub',
      },
    });
  }
}
