import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ERROR_STATUS, type ErrorCode } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { escapeUnprintable } from '../domain/text.ts';
import { errorForLog } from '../logger.ts';
import { JSON_ONLY } from './media-types.ts';

export function sendError(reply: FastifyReply, errorCode: ErrorCode, error: string, headers: Record<string, string> = {}) {
  return reply.code(ERROR_STATUS[errorCode]).headers(headers).send({ errorCode, error });
}

/** A NUL (PostgreSQL text cannot hold it) or an unpaired UTF-16 surrogate (not text at all). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing NUL is the point
const UNSAFE_TEXT = /\u0000|\p{Cs}/u;

/**
 * The first field, as a dotted path (`notificationAuth.clientId`, `jwks.keys[0].kid`), whose text or
 * name holds a NUL or an unpaired surrogate; undefined when there is none. Walks with its own stack, so a
 * deeply nested body cannot overflow the call stack.
 */
export function unsafeTextField(value: unknown): string | undefined {
  const pending: [unknown, string][] = [[value, '']];
  while (pending.length > 0) {
    const [v, path] = pending.pop() as [unknown, string];
    if (typeof v === 'string') {
      if (UNSAFE_TEXT.test(v)) return path || 'request';
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) pending.push([v[i], `${path}[${i}]`]);
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i];
        // A bad field name is reported as its parent: the name itself is not echoed.
        if (UNSAFE_TEXT.test(key)) return path || 'request';
        pending.push([child, path ? `${path}.${key}` : key]);
      }
    }
  }
  return undefined;
}

/** Refuses a request whose path parameters, query or body hold text the store cannot take (FIELD_INVALID_FORMAT naming the field). */
export function refuseUnsafeText(parts: { params?: unknown; query?: unknown; body?: unknown }): void {
  for (const part of [parts.params, parts.query, parts.body]) {
    const field = unsafeTextField(part);
    if (field !== undefined) throw new ApiError('FIELD_INVALID_FORMAT', `${field}: must not contain NUL characters or unpaired surrogates`);
  }
}

/** True when the store cannot be reached (connection refused, reset, closed pool…). */
function isStoreUnavailable(err: unknown): boolean {
  const code = (err as { code?: string })?.code ?? '';
  const msg = (err as Error)?.message ?? '';
  return (
    // Connection exceptions (class 08), insufficient resources (53), shutdowns (57P0x), and a database
    // gone, closed to connections or refusing our login (3D000, 55000, 28xxx): none is the caller's fault.
    /^(08[0-9A-Z]{3}|53[0-9A-Z]{3}|57P0[1-3]|28[0-9A-Z]{3})$/.test(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '3D000', '55000'].includes(code) ||
    /Connection terminated|connect ECONNREFUSED|pool is ending|closed|Cannot use a pool/i.test(msg)
  );
}

/**
 * A deadlock (40P01) or a serialization failure (40001): PostgreSQL rolled the transaction back to let
 * another finish (a replay crossing a retention batch, found by an attack run). Not a fault: a retry passes.
 */
function isTransactionConflict(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '40P01' || code === '40001';
}

/** PostgreSQL's class 22 (data exception): the value sent, not the server, is at fault. */
function isDataException(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code);
}

/** Maps every failure to the contract's `{errorCode, error}` body; bad input never becomes a 500. */
/** The contract's code for a 4xx status (the first code listed for it in ERROR_STATUS). */
const CODE_FOR_STATUS: Record<number, ErrorCode> = {};
for (const [code, status] of Object.entries(ERROR_STATUS) as [ErrorCode, number][]) CODE_FOR_STATUS[status] ??= code;

