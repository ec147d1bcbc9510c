import type { TrackResult } from '../../domain/shipment.ts';
import { ClientCredentialsToken } from '../oauth.ts';
import {
  type CarrierProvider,
  type HttpClient,
  type ProviderConfig,
  type TrackRequest,
  failAll,
  retryAfterMs,
} from '../provider.ts';
import { type FedexTrackResponse, parseFedexTrackResponse } from './parse.ts';

export const FEDEX_PRODUCTION_ORIGIN = 'https://apis.fedex.com';

export function fedexTrackingUrl(trackingNumber: string): string {
  return `https://www.fedex.com/fedextrack/?trknbr=${encodeURIComponent(trackingNumber)}`;
}

/** FedEx Track API: OAuth2 client credentials, then `POST /track/v1/trackingnumbers`, 30 numbers a call. */
export class FedexProvider implements CarrierProvider {
  readonly name = 'fedex' as const;
  readonly maxBatch = 30;
  private readonly token: ClientCredentialsToken;

  constructor(
    private readonly config: ProviderConfig,
    private readonly http: HttpClient,
  ) {
    this.token = new ClientCredentialsToken(
      http,
      `${config.baseUrl}/oauth/token`,
      config.clientId ?? '',
      config.clientSecret ?? '',
      'body',
    );
  }

  async track(requests: TrackRequest[]): Promise<Map<string, TrackResult>> {
    const numbers = requests.map((r) => r.trackingNumber);
    const body = JSON.stringify({
      includeDetailedScans: true,
      trackingInfo: numbers.map((trackingNumber) => ({ trackingNumberInfo: { trackingNumber } })),
    });
    try {
      let res = await this.call(body);
      if (res.status === 401) {
        this.token.invalidate();
        res = await this.call(body);
      }
      if (res.status === 429 || res.status >= 500) {
        return failAll(requests, {
          kind: 'error',
          retryable: true,
          message: `FedEx answered ${res.status}`,
          retryAfterMs: retryAfterMs(res.headers['retry-after']),
        });
      }
      let json: FedexTrackResponse;
      try {
        json = JSON.parse(res.body) as FedexTrackResponse;
      } catch {
        return failAll(requests, { kind: 'error', retryable: true, message: `FedEx sent non-JSON (${res.status})` });
      }
      return parseFedexTrackResponse(json, numbers);
    } catch (err) {
      return failAll(requests, { kind: 'error', retryable: true, message: `FedEx unreachable: ${(err as Error).message}` });
    }
  }

  private async call(body: string) {
    const token = await this.token.get();
    return this.http(`${this.config.baseUrl}/track/v1/trackingnumbers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-locale': 'en_US' },
      body,
    });
  }
}
