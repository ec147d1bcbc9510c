/**
 * The one check of a request's media type: `application/json`, with or without parameters
 * (`; charset=utf-8`). A `+json` type passes here too, but only `application/json` has a body parser, so
 * another JSON type is refused with 415 before a handler runs.
 */
export function isJson(contentType: string | undefined): boolean {
  return !!contentType && /^application\/(.+\+)?json\s*(;|$)/i.test(contentType);
}

/** `application/x-www-form-urlencoded`, with or without parameters (the OAuth token endpoint takes it). */
export function isForm(contentType: string | undefined): boolean {
  return !!contentType && /^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType);
}
