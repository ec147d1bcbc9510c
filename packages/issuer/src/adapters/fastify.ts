import type { IncomingHttpHeaders } from 'node:http';
import type { NotificationHandler } from '../handler.ts';
import { type AdapterOptions, answerFor, checkHandler, maxBodyOf } from './node.ts';

/** The parts of a Fastify instance this adapter uses (typed structurally: Fastify is not a dependency). */
export interface FastifyLike {
  register(plugin: (scope: FastifyScope, opts: Record<string, unknown>) => Promise<void>, opts?: Record<string, unknown>): unknown;
}
export interface FastifyScope {
  removeAllContentTypeParsers(): void;
  addContentTypeParser(
    type: string,
    opts: { parseAs: 'buffer'; bodyLimit?: number },
    parser: (req: unknown, body: Buffer, done: (err: Error | null, body?: unknown) => void) => void,
  ): void;
  post(path: string, handler: (req: { body: unknown; headers: IncomingHttpHeaders }, reply: FastifyReplyLike) => Promise<unknown>): unknown;
}
export interface FastifyReplyLike {
  code(status: number): FastifyReplyLike;
  send(body: unknown): unknown;
}

export interface FastifyRouteOptions extends AdapterOptions {
  /** The route's path, e.g. `/notifications/d1/v2/issuers/:issuerId/cards`. */
  path: string;
  handler: NotificationHandler;
}

/**
 * Registers `POST path` on `app` for the hub's notifications. The route lives in a plugin of its own
 * whose only body parser keeps the raw bytes (any content type, up to `maxBodyBytes`), so the app's
 * other routes keep their JSON parsing. Answers as nodeHttpListener does. Like any Fastify plugin, it
 * is in place once the app is ready (`await app.ready()` or `listen`).
 */
export function fastifyNotificationRoute(app: FastifyLike, opts: FastifyRouteOptions): void {
  if (!opts || typeof opts !== 'object') throw new TypeError('fastifyNotificationRoute needs its options: { path, handler }');
  const { path, handler } = opts;
  checkHandler(handler);
  const bodyLimit = maxBodyOf(opts);
  if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError('path must start with /');
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
    scope.post(path, async (req, reply) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const answer = await answerFor(() => handler.handle(raw, req.headers), opts.onError);
      return reply.code(answer.status).send(answer.body);
    });
  });
}
