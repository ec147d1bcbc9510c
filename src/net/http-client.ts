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

/** Raised when an answer is longer than its reader allows: the rest is never read. */
export class AnswerTooLarge extends Error {
  constructor(maxBytes: number) {
    super(`the answer is over ${maxBytes} bytes`);
  }
}

/**
 * The whole body of an answer as text, refusing one over `maxBytes` as soon as it gets there (the rest
 * is not read: a huge or endless answer from a carrier or a token server must not fill the memory).
 */
export async function readCapped(body: AsyncIterable<Buffer> & { destroy?: () => void }, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) {
      body.destroy?.();
      throw new AnswerTooLarge(maxBytes);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
