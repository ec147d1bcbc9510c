import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { expressMiddleware, fastifyNotificationRoute, MemoryNotificationStore, NotificationHandler, nodeHttpListener, type Operation } from '../src/index.ts';
import { op, signed, webhookSecret } from './helpers.ts';

const secret = webhookSecret('adapters');
const PATH = '/notifications/d1/v2/issuers/ISSUER_SDK/cards';
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

function handler(onUpdate: (o: Operation) => void = () => {}) {
  return new NotificationHandler({ secrets: [secret], store: new MemoryNotificationStore(), onUpdate });
}

async function serve(listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}${PATH}`;
}

/** The body as the hub sends it: pretty-printed here, so a receiver that re-serialises parsed JSON would fail the signature. */
function hubNotification(ops = [op('op-1', 1)], id?: string) {
  return signed(JSON.stringify({ operations: ops }, null, 2), { secrets: [secret], id });
}

/** The answers every adapter gives, checked against a URL it serves. */
async function answersLikeTheContract(url: string, applied: Operation[]) {
  const n = hubNotification(undefined, 'msg_adapter');
  const ok = await fetch(url, { method: 'POST', headers: n.headers, body: n.body });
  expect(ok.status).toBe(200);
  expect(await ok.json()).toEqual({ outcome: 'applied', applied: 1, stale: 0 });
  expect(applied).toHaveLength(1);
  const dup = await fetch(url, { method: 'POST', headers: n.headers, body: n.body });
  expect(dup.status).toBe(200);
  expect((await dup.json()).outcome).toBe('duplicate');
  const forged = await fetch(url, { method: 'POST', headers: n.headers, body: n.body.replace('op-1', 'op-9') });
  expect(forged.status).toBe(401);
  expect(await forged.json()).toEqual({ error: 'no_matching_signature' });
  const unreadable = signed('not json', { secrets: [secret] });
  expect((await fetch(url, { method: 'POST', headers: unreadable.headers, body: unreadable.body })).status).toBe(400);
  expect(applied).toHaveLength(1);
}

describe('nodeHttpListener', () => {
  it('verifies the raw body and answers 200 / 200 duplicate / 401 / 400', async () => {
    const applied: Operation[] = [];
    await answersLikeTheContract(await serve(nodeHttpListener(handler((o) => void applied.push(o)))), applied);
  });

  it('answers 500 when onUpdate throws (the hub retries), telling onError; 405 to other methods; 413 over the size', async () => {
    const errors: unknown[] = [];
    const url = await serve(
      nodeHttpListener(
        handler(() => {
          throw new Error('db down');
        }),
        { onError: (e) => void errors.push(e), maxBodyBytes: 2048 },
      ),
    );
    const n = hubNotification();
    const res = await fetch(url, { method: 'POST', headers: n.headers, body: n.body });
    expect(res.status).toBe(500);
    expect(JSON.stringify(await res.json())).not.toContain('db down');
    expect((errors[0] as Error).message).toBe('db down');
    expect((await fetch(url)).status).toBe(405);
    const big = hubNotification(Array.from({ length: 50 }, (_, i) => op(`op-${i}`, 1)));
    expect((await fetch(url, { method: 'POST', headers: big.headers, body: big.body })).status).toBe(413);
  });
});

/**
 * Sends a chunked body over the limit on a keep-alive connection, one 8 KiB chunk and no end (`endless`
 * false), or chunks without end (`endless` true), and answers what came back and whether the server
 * closed the connection (it must: waiting or reading on would hold the connection for ever).
 */
async function overLimit(url: string, endless: boolean): Promise<{ head: string; closed: boolean }> {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  let head = '';
  const chunk = (kib: number) => `${(kib * 1024).toString(16)}\r\n${'x'.repeat(kib * 1024)}\r\n`;
  const closed = new Promise<boolean>((r) => socket.on('close', () => r(true)));
  socket.on('data', (d) => {
    head += d.toString();
  });
  socket.on('error', () => {});
  socket.write(`POST ${u.pathname} HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\n${chunk(8)}`);
  const pump = setInterval(() => {
    if (endless && socket.writable) for (let i = 0; i < 64; i++) socket.write(chunk(1));
  }, 5);
  const outcome = await Promise.race([closed, new Promise<boolean>((r) => setTimeout(() => r(false), 5_000))]);
  clearInterval(pump);
  socket.destroy();
  return { head, closed: outcome };
}

describe('a body over the limit', () => {
  for (const [name, make] of [
    ['nodeHttpListener', (h: NotificationHandler) => nodeHttpListener(h, { maxBodyBytes: 4096 })],
    ['expressMiddleware', (h: NotificationHandler) => expressMiddleware(h, { maxBodyBytes: 4096 })],
  ] as const) {
    const listener = () => make(handler()) as (req: IncomingMessage, res: ServerResponse) => void;
    it(`${name}: answers 413 with connection: close and closes the connection without waiting for the body's end`, async () => {
      const r = await overLimit(await serve(listener()), false);
      expect(r.head).toMatch(/^HTTP\/1\.1 413/);
      expect(r.head.toLowerCase()).toContain('connection: close');
      expect(r.closed).toBe(true);
    });

    it(`${name}: stops reading an endless chunked body (the connection is closed)`, async () => {
      // The answer itself may be lost to the reset a close with unread data causes; the connection must end.
      const r = await overLimit(await serve(listener()), true);
      expect(r.closed).toBe(true);
      if (r.head) expect(r.head).toMatch(/^HTTP\/1\.1 413/);
    });
  }
});

