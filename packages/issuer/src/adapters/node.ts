import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebhookVerificationError } from '../errors.ts';
import type { HandleResult, NotificationHandler } from '../handler.ts';
import { optionalNumber } from '../options.ts';

export interface AdapterOptions {
  /** The largest body read, in bytes (default 1 MiB); a larger one is answered 413 unread. */
  maxBodyBytes?: number;
  /**
   * Told of a notification that failed for a reason other than its signature (onUpdate threw, the store
   * is away): it is answered 500 and the hub sends it again. Default: one line on stderr.
   */
  onError?: (err: unknown) => void;
}

export const DEFAULT_MAX_BODY = 1024 * 1024;

/** Why a request was answered the way it was: status and a short JSON body (never a secret). */
export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** The answer to send for a handled (or failed) notification: 2xx only when it was taken or already had. */
export async function answerFor(run: () => Promise<HandleResult>, onError: AdapterOptions['onError']): Promise<Answer> {
  try {
    const r = await run();
    return { status: 200, body: { ...r } };
  } catch (err) {
    if (err instanceof WebhookVerificationError) {
      // invalid_body: a signed body we cannot read; every other reason: not proven to come from the hub.
      return { status: err.reason === 'invalid_body' ? 400 : 401, body: { error: err.reason } };
    }
    (onError ?? defaultOnError)(err);
    return { status: 500, body: { error: 'the notification was not processed; it will be sent again' } };
  }
}

function defaultOnError(err: unknown): void {
  process.stderr.write(`@trackhub/issuer: a notification was refused (the hub will send it again): ${(err as Error)?.message ?? String(err)}\n`);
}

export class BodyTooLarge extends Error {}

/** Reads a request's raw body, refusing one over `max` bytes (by content-length before reading, else while reading). */
export function readRawBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        // Not drained: an endless chunked body would be read for ever. The 413 closes the connection.
        req.removeAllListeners('data');
        req.pause();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function send(res: ServerResponse, answer: Answer): void {
  const text = JSON.stringify(answer.body);
  res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Answers a body too large, or unreadable, and closes the connection once the answer is out: the
 * rest of the body is not read (a keep-alive connection would otherwise go on taking an endless one).
 */
export function refuseBody(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  const answer = err instanceof BodyTooLarge ? { status: 413, body: { error: 'body too large' } } : { status: 400, body: { error: 'the body could not be read' } };
  const text = JSON.stringify(answer.body);
  // With `connection: close` node ends the connection once the answer is out; the socket is destroyed a
  // second later in any case. A client still sending may get a reset (its body was refused anyway).
  res.on('finish', () => {
    const socket = req.socket;
    socket?.end();
    if (socket) setTimeout(() => socket.destroy(), 1000).unref();
  });
  res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'close' });
  res.end(text);
}

/** maxBodyBytes checked (NaN or a string would make the limit never apply). */
export function maxBodyOf(opts: AdapterOptions): number {
  if (opts === null || typeof opts !== 'object') throw new TypeError('the adapter options must be an object ({ maxBodyBytes?, onError? })');
  if (opts.onError !== undefined && typeof opts.onError !== 'function') throw new TypeError('onError must be a function');
  return optionalNumber(opts.maxBodyBytes, DEFAULT_MAX_BODY, 'maxBodyBytes', { min: 1, integer: true });
}

/** The handler given to an adapter: a NotificationHandler, said plainly when it is not one. */
export function checkHandler(handler: NotificationHandler): void {
  if (!handler || typeof handler.handle !== 'function') throw new TypeError('the adapter needs a NotificationHandler (new NotificationHandler({ secrets, store, onUpdate }))');
}

/**
 * A `node:http` request listener for the hub's notifications: POST only (405 otherwise), the raw body
 * read (413 over `maxBodyBytes`) and handed to `handler`; answers 200 when the notification was
 * applied or already had, 401 when it does not verify, 500 when onUpdate or the store failed.
 * Mount it at the notification path (`/notifications/d1/v2/issuers/{issuerId}/cards`) or anywhere.
 */
export function nodeHttpListener(handler: NotificationHandler, opts: AdapterOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  checkHandler(handler);
  const max = maxBodyOf(opts);
  return (req, res) => {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      send(res, { status: 405, body: { error: 'POST only' } });
      return;
    }
    readRawBody(req, max).then(
      async (raw) => send(res, await answerFor(() => handler.handle(raw, req.headers), opts.onError)),
      (err) => refuseBody(req, res, err),
    );
  };
}
