// Issuer receivers for the chaos tests, in a process of their own (as an issuer's back-end would be): in
// the test's process they shared an event loop with the load generator, answered late, and so received
// more of what a killed hub had sent just before it died. Driven over IPC by chaos-receivers.ts.
import { createServer } from 'node:http';

const count = Number(process.argv[2]);
const failureRate = Number(process.argv[3]);
const servers = [];
const sockets = [];
let attempts = 0;

function handler(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    attempts++;
    if (Math.random() < failureRate) {
      res.writeHead(500).end();
      return;
    }
    const ops = JSON.parse(Buffer.concat(chunks).toString('utf8')).operations.filter((o) => o.sequenceNumber === 1).map((o) => o.operationId);
    process.send({ accepted: String(req.headers['webhook-id']), ops });
    res.writeHead(204).end();
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
    process.send({ stats: { attempts }, id: m.id });
    return;
  }
  process.send({ done: m.id });
});
process.on('disconnect', () => process.exit(0));
