import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, runCli, stop, waitReady } from './helpers/processes.ts';

const exited = (p: ReturnType<typeof runCli>) => new Promise<number | null>((r) => p.child.once('exit', (code) => r(code)));

describe('trackhub CLI', () => {
  it('bench refuses an unknown benchmark, naming the ones there are', async () => {
    const p = runCli(['bench', 'no-such-bench'], {});
    expect(await exited(p)).toBe(2);
    expect(p.output()).toMatch(/name one of: .*track/);
  });

  it('stops on a bad configuration value with one line naming the variable', async () => {
    const p = runCli(['serve'], { TRACKHUB_PORT: 'eighty', TRACKHUB_DATABASE_URL: 'pglite://memory' });
    expect(await exited(p)).toBe(2);
    expect(p.output().trim()).toMatch(/^trackhub: configuration error: .*TRACKHUB_PORT/);
    expect(p.output().trim().split('\n')).toHaveLength(1);
  });

  it('refuses to open an embedded store a running hub holds, and opens it once the hub is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trackhub-cli-'));
    const env = { TRACKHUB_DATABASE_URL: `pglite://${dir}/store`, TRACKHUB_LOG_LEVEL: 'warn' };
    const port = await freePort();
    const hub = runCli(['serve'], { ...env, TRACKHUB_PORT: String(port) });
    try {
      await waitReady(`http://127.0.0.1:${port}`, hub);
      const refused = runCli(['issuers', 'list'], env);
      expect(await exited(refused)).toBe(2);
      expect(refused.output()).toMatch(/a running hub \(pid \d+\) holds the embedded store/);
      await stop(hub);
      const allowed = runCli(['issuers', 'list'], env);
      expect(await exited(allowed)).toBe(0);
    } finally {
      await stop(hub);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
