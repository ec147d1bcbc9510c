import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NotificationHandler } from '../handler.ts';
import { type AdapterOptions, answerFor, checkHandler, maxBodyOf, readRawBody, refuseBody, send } from './node.ts';

/** The part of an Express request this adapter reads: node's request, and `body` if a parser ran. */
export type ExpressLikeRequest = IncomingMessage & { body?: unknown };

/**
 * An Express handler for the hub's notifications (typed structurally: Express is not a dependency).
 * It needs the body's raw bytes: mount it before any JSON parser (`app.post(path, expressMiddleware(h))`
 * with `express.json()` on other routes only), or behind `express.raw({ type: 'application/json' })`,
 * whose Buffer it uses. A body already parsed into an object cannot be verified: that request is
 * answered 500 and `next` gets an error saying so, a mistake to fix in the app's setup.
 */
export function expressMiddleware(handler: NotificationHandler, opts: AdapterOptions = {}) {
  checkHandler(handler);
  const max = maxBodyOf(opts);
  return (req: ExpressLikeRequest, res: ServerResponse, next?: (err?: unknown) => void): void => {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      send(res, { status: 405, body: { error: 'POST only' } });
      return;
    }
    const given = req.body;
    let raw: Promise<Buffer | string>;
    if (Buffer.isBuffer(given) || typeof given === 'string') raw = Promise.resolve(given);
    else if (given !== undefined && given !== null && req.readableEnded) {
      const err = new Error('@trackhub/issuer: the request body was parsed before the notification route; mount expressMiddleware before express.json(), or use express.raw() for it');
      send(res, { status: 500, body: { error: 'the notification was not processed; it will be sent again' } });
      next?.(err);
      return;
    } else raw = readRawBody(req, max);
    raw.then(
      async (body) => send(res, await answerFor(() => handler.handle(body, req.headers), opts.onError)),
      (err) => refuseBody(req, res, err),
    );
  };
}
