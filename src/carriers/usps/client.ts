import type { TrackResult } from '../../domain/shipment.ts';
import { ClientCredentialsToken } from '../../net/oauth-client.ts';
import { callJson } from '../http.ts';
import { type CarrierProvider, type HttpClient, type ProviderConfig, type TrackRequest, trackEach } from '../provider.ts';
import { parseUspsTrackingResponse, type UspsTrackingResponse } from './parse.ts';

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

  track(requests: TrackRequest[]): Promise<Map<string, TrackResult>> {
    return trackEach(requests, (r) => this.trackOne(r.trackingNumber));
  }

  private async trackOne(number: string): Promise<TrackResult> {
    const call = await callJson<UspsTrackingResponse>({
      label: 'USPS',
      http: this.http,
      url: `${this.config.baseUrl}/tracking/v3/tracking/${encodeURIComponent(number)}?expand=DETAIL`,
      method: 'GET',
      token: this.token,
      headers: { accept: 'application/json' },
    });
    if (!call.ok) return call.result;
    if (call.status === 404) return { kind: 'not_found', message: 'USPS: no record of this number' };
    if (call.status >= 400 && !call.json.error) return { kind: 'error', retryable: false, message: `USPS answered ${call.status}` };
    return parseUspsTrackingResponse(call.json, number);
  }
}
