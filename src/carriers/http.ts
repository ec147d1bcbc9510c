import { Agent, request } from 'undici';
import type { HttpClient } from './provider.ts';

/** The real HttpClient: pooled per origin, bounded by a timeout, never following redirects. */
export function undiciHttpClient(opts: { timeoutMs?: number } = {}): { http: HttpClient; close: () => Promise<void> } {
  const timeout = opts.timeoutMs ?? 20_000;
  const agent = new Agent({ connections: 32, headersTimeout: timeout, bodyTimeout: timeout, connectTimeout: timeout });
  const http: HttpClient = async (url, init) => {
    const res = await request(url, { method: init.method, headers: init.headers, body: init.body, dispatcher: agent });
    return { status: res.statusCode, headers: res.headers as Record<string, string | string[] | undefined>, body: await res.body.text() };
  };
  return { http, close: () => agent.close() };
}
