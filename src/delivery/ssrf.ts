import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * The SSRF guard: notification URLs must not reach the hub's own network. The same address list is
 * checked when an issuer is registered and again inside the DNS lookup of every connection, so a name
 * that resolves somewhere public at registration and to 127.0.0.1 later (DNS rebinding) is still refused.
 */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::', 96], // IPv4-compatible (deprecated) — embeds an IPv4 address
  ['64:ff9b::', 96], // NAT64 — embeds an IPv4 address
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4 — embeds an IPv4 address
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** True for an address the hub must not send notifications to (IPv4-mapped IPv6 is checked as IPv4). */
export function isPrivateAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, '');
  const family = isIP(ip);
  if (family === 4) return blocked.check(ip, 'ipv4');
  if (family === 6) return blocked.check(ip, 'ipv6'); // BlockList matches ::ffff:a.b.c.d against the IPv4 rules
  return true; // not an address at all: refuse rather than guess
}

export class BlockedTargetError extends Error {
  readonly code = 'ERR_TRACKHUB_BLOCKED_TARGET';
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A drop-in for `dns.lookup` that fails when any resolved address is private. Handed to net/tls connect
 * through undici's connector, so the address checked is the address connected to.
 */
export function guardedLookup(hostname: string, options: LookupOneOptions | LookupAllOptions | LookupCallback, callback?: LookupCallback): void {
  const cb = (typeof options === 'function' ? options : callback) as LookupCallback;
  const opts = typeof options === 'function' ? {} : options;
  dnsLookup(hostname, { ...opts, all: true }, (err, addresses) => {
    if (err) return cb(err, []);
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad) return cb(new BlockedTargetError(`${hostname} resolves to ${bad.address}, a private address (SSRF guard)`), []);
    if ((opts as LookupAllOptions).all) return cb(null, addresses);
    return cb(null, addresses[0].address, addresses[0].family);
  });
}

/**
 * Registration-time check of a notification URL's host. A literal address is judged directly; a name is
 * resolved and refused when any address is private. A name that does not resolve (yet) is accepted: the
 * connect-time guard still stands between it and the network.
 */
export async function checkTargetHost(url: string): Promise<string | undefined> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return isPrivateAddress(host) ? `notificationBaseUrl: ${host} is a private address (SSRF guard; TRACKHUB_ALLOW_PRIVATE_TARGETS=true allows it, for demos and tests)` : undefined;
  const addresses = await new Promise<LookupAddress[]>((resolve) => {
    const timer = setTimeout(() => resolve([]), 3000);
    dnsLookup(host, { all: true }, (err, list) => {
      clearTimeout(timer);
      resolve(err ? [] : list);
    });
  });
  const bad = addresses.find((a) => isPrivateAddress(a.address));
  return bad ? `notificationBaseUrl: ${host} resolves to ${bad.address}, a private address (SSRF guard; TRACKHUB_ALLOW_PRIVATE_TARGETS=true allows it, for demos and tests)` : undefined;
}
