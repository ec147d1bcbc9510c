import type { CarrierCode } from '../../domain/carriers.ts';
import type { TrackResult } from '../../domain/shipment.ts';
import { callJson } from '../http.ts';
import type { CarrierProvider, HttpClient, ProviderConfig, TrackRequest } from '../provider.ts';
import { trackingUrl } from '../tracking-urls.ts';
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
