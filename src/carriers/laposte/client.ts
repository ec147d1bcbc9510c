import type { TrackResult } from '../../domain/shipment.ts';
import { callJson } from '../http.ts';
import { type CarrierProvider, type HttpClient, type ProviderConfig, type TrackRequest, trackEach } from '../provider.ts';
import { type LaPosteResponse, parseLaPosteResponse } from './parse.ts';

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

  track(requests: TrackRequest[]): Promise<Map<string, TrackResult>> {
    return trackEach(requests, (r) => this.trackOne(r));
  }

  private async trackOne(r: TrackRequest): Promise<TrackResult> {
    const call = await callJson<LaPosteResponse>({
      label: 'La Poste',
      http: this.http,
      url: `${this.config.baseUrl}/suivi/v2/idships/${encodeURIComponent(r.trackingNumber)}?lang=en_GB`,
      method: 'GET',
      headers: { 'X-Okapi-Key': this.config.apiKey ?? '', accept: 'application/json' },
    });
    if (!call.ok) return call.result;
    const json = call.json;
    if (!Array.isArray(json) && json.returnCode === undefined && call.status >= 400) json.returnCode = call.status;
    return parseLaPosteResponse(json, r.trackingNumber, r.carrier);
  }
}
