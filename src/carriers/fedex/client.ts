import type { TrackResult } from '../../domain/shipment.ts';
import { ClientCredentialsToken } from '../../net/oauth-client.ts';
import { callJson } from '../http.ts';
import { type CarrierProvider, failAll, type HttpClient, type ProviderConfig, type TrackRequest } from '../provider.ts';
import { type FedexTrackResponse, parseFedexTrackResponse } from './parse.ts';

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
    const call = await callJson<FedexTrackResponse>({
      label: 'FedEx',
      http: this.http,
      url: `${this.config.baseUrl}/track/v1/trackingnumbers`,
      method: 'POST',
      token: this.token,
      headers: { 'content-type': 'application/json', 'x-locale': 'en_US' },
      body: JSON.stringify({
        includeDetailedScans: true,
        trackingInfo: numbers.map((trackingNumber) => ({ trackingNumberInfo: { trackingNumber } })),
      }),
    });
    return call.ok ? parseFedexTrackResponse(call.json, numbers) : failAll(requests, call.result);
  }
}
