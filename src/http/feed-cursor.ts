import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FeedPosition } from '../store/notification-feed.ts';

/**
 * The catch-up feed's cursors. Reading on from a cursor acknowledges every notification at or before it
 * (acknowledgeThrough), so the hub takes only cursors it handed to that issuer: a cursor carries its
 * position (the writer's transaction id and the row id) and a MAC over the issuer id and that position.
 * Another issuer's cursor, one from another hub store (staging) or from before the store moved to another
 * PostgreSQL cluster, one edited by hand or made up is refused like any malformed one.
 *
 * The key is derived from the store's access-token key (loadAccessTokenKey), which every instance on one
 * store shares, so a cursor from one instance reads on at any other; it is a key of its own (HMAC of a
 * fixed label), so a cursor MAC can never stand for a token signature or the reverse. The MAC is cut to
 * 16 bytes: 128 bits are beyond guessing, and the cursor stays short.
 */
const LABEL = 'trackhub feed cursor v1';
const MAC_BYTES = 16;

/** A transaction id (xid8: up to 20 decimal digits) and an outbox id (empty only at the start). */
const XID = /^(0|[1-9][0-9]{0,19})$/;
const ROW_ID = /^[A-Za-z0-9_-]{0,64}$/;
/**
 * xid8 is unsigned 64-bit, and PostgreSQL caps a bigger decimal silently, so the range is checked here.
 * Transaction ids never get near 2^63 (a million a second would take 290,000 years): anything above is no
 * position the hub handed out.
 */
const MAX_XID = 2n ** 63n - 1n;
/** Far above any cursor the hub makes (about 60 characters); longer text is refused before it is decoded. */
const MAX_CURSOR_LENGTH = 256;

export class FeedCursors {
  private readonly key: Buffer;

  /**
   * `cluster` is the PostgreSQL cluster's identity (src/store/store-identity.ts): positions are that
   * cluster's transaction ids, so a cursor from before a move to another cluster is refused, not read.
   */
  constructor(accessTokenKey: Uint8Array, cluster: string) {
    this.key = createHmac('sha256', accessTokenKey).update(`${LABEL}\u0000${cluster}`).digest();
  }

  private mac(issuerId: string, p: FeedPosition): Buffer {
    // JSON keeps the three fields apart whatever they hold.
    return createHmac('sha256', this.key).update(JSON.stringify([issuerId, p.xid, p.id])).digest().subarray(0, MAC_BYTES);
  }

  /** The cursor for `issuerId` at position `p`: base64url of the position, a dot, base64url of the MAC. */
  encode(issuerId: string, p: FeedPosition): string {
    return `${Buffer.from(JSON.stringify([p.xid, p.id])).toString('base64url')}.${this.mac(issuerId, p).toString('base64url')}`;
  }

  /** The position of a cursor this hub handed to `issuerId`; undefined for anything else. */
  decode(issuerId: string, cursor: string): FeedPosition | undefined {
    if (cursor.length > MAX_CURSOR_LENGTH) return undefined;
    const [body, tag, ...rest] = cursor.split('.');
    if (tag === undefined || rest.length > 0) return undefined;
    let parts: unknown;
    try {
      parts = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (!Array.isArray(parts) || parts.length !== 2) return undefined;
    const [xid, id] = parts;
    // Both parts go to a query: checked against their form first.
    if (typeof xid !== 'string' || typeof id !== 'string' || !XID.test(xid) || !ROW_ID.test(id) || BigInt(xid) > MAX_XID) return undefined;
    const position = { xid, id };
    const given = Buffer.from(tag, 'base64url');
    const expected = this.mac(issuerId, position);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    // Node's base64url decoding skips characters it does not know, padding and spare bits: only the exact
    // text handed out is taken ("pass nextCursor as it came").
    if (this.encode(issuerId, position) !== cursor) return undefined;
    return position;
  }
}
