import type { CarrierCode } from '../../domain/carriers.ts';
import type { TrackResult } from '../../domain/shipment.ts';
import { callJson } from '../http.ts';
import { type CarrierProvider, type HttpClient, type ProviderConfig, type TrackRequest, trackEach } from '../provider.ts';
import { type DhlTrackResponse, parseDhlTrackResponse } from './parse.ts';

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

  track(requests: TrackRequest[]): Promise<Map<string, TrackResult>> {
    return trackEach(requests, (r) => this.trackOne(r));
  }

  private async trackOne(r: TrackRequest): Promise<TrackResult> {
    const query = new URLSearchParams({ trackingNumber: r.trackingNumber, language: 'en' });
    const service = SERVICE[r.carrier];
    if (service) query.set('service', service);
    const call = await callJson<DhlTrackResponse>({
      label: 'DHL',
      http: this.http,
      url: `${this.config.baseUrl}/track/shipments?${query}`,
      method: 'GET',
      headers: { 'DHL-API-Key': this.config.apiKey ?? '', accept: 'application/json' },
      nonJson: (status) => (status === 404 ? { kind: 'not_found', message: 'DHL: not found' } : undefined),
    });
    if (!call.ok) return call.result;
    const json = call.json;
    if (call.status >= 400 && json.status === undefined) json.status = call.status;
    return parseDhlTrackResponse(json, r.trackingNumber, r.carrier);
  }
}
