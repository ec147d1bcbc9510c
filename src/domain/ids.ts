import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyz';

/**
 * Prefixed, time-ordered ids (`op_…`, `msg_…`): 9 chars of millisecond time then 16 random chars,
 * all within `[A-Za-z0-9_-]` so they satisfy the contract's operationId pattern.
 */
export function newId(prefix: 'op' | 'msg' | 'corr' | 'evt', now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 9; i++) {
    time = ALPHABET[t % ALPHABET.length] + time;
    t = Math.floor(t / ALPHABET.length);
  }
  const bytes = randomBytes(16);
  let rand = '';
  for (const b of bytes) rand += ALPHABET[b % ALPHABET.length];
  return `${prefix}_${time}${rand}`;
}
