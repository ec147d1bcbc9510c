import type { TrackResult } from '../../domain/shipment.ts';
import { callJson } from '../http.ts';
import { type CarrierProvider, failAll, type HttpClient, type ProviderConfig, type TrackRequest, trackInBatches } from '../provider.ts';
import { LAPOSTE_MAX_IDS, type LaPosteResponse, parseLaPosteBatch } from './parse.ts';

/**
 * La Poste Suivi v2: `GET /suivi/v2/idships/{id1,…,id10}?lang=en_GB` with `X-Okapi-Key`. The path takes 1 to
 * 10 comma-separated ids (the Suivi v2 Swagger) and answers one item per id.
 */
export class LaPosteProvider implements CarrierProvider {
  readonly name = 'laposte' as const;
  readonly maxBatch = LAPOSTE_MAX_IDS;

  constructor(
    private readonly config: ProviderConfig,
    private readonly http: HttpClient,
  ) {}

  track(requests: TrackRequest[]): Promise<Map<string, TrackResult>> {
    return trackInBatches(requests, this.maxBatch, (chunk) => this.trackSome(chunk));
  }

  private async trackSome(chunk: TrackRequest[]): Promise<Map<string, TrackResult>> {
    // Each id is encoded on its own, so a comma inside a number cannot split it; the separators stay literal.
    const ids = chunk.map((r) => encodeURIComponent(r.trackingNumber)).join(',');
    const call = await callJson<LaPosteResponse>({
      label: 'La Poste',
      http: this.http,
      url: `${this.config.baseUrl}/suivi/v2/idships/${ids}?lang=en_GB`,
      method: 'GET',
      headers: { 'X-Okapi-Key': this.config.apiKey ?? '', accept: 'application/json' },
    });
    if (!call.ok) return failAll(chunk, call.result);
    const json = call.json;
    if (typeof json === 'object' && json !== null && !Array.isArray(json) && json.returnCode === undefined && call.status >= 400) json.returnCode = call.status;
    return parseLaPosteBatch(json, chunk);
  }
}
