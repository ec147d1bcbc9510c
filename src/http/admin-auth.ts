import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../domain/errors.ts';

/** Checks `Authorization: Bearer $TRACKHUB_ADMIN_TOKEN` in constant time. */
export function adminGuard(adminToken: string): (req: FastifyRequest) => void {
  const expected = Buffer.from(adminToken);
  return (req) => {
    const auth = req.headers.authorization ?? '';
    const given = Buffer.from(auth.startsWith('Bearer ') ? auth.slice(7) : '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ApiError('AUTHORIZER_UNAUTHORIZED', 'admin bearer token required');
    }
  };
}

/** Opaque keyset cursor: the sort key of the last row of the previous page. */
export function encodeCursor(parts: string[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

export function decodeCursor(cursor: string, size: number): string[] {
  try {
    const parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parts) && parts.length === size && parts.every((p) => typeof p === 'string')) return parts;
  } catch {
    // falls through to the error below
  }
  throw new ApiError('FIELD_INVALID_FORMAT', 'cursor: is not a cursor this API returned');
}
