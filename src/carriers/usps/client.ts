import type { TrackResult } from '../../domain/shipment.ts';
import { ClientCredentialsToken } from '../../net/oauth-client.ts';
import { callJson } from '../http.ts';
import { type CarrierProvider, failAll, type HttpClient, type ProviderConfig, type TrackRequest, trackInBatches } from '../provider.ts';
import { parseUspsBatch, USPS_MAX_NUMBERS, type UspsBatchResponse } from './parse.ts';

/**
 * USPS Tracking 3.2: OAuth2 client credentials (JSON body) at `/oauth2/v3/token`, then
 * `POST /tracking/v3r2/tracking` with a JSON array of `{trackingNumber}`, up to 35 numbers a call. New apps
 * get about 60 calls an hour, so every number a call can carry matters.
 */
export class UspsProvider implements CarrierProvider {
  readonly name = 'usps' as const;
  readonly maxBatch = USPS_MAX_NUMBERS;
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
    return trackInBatches(requests, this.maxBatch, (chunk) => this.trackSome(chunk));
  }

  private async trackSome(chunk: TrackRequest[]): Promise<Map<string, TrackResult>> {
    const numbers = chunk.map((r) => r.trackingNumber);
    const call = await callJson<UspsBatchResponse>({
      label: 'USPS',
      http: this.http,
      url: `${this.config.baseUrl}/tracking/v3r2/tracking`,
      method: 'POST',
      token: this.token,
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify(numbers.map((trackingNumber) => ({ trackingNumber }))),
    });
    return call.ok ? parseUspsBatch(call.json, call.status, numbers) : failAll(chunk, call.result);
  }
}
