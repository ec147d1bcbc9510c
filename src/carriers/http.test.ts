import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { undiciHttpClient } from './http.ts';

describe('undiciHttpClient', () => {
  it('gives a whole call one deadline: an answer that trickles a byte at a time is cut, not waited on for ever', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"shipments":[');
      const drip = setInterval(() => res.write(' '), 50); // never ends, never idle long enough for a body timeout
      res.on('close', () => clearInterval(drip));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { http, close } = undiciHttpClient({ timeoutMs: 400 });
    try {
      const started = Date.now();
      await expect(http(`http://127.0.0.1:${(server.address() as AddressInfo).port}/track`, { method: 'GET' })).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await close();
    }
  });
});
