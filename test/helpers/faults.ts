import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** What the fault-injecting receiver does with one request. */
export type Fault =
  | { status: number; headers?: Record<string, string>; body?: string; delayMs?: number }
  | 'hang' // never answers
  | 'reset' // TCP reset once the request has arrived
  | 'close-mid-body' // sends headers and half the body, then closes
  | 'endless-200'; // answers 200, then streams a body that never ends

export interface Hit {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  /** Peer certificate subject CN when the receiver is HTTPS with client certificates. */
  clientCn?: string;
}

/**
 * A real HTTP(S) server standing in for an issuer back-end, answering each request as the test says.
 * `inFlight`/`maxInFlight` show how hard the hub pushes it; `down()`/`up()` stop and restart it on the
 * same port.
 */
export async function faultReceiver(decide: (hit: Hit, n: number) => Fault = () => ({ status: 204 }), tls?: HttpsOptions) {
  const hits: Hit[] = [];
  const sockets = new Set<Socket>();
  let n = 0;
  const state = { inFlight: 0, maxInFlight: 0 };
  const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    res.on('close', () => state.inFlight--);
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate?.();
      const hit: Hit = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now(), clientCn: peer?.subject?.CN as string | undefined };
      hits.push(hit);
      const fault = decide(hit, n++);
      if (fault === 'hang') return;
      if (fault === 'reset') return req.socket.resetAndDestroy();
      if (fault === 'close-mid-body') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"partial":');
        setTimeout(() => req.socket.destroy(), 20);
        return;
      }
      if (fault === 'endless-200') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const more = setInterval(() => res.write('x'.repeat(1024)), 5);
        res.on('close', () => clearInterval(more));
        return;
      }
      const answer = () => {
        res.writeHead(fault.status, { 'content-type': 'text/plain', ...fault.headers });
        res.end(fault.body ?? '');
      };
      if (fault.delayMs) setTimeout(answer, fault.delayMs);
      else answer();
    });
  };
  const make = (): Server => {
    const s = tls ? createHttpsServer(tls, handler) : createServer(handler);
    s.on('connection', (sock: Socket) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
    });
    s.on('secureConnection', (sock: Socket) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
    });
    return s;
  };
  let server = make();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  let isUp = true;
  const down = async () => {
    if (!isUp) return;
    isUp = false;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    hits,
    state,
    down,
    async up() {
      if (isUp) return;
      server = make();
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
      isUp = true;
    },
    close: down,
  };
}
