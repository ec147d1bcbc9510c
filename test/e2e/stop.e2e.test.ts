import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stopEmbeddedServer } from '../../src/store/embedded.ts';
import { freePort, runCli, waitReady } from '../helpers/processes.ts';
import { tempDir } from '../helpers/stores.ts';

/**
 * A stopping hub closes its HTTP side beside the workers' drain and forces its connections shut after
 * 10 s. Once a server is closing, Node no longer times out a slow request: a client sending one byte a
 * second used to hold the stop until the 60 s forced exit, which cut the sends under way (resent later).
 */
describe('trackhub serve, stopped while a client trickles its body', () => {
  const dir = tempDir('trackhub-stop');
  afterAll(async () => {
    await stopEmbeddedServer(join(dir, 'pg')).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits on SIGTERM within its 10 s grace, logging stopped', async () => {
    const port = await freePort();
    const hub = runCli(['serve'], { TRACKHUB_DATABASE_URL: `embedded://${dir}/pg`, TRACKHUB_PORT: String(port), TRACKHUB_LOG_LEVEL: 'info' });
    await waitReady(`http://127.0.0.1:${port}`, hub);
    const client = connect(port, '127.0.0.1');
    client.on('error', () => {});
    await new Promise<void>((r) => client.once('connect', () => r()));
    client.write('POST /authz/v1/oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n');
    const drip = setInterval(() => client.write('a'), 500);
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const exited = new Promise<number | null>((r) => hub.child.once('exit', (code) => r(code)));
      const started = Date.now();
      hub.child.kill('SIGTERM');
      const code = await exited;
      const tookMs = Date.now() - started;
      expect(code).toBe(0);
      expect(tookMs).toBeLessThan(20_000);
      expect(tookMs).toBeGreaterThan(9_000); // it did wait its grace for the request under way
      expect(hub.output()).toContain('"msg":"stopped"');
      expect(hub.output()).not.toContain('shutdown took too long');
      expect(hub.output()).not.toContain('"level":50');
    } finally {
      clearInterval(drip);
      client.destroy();
    }
  }, 60_000);
});
