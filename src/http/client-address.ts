import { isIP } from 'node:net';

/**
 * The key a client is counted under by every per-address limit (the token endpoint's budget, the
 * failed-admin-authentication lockout, the connection cap): one IPv4 address, or one IPv6 /64 (what a
 * single host or customer is usually given, so cycling through its addresses buys nothing). Spellings of
 * one address count as one: upper case, leading zeros, brackets, an IPv4 address in IPv6 form. A value
 * that is no IP address (only a trusted proxy's X-Forwarded-For can give one) is counted under one
 * shared key, never under the text itself.
 */
export function clientKey(address: string | undefined): string {
  let a = (address ?? '').trim();
  if (a.startsWith('[') && a.includes(']')) a = a.slice(1, a.indexOf(']'));
  a = a.replace(/%.*$/, ''); // an IPv6 zone id
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a) ?? /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(a);
  if (mapped) {
    a = mapped[2] === undefined ? mapped[1] : hexPairToIPv4(mapped[1], mapped[2]);
  }
  const family = isIP(a);
  if (family === 4) return a.split('.').map((octet) => String(Number(octet))).join('.');
  if (family !== 6) return 'not-an-address';
  const [head, tail = ''] = a.split('::');
  const left = head ? head.split(':') : [];
  const right = a.includes('::') && tail ? tail.split(':') : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

function hexPairToIPv4(high: string, low: string): string {
  const h = Number.parseInt(high, 16);
  const l = Number.parseInt(low, 16);
  return [h >> 8, h & 255, l >> 8, l & 255].join('.');
}
