/**
 * The one check of a request's media type: `application/json` or a `+json` type such as
 * `application/merge-patch+json`, with or without parameters (`; charset=utf-8`).
 */
export function isJson(contentType: string | undefined): boolean {
  return !!contentType && /^application\/(.+\+)?json\s*(;|$)/i.test(contentType);
}

/** `application/x-www-form-urlencoded`, with or without parameters (the OAuth token endpoint takes it). */
export function isForm(contentType: string | undefined): boolean {
  return !!contentType && /^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType);
}
