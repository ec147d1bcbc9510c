import { Agent, request } from 'undici';
import type { TrackResult } from '../domain/shipment.ts';
import { readCapped } from '../net/http-client.ts';
import { type ClientCredentialsToken, CredentialsRefused } from '../net/oauth-client.ts';
import { type HttpClient, type HttpResponse, retryAfterMs } from './provider.ts';

/** A carrier's tracking answer, even for a 30-number batch with full histories, is far below this. */
const MAX_CARRIER_ANSWER_BYTES = 8 * 1024 * 1024;

/** The real HttpClient: pooled per origin, bounded by a timeout and a size, never following redirects. */
export function undiciHttpClient(opts: { timeoutMs?: number } = {}): { http: HttpClient; close: () => Promise<void> } {
  const timeout = opts.timeoutMs ?? 20_000;
  const agent = new Agent({ connections: 32, headersTimeout: timeout, bodyTimeout: timeout, connectTimeout: timeout });
  const http: HttpClient = async (url, init) => {
    // One deadline for the whole call, body included: undici's body timeout is between chunks, so an
    // answer trickling a byte at a time would otherwise hold a polling slot (and a stop) for ever.
    const res = await request(url, { method: init.method, headers: init.headers, body: init.body, dispatcher: agent, signal: AbortSignal.timeout(timeout) });
    return { status: res.statusCode, headers: res.headers as Record<string, string | string[] | undefined>, body: await readCapped(res.body, MAX_CARRIER_ANSWER_BYTES) };
  };
  return { http, close: () => agent.close() };
}

/** A JSON answer the provider's parser should read, or the result the whole call ends in. */
export type JsonCall<T> = { ok: true; status: number; json: T } | { ok: false; result: TrackResult };

/**
 * The call every provider makes: send (with a bearer token when `token` is given, renewed once after a
 * 401), turn 429/5xx into a retryable error carrying `Retry-After`, a refused API key into a
 * non-retryable one, and read the body as JSON. Never throws: a network failure is a retryable error.
 */
export async function callJson<T>(o: {
  /** Provider name for messages, e.g. "FedEx". */
  label: string;
  http: HttpClient;
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  token?: ClientCredentialsToken;
  /** What a body that is not JSON means, when the status says more than "broken" (DHL's bare 404). */
  nonJson?: (status: number) => TrackResult | undefined;
  /** The wait a 429/5xx asks for when it sends no `Retry-After` (AfterShip's `x-ratelimit-reset`). */
  waitWithoutRetryAfter?: (headers: HttpResponse['headers']) => number | undefined;
}): Promise<JsonCall<T>> {
  const send = async (): Promise<HttpResponse> => {
    const headers = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${await o.token.get()}`;
    return o.http(o.url, { method: o.method, headers, ...(o.body === undefined ? {} : { body: o.body }) });
  };
  try {
    let res = await send();
    if (res.status === 401 && o.token) {
      o.token.invalidate();
      res = await send();
    }
    if (res.status === 429 || res.status >= 500) {
      return {
        ok: false,
        result: { kind: 'error', retryable: true, message: `${o.label} answered ${res.status}`, retryAfterMs: retryAfterMs(res.headers['retry-after']) ?? o.waitWithoutRetryAfter?.(res.headers) },
      };
    }
    if (!o.token && (res.status === 401 || res.status === 403)) {
      return { ok: false, result: { kind: 'error', retryable: false, message: `${o.label} refused the API key (${res.status})` } };
    }
    try {
      return { ok: true, status: res.status, json: JSON.parse(res.body) as T };
    } catch {
      return { ok: false, result: o.nonJson?.(res.status) ?? { kind: 'error', retryable: true, message: `${o.label} sent non-JSON (${res.status})` } };
    }
  } catch (err) {
    if (err instanceof CredentialsRefused) {
      return { ok: false, result: { kind: 'error', retryable: false, message: `${o.label} credentials refused: ${err.message}` } };
    }
    return { ok: false, result: { kind: 'error', retryable: true, message: `${o.label} unreachable: ${(err as Error).message}` } };
  }
}
