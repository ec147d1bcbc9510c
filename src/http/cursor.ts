import { ApiError } from '../domain/errors.ts';

/**
 * Opaque keyset cursors of the Admin API's lists: the sort key of the last row of the previous page
 * (so rows added meanwhile never shift a page), base64url of a JSON array of strings. One codec for
 * every list.
 */
export function encodeCursor(parts: string[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** The parts of a cursor this API returned, `size` of them; anything else is the caller's 400. */
export function decodeCursor(cursor: string, size: number): string[] {
  try {
    const parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parts) && parts.length === size && parts.every((p) => typeof p === 'string' && p.length <= 200)) return parts;
  } catch {
    // falls through to the error below
  }
  throw new ApiError('FIELD_INVALID_FORMAT', 'cursor: is not a cursor this API returned');
}