export function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0];
    // An operator trying `/admin` by hand is told where the Admin API lives.
    const hint = /^\/admin(\/|$)/.test(path) ? "; the Admin API's routes are under /admin/v1/ (listed at /docs)" : '';
    return sendError(reply, 'NOT_FOUND', `no route for ${req.method} ${path}${hint}`);
  });
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ApiError) return sendError(reply, err.errorCode, err.message, err.headers);
    switch (err.code) {
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendError(reply, 'PARSING_ERROR', 'body is empty: send a JSON object, or no content-type when there is no body');
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return sendError(reply, 'PARSING_ERROR', 'body is not valid JSON');
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(reply, 'PAYLOAD_TOO_LARGE', 'body is too large');
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      case 'FST_ERR_CTP_INVALID_TYPE':
        return sendError(reply, 'UNSUPPORTED_MEDIA_TYPE', JSON_ONLY);
      case 'FST_ERR_VALIDATION': {
        const first = err.validation?.[0];
        const params = first?.params as { missingProperty?: string; additionalProperty?: string } | undefined;
        const path = fieldPath(first?.instancePath ?? '');
        if (params?.additionalProperty) {
          const what = err.validationContext === 'querystring' ? 'query parameter' : 'field';
          // The name is the client's: shown at most 64 characters long, invisible characters escaped.
          const given = params.additionalProperty;
          const name = `${escapeUnprintable(given.slice(0, 64))}${given.length > 64 ? '…' : ''}`;
          return sendError(reply, 'FIELD_INVALID_FORMAT', `${path ? `${path}.` : ''}${name}: is not a known ${what}`);
        }
        const field = path || params?.missingProperty || err.validationContext || 'request';
        // A choice of literals (a union of constants, an enum): name the values, not "equal to constant".
        const allowed = (err.validation ?? [])
          .filter((e) => e.instancePath === first?.instancePath && (e.keyword === 'const' || e.keyword === 'enum'))
          .flatMap((e) => {
            const p = e.params as { allowedValue?: unknown; allowedValues?: unknown[] };
            return e.keyword === 'const' ? [p.allowedValue] : (p.allowedValues ?? []);
          });
        if (allowed.length > 0) return sendError(reply, 'FIELD_INVALID_FORMAT', `${field}: must be ${allowed.length === 1 ? '' : 'one of '}${allowed.map(String).join(', ')}`);
        return sendError(reply, 'FIELD_INVALID_FORMAT', `${field}: ${first?.message ?? 'is invalid'}`);
      }
    }
    if (err instanceof SyntaxError) return sendError(reply, 'PARSING_ERROR', 'body is not valid JSON');
    // The client went away while sending its body (Node's "aborted", ECONNRESET with status 400): its
    // doing, not the store's, which the same code would otherwise be taken for.
    if (req.raw.readableAborted || (err.statusCode === 400 && err.code === 'ECONNRESET')) {
      req.log.info({ route: req.routeOptions.url }, 'client aborted the request');
      return sendError(reply, 'FIELD_INVALID_FORMAT', 'the request was aborted by the client');
    }
    if (isDataException(err)) {
      // The store refused a value (a malformed number or time) that validation let through. Logged without
      // the statement's values (errorForLog): they may be the request's secrets.
      req.log.warn({ err: errorForLog(err) }, 'store refused a request value');
      return sendError(reply, 'FIELD_INVALID_FORMAT', 'a request value is not valid text, number or time');
    }
    if (isStoreUnavailable(err)) {
      req.log.error({ err: errorForLog(err) }, 'store unavailable');
      return sendError(reply, 'SERVICE_UNAVAILABLE', 'the store is unavailable, retry shortly', { 'retry-after': '5' });
    }
    if (isTransactionConflict(err)) {
      // The store rolled the whole request back: nothing was written, and the same request may be sent again.
      req.log.warn({ err: errorForLog(err) }, 'request rolled back by a conflicting transaction');
      return sendError(reply, 'SERVICE_UNAVAILABLE', 'the request met a conflicting write and was rolled back; send it again', { 'retry-after': '1' });
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      // Another 4xx raised by Fastify or a plugin: in the contract's body, under the code its status
      // stands for (a status the contract has no code for is answered as 400).
      return sendError(reply, CODE_FOR_STATUS[err.statusCode] ?? 'FIELD_INVALID_VALUE', err.message);
    }
    req.log.error({ err: errorForLog(err) }, 'unhandled error');
    return reply.code(500).send({ errorCode: 'INTERNAL_ERROR', error: 'internal error' });
  });
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (headers over the size limit, a malformed
 * request line, headers not received in time) get the contract's body and a correlation id too, instead
 * of Fastify's `{error, message, statusCode}`. Headers too large are 400 (the contract has no 431).
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const [status, reason] = timeout ? [408, 'Request Timeout'] : [400, 'Bad Request'];
  const error =
    timeout ? 'the request was not received in time' : err.code === 'HPE_HEADER_OVERFLOW' ? 'the request headers are too large' : 'the request is not valid HTTP';
  const body = JSON.stringify({ errorCode: 'FIELD_INVALID_FORMAT', error });
  // The answer to a HEAD carries no body (RFC 9110 §9.3.2): a client reads bytes after its headers as a
  // broken response. The request was not parsed, so its method is read from the bytes that failed, which
  // begin with the request line when the headers overflowed in the first packet (a huge URL).
  const rawPacket = (err as { rawPacket?: unknown }).rawPacket;
  const head = Buffer.isBuffer(rawPacket) && rawPacket.subarray(0, 5).toString('latin1') === 'HEAD ';
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `x-correlation-id: ${newId('corr')}\r\nConnection: close\r\n\r\n${head ? '' : body}`,
    );
  }
  socket.destroy();
}

/**
 * A JSON pointer from validation (`/jwks/keys/0/kid`) as every other error names a field:
 * `jwks.keys[0].kid`, the way the hub's own checks write it.
 */
export function fieldPath(pointer: string): string {
  let path = '';
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path += /^\d+$/.test(segment) ? `[${segment}]` : path ? `.${segment}` : segment;
  }
  return path;
}
