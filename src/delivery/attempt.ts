import { request } from 'undici';
import { notificationBody } from '../store/notification-feed.ts';
import { parseRetryAfter } from './retry-after.ts';
import { signatureHeader } from './signing.ts';
import type { IssuerTarget } from './targets.ts';

/** A claimed notification: its head outbox row, and the operations it carries. */
export interface Claimed {
  id: string;
  issuerId: string;
  correlationId: string;
  /** Counts the attempt about to be made. */
  attempts: number;
  scheduleOffset: number;
  payloads: string[];
}

/** What one attempt came to: an HTTP status, or an error (a timeout says so). */
export interface AttemptResult {
  n: Claimed;
  /** On the dispatcher's clock (recorded as attempted_at). */
  startedAt: number;
  status?: number;
  error?: string;
  timedOut?: boolean;
  latencyMs: number;
  responseText: string | null;
  retryAfterMs?: number;
}

/** Only this much of an issuer's answer is read and kept in the attempt log. */
const RESPONSE_PREFIX_BYTES = 2048;
/** How long the body of an answer whose status has arrived may take to give that prefix. */
const BODY_READ_MS = 1000;

export interface AttemptOptions {
  /** The whole attempt (connect, send, response) must finish within this. */
  timeoutMs: number;
  /** Aborted when the dispatcher stops: the attempt is cut short and gives no result. */
  shutdown: AbortSignal;
  now: () => number;
}

/**
 * POSTs one notification to its issuer, signed (Standard Webhooks) and with the issuer's OAuth token
 * when it has one; a 401 gets one retry with a fresh token. Never throws: an answer, an error, or
 * `undefined` when cut short by shutdown.
 */
export async function attemptDelivery(target: IssuerTarget, n: Claimed, o: AttemptOptions): Promise<AttemptResult | undefined> {
  // Written by the store's function, so the catch-up feed serves the very same bytes.
  const body = notificationBody(n.payloads);
  const started = performance.now();
  const startedAt = o.now();
  // One controller per attempt, ended by its own timer or by shutdown. Not AbortSignal.any([timeout,
  // shutdown]): on Node 20 every such signal leaves a WeakRef in the long-lived shutdown signal for good,
  // so the worker's heap grew with every attempt it ever made (seen by `npm run fuzz`'s heap samples).
  const attempt = new AbortController();
  const timer = setTimeout(() => attempt.abort(), o.timeoutMs);
  const onShutdown = () => attempt.abort();
  o.shutdown.addEventListener('abort', onShutdown, { once: true });
  if (o.shutdown.aborted) attempt.abort();
  const release = () => {
    clearTimeout(timer);
    o.shutdown.removeEventListener('abort', onShutdown);
  };
  const signal = attempt.signal;
  try {
    let res = await post(target, n, body, signal);
    if (res.statusCode === 401 && target.token) {
      // The token may have been revoked early: fetch a new one once and send again.
      await res.body.dump().catch(() => {});
      target.token.invalidate();
      res = await post(target, n, body, signal);
    }
    // The status is the answer: from here neither the attempt's timeout nor a shutdown applies, so a
    // slow body can never turn a 200 into a timeout or a drop (and a resend). The body prefix gets a
    // short time of its own, which a stopping dispatcher's drain allows for.
    release();
    const responseText = await readPrefix(res.body, RESPONSE_PREFIX_BYTES, BODY_READ_MS);
    return { n, startedAt, status: res.statusCode, latencyMs: performance.now() - started, responseText, retryAfterMs: parseRetryAfter(res.headers['retry-after'], o.now()) };
  } catch (err) {
    if (o.shutdown.aborted) return undefined;
    // The agent's own headers/body timeouts equal the attempt's: whichever fires first, it is a timeout
    // (an overloaded endpoint to the throttle), not some other network error.
    const code = (err as { code?: string })?.code;
    const timedOut = signal.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
    return { n, startedAt, error: timedOut ? `timeout after ${o.timeoutMs} ms` : describeError(err), timedOut, latencyMs: performance.now() - started, responseText: null };
  } finally {
    release();
  }
}

async function post(target: IssuerTarget, n: Claimed, body: string, signal: AbortSignal) {
  // The receiver checks this against its own clock: always the real one.
  const timestamp = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-correlation-id': n.correlationId,
    'webhook-id': n.id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader({ secrets: target.secrets, signingKey: target.signingKey }, n.id, timestamp, body),
    'user-agent': 'trackhub',
  };
  if (target.token) headers.authorization = `Bearer ${await target.token.get()}`;
  return request(target.url, { method: 'POST', headers, body, dispatcher: target.agent, signal });
}

function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code && e.code !== 'UND_ERR_SOCKET' ? e.code : (e.cause?.code ?? e.code);
  const message = e.message || e.cause?.message || String(err);
  return code ? `${code}: ${message}` : message;
}

/**
 * The first `max` bytes of a response body, or what came within `withinMs`; the rest is not read
 * (leaving the loop destroys the body), so a large, endless or trickling answer neither costs memory
 * nor time, nor turns a received status into a timeout. A body the connection breaks off throws.
 */
async function readPrefix(body: AsyncIterable<Buffer> & { destroy: () => void }, max: number, withinMs: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  let slow = false;
  const cut = setTimeout(() => {
    slow = true;
    body.destroy();
  }, withinMs);
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= max) break;
    }
  } catch (err) {
    // Cut by the timer, the status stands with what was read. A connection that failed mid-body is
    // not a complete answer: the attempt fails as a network error and the notification goes again.
    if (!slow) throw err;
  } finally {
    clearTimeout(cut);
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}
