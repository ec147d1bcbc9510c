import { isUtf8 } from 'node:buffer';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../domain/errors.ts';

/**
 * The one check of a request's media type: `application/json`, with or without parameters
 * (`; charset=utf-8`). A `+json` type passes here too, but only `application/json` has a body parser, so
 * another JSON type is refused with 415 before a handler runs. Bodies are read as UTF-8 (JSON's own
 * encoding, RFC 8259 §8.1): a body declared in another charset is refused, not silently misread.
 */
export function isJson(contentType: string | undefined): boolean {
  return !!contentType && /^application\/(.+\+)?json\s*(;|$)/i.test(contentType) && declaresUtf8(contentType);
}

/** `application/x-www-form-urlencoded`, with or without parameters (the OAuth token endpoint takes it). */
export function isForm(contentType: string | undefined): boolean {
  return !!contentType && /^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType) && declaresUtf8(contentType);
}

/** What a 415 says: the one media type and encoding the hub reads. */
export const JSON_ONLY = 'content-type must be application/json (UTF-8)';

/**
 * No charset parameter (UTF-8 is the default), or one charset=utf-8 in any of its spellings. A header
 * naming charset twice (or hiding one in another parameter's quoted value) is refused: which one a
 * client meant cannot be told.
 */
export function declaresUtf8(contentType: string): boolean {
  const mentions = contentType.match(/charset/gi)?.length ?? 0;
  if (mentions === 0) return true;
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?\s*(;|$)/i.exec(contentType)?.[1];
  return mentions === 1 && charset !== undefined && /^utf-?8$/i.test(charset);
}

/** What a body that is not UTF-8 gets (400): its bytes are never read as U+FFFD in their place. */
export const NOT_UTF8 = 'body is not valid UTF-8';

/**
 * A body's bytes as text when they are UTF-8, else undefined: every body parser of the hub reads through
 * this. A leading byte-order mark is dropped (RFC 8259 §8.1 lets a parser ignore it), on every route alike.
 */
export function utf8Text(body: Buffer): string | undefined {
  if (!isUtf8(body)) return undefined;
  const text = body.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

type BodyDone = (err: Error | null, body?: unknown) => void;

/**
 * A Fastify body parser (`parseAs: 'buffer'`) that refuses bytes that are not UTF-8 (400, NOT_UTF8)
 * and hands the text to `parse`: the one way every JSON and form parser of the hub reads a body.
 */
export function utf8BodyParser(parse: (req: FastifyRequest, text: string, done: BodyDone) => void) {
  return (req: FastifyRequest, raw: string | Buffer, done: BodyDone): void => {
    // A request no route takes is answered 404 whatever its body: parsing it would only cost time (a 4 MB
    // body of nested brackets held the event loop for seconds, from anyone, without a token).
    if (!req.routeOptions.url) {
      done(null, undefined);
      return;
    }
    const text = utf8Text(raw as Buffer);
    if (text === undefined) done(new ApiError('PARSING_ERROR', NOT_UTF8), undefined);
    else parse(req, text, done);
  };
}
