// Issuer receivers for the chaos tests and bench/chaos.ts, in a process of their own (as an issuer's
// back-end would be): in the test's process they shared an event loop with the load generator, answered
// late, and so received more of what a killed hub had sent just before it died. Driven over IPC by
// chaos-receivers.ts.
//
// argv: count failureRate [hangRate seed latencyMs] (an empty seed: Math.random). Each request, once its
// body is in: fails (500) with probability failureRate; hangs (never answered: the hub's delivery timeout
// ends it) with probability hangRate; otherwise is accepted after a random latency (0 to 2 x latencyMs, as
// a back-end doing some work). Accepted means processed, as an issuer's back-end would: it counts even when
// the hub has gone away before the 204 reaches it (a send the hub cut short is a duplicate when sent again).
import { createServer } from 'node:http';

const count = Number(process.argv[2]);
const failureRate = Number(process.argv[3]);
const hangRate = Number(process.argv[4] ?? 0);
const latencyMs = Number(process.argv[6] ?? 0);
const servers = [];
const sockets = [];
let attempts = 0;
let hangs = 0;

/** mulberry32: the decisions follow --seed (the order requests arrive in still varies). */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = process.argv[5] ? seeded(Number(process.argv[5])) : Math.random;

function accept(req, res, body) {
  const ops = JSON.parse(body).operations.filter((o) => o.sequenceNumber === 1).map((o) => o.operationId);
  process.send({ accepted: String(req.headers['webhook-id']), ops, at: Date.now() });
  if (!res.destroyed) res.writeHead(204).end();
}

function handler(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    attempts++;
    const draw = random();
    if (draw < failureRate) {
      res.writeHead(500).end();
      return;
    }
    if (draw < failureRate + hangRate) {
      hangs++; // left unanswered: the hub's timeout closes the connection
      return;
    }
    const body = Buffer.concat(chunks).toString('utf8');
    if (latencyMs > 0) setTimeout(() => accept(req, res, body), random() * 2 * latencyMs);
    else accept(req, res, body);
  });
}

function listen(i, port) {
  const server = createServer(handler);
  sockets[i] = new Set();
  server.on('connection', (s) => {
    sockets[i].add(s);
    s.on('close', () => sockets[i].delete(s));
  });
  servers[i] = server;
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server.address().port)));
}

const ports = [];
for (let i = 0; i < count; i++) ports.push(await listen(i, 0));
process.send({ ready: ports.map((p) => `http://127.0.0.1:${p}`) });

process.on('message', async (m) => {
  if (m.down !== undefined) {
    const closed = new Promise((r) => servers[m.down].close(() => r()));
    for (const s of sockets[m.down]) s.destroy();
    await closed;
  } else if (m.up !== undefined) {
    await listen(m.up, ports[m.up]);
  } else if (m.stats) {
    process.send({ stats: { attempts, hangs }, id: m.id });
    return;
  }
  process.send({ done: m.id });
});
process.on('disconnect', () => process.exit(0));
