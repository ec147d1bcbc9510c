import { randomUUID } from 'node:crypto';
import type { TrackResult } from '../../domain/shipment.ts';
import { ClientCredentialsToken } from '../../net/oauth-client.ts';
import { callJson } from '../http.ts';
import { type CarrierProvider, type HttpClient, type ProviderConfig, type TrackRequest, trackEach } from '../provider.ts';
import { parseUpsTrackResponse, type UpsTrackResponse } from './parse.ts';

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

  track(requests: TrackRequest[]): Promise<Map<string, TrackResult>> {
    return trackEach(requests, (r) => this.trackOne(r.trackingNumber));
  }

  private async trackOne(number: string): Promise<TrackResult> {
    const call = await callJson<UpsTrackResponse>({
      label: 'UPS',
      http: this.http,
      url: `${this.config.baseUrl}/api/track/v1/details/${encodeURIComponent(number)}?locale=en_US`,
      method: 'GET',
      token: this.token,
      headers: {
        accept: 'application/json',
        // UPS requires a per-request id and a caller name on every Track call.
        transId: randomUUID().replace(/-/g, '').slice(0, 32),
        transactionSrc: 'trackhub',
      },
    });
    if (!call.ok) return call.result;
    const { status, json } = call;
    if (status === 404 && !json.response?.errors?.length) return { kind: 'not_found', message: 'UPS: not found' };
    const result = parseUpsTrackResponse(json, number);
    // A 404 whose error code we do not list is still UPS saying it has no such number.
    if (status === 404 && result.kind === 'error') return { kind: 'not_found', message: result.message };
    return result;
  }
}
