import { BlockList, isIP, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { Config } from '../config.ts';
import { clientKey } from './client-address.ts';

// What the HTTP server holds open: header and request timeouts, the global and per-client connection caps,
// and the operator told when a cap closes connections (they get no answer of their own).

const refusedConnections = new Counter({ name: 'trackhub_connections_refused_total', help: 'Connections closed as they arrived, by the cap that closed them', labelNames: ['cap'] });

/** The server's socket settings and connection caps (TRACKHUB_MAX_CONNECTIONS and its per-address twin). */
export function limitConnections(server: Server & { headersTimeout: number; maxHeadersCount: number | null }, connections: Config['connections'], trustedProxies: string[], log: Logger): void {
  // Set on the server before it listens, for HTTP and HTTPS alike (Fastify's `http` option is not passed
  // to an HTTPS server). Node checks the headers and request timeouts every connectionsCheckingInterval
  // (30 s by default): checked more often, a slow sender is closed close to its timeout.
  server.headersTimeout = connections.headersTimeoutMs;
  (server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.min(1000, connections.headersTimeoutMs);
  // Beyond the cap, new connections are closed as they arrive; those already open are served.
  server.maxConnections = connections.max;
  const refused = refusedConnectionReporter(log, connections.max, connections.maxPerAddress);
  server.on('drop', () => refused('global'));
  // No count limit on header lines (the 16 KiB header size still bounds them): past Node's count limit
  // the extra lines are dropped silently, and a second Authorization among them would go unseen.
  server.maxHeadersCount = 0;
  capConnectionsPerAddress(server, connections.maxPerAddress, trustedProxies, () => refused('per_address'));
}

/**
 * A connection closed by a cap gets no answer at all, so the operator is told: a counter on /metrics, and
 * a warning naming the setting, at most once a minute per cap.
 */
function refusedConnectionReporter(log: Logger, max: number, maxPerAddress: number): (cap: 'global' | 'per_address') => void {
  const saidAt = { global: Number.NEGATIVE_INFINITY, per_address: Number.NEGATIVE_INFINITY };
  return (cap) => {
    refusedConnections.inc({ cap });
    if (performance.now() - saidAt[cap] < 60_000) return;
    saidAt[cap] = performance.now();
    const setting = cap === 'global' ? `TRACKHUB_MAX_CONNECTIONS (${max})` : `TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS (${maxPerAddress})`;
    log.warn({ cap }, `connections refused: ${setting} reached; new connections are closed unanswered (trackhub_connections_refused_total counts them)`);
  };
}

/**
 * One client (an address, an IPv6 /64) may hold at most `max` connections (TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS): more are
 * closed as they arrive, so one client's idle keep-alive sockets cannot take every slot of the global
 * cap and shut the others out. Trusted proxies (TRACKHUB_TRUSTED_PROXIES) carry many clients and are
 * exempt. The map holds only addresses with an open connection, so the global cap bounds it.
 */
function capConnectionsPerAddress(server: Server, max: number, trustedProxies: string[], onRefused: () => void): void {
  const trusted = new BlockList();
  for (const p of trustedProxies) {
    const [address, bits] = p.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) trusted.addAddress(address, family);
    else trusted.addSubnet(address, Number(bits), family);
  }
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    // An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d: the same client either way.
    const peer = socket.remoteAddress?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
    if (peer === undefined || trusted.check(peer, isIP(peer) === 6 ? 'ipv6' : 'ipv4')) return;
    // Counted per client as every per-address limit counts (an IPv6 /64 is one client).
    const address = clientKey(peer);
    const count = (open.get(address) ?? 0) + 1;
    if (count > max) {
      socket.destroy();
      onRefused();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}
