/**
 * The shape of an HTTP call, as the carrier providers and the delivery token client use it: one
 * request, the whole answer as text. Callers are handed one (undici in production, a fake in tests).
 */
export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** The only way a provider (or an OAuth token client) reaches the network, so tests can hand it a fake. */
export type HttpClient = (
  url: string,
  init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string; timeoutMs?: number },
) => Promise<HttpResponse>;