describe('fastifyNotificationRoute (a real Fastify app)', () => {
  it('keeps the raw body on its route while the app\'s other routes still parse JSON', async () => {
    const applied: Operation[] = [];
    const app = Fastify();
    app.post('/other', async (req) => ({ got: req.body }));
    fastifyNotificationRoute(app, { path: PATH, handler: handler((o) => void applied.push(o)) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      await answersLikeTheContract(`${base}${PATH}`, applied);
      const other = await fetch(`${base}/other`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
      expect(await other.json()).toEqual({ got: { a: 1 } });
    } finally {
      await app.close();
    }
  });
});

/**
 * Express is not installed (43 packages for one test); these run the middleware as Express calls it —
 * (req, res, next) on node's own request and response, with req.body as express.raw() or express.json()
 * leave it — which is all it touches.
 */
describe('expressMiddleware (called as Express calls it)', () => {
  const asExpress = (mw: ReturnType<typeof expressMiddleware>, pre?: (req: IncomingMessage & { body?: unknown }) => Promise<void>, next?: (e?: unknown) => void) =>
    serve(async (req, res) => {
      await pre?.(req);
      mw(req, res, next ?? (() => {}));
    });
  const readAll = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };

  it('reads the raw body itself when no parser ran', async () => {
    const applied: Operation[] = [];
    await answersLikeTheContract(await asExpress(expressMiddleware(handler((o) => void applied.push(o)))), applied);
  });

  it('takes the Buffer left by express.raw()', async () => {
    const applied: Operation[] = [];
    const url = await asExpress(expressMiddleware(handler((o) => void applied.push(o))), async (req) => {
      req.body = await readAll(req);
    });
    await answersLikeTheContract(url, applied);
  });

  it('after express.json() (the raw body gone) answers 500 and tells next() how to mount it', async () => {
    const errors: unknown[] = [];
    const url = await asExpress(
      expressMiddleware(handler()),
      async (req) => {
        req.body = JSON.parse((await readAll(req)).toString());
      },
      (e) => void errors.push(e),
    );
    const n = hubNotification();
    expect((await fetch(url, { method: 'POST', headers: n.headers, body: n.body })).status).toBe(500);
    expect(String(errors[0])).toMatch(/before express\.json\(\)/);
  });
});
