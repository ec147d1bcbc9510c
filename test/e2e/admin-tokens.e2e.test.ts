import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopEmbeddedServer } from '../../src/store/embedded.ts';
import { freePort, type Proc, runCli, stop, waitFor, waitReady } from '../helpers/processes.ts';
import { tempDir } from '../helpers/stores.ts';
import { cli } from './site-files.ts';

/**
 * `trackhub admin-tokens` against a running `trackhub serve` on the same embedded store: a token made by
 * the command opens the Admin API and /metrics of the running hub, and once revoked the hub refuses it.
 */
describe('trackhub admin-tokens with a running hub (embedded store)', () => {
  let dir: string;
  let env: Record<string, string>;
  let hub: Proc | undefined;
  let url: string;

  beforeAll(async () => {
    dir = tempDir('trackhub-admin-tokens');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // No TRACKHUB_ADMIN_TOKEN: only named tokens open the Admin API.
    env = { TRACKHUB_DATABASE_URL: `embedded://${dir}/pg`, TRACKHUB_LOG_LEVEL: 'warn', TRACKHUB_PORT: String(port), TRACKHUB_ROLE: 'api' };
    hub = runCli(['serve'], env);
    await waitReady(url, hub);
  }, 120_000);
  afterAll(async () => {
    await stop(hub);
    await stopEmbeddedServer(join(dir, 'pg'));
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a token the running hub accepts (Admin API and /metrics), lists it without the token, and revokes it', { timeout: 120_000 }, async () => {
    expect((await fetch(`${url}/admin/v1/issuers`)).status).toBe(401);
    expect((await fetch(`${url}/metrics`)).status).toBe(401);

    const created = await cli(['admin-tokens', 'create', '--name', 'e2e-reader', '--scope', 'read'], env);
    expect(created.code, created.out).toBe(0);
    const token = /^(tha_[A-Za-z0-9_-]{43})$/m.exec(created.out)?.[1] as string;
    expect(token).toBeDefined();
    const auth = { authorization: `Bearer ${token}` };
    expect((await fetch(`${url}/admin/v1/issuers`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${url}/metrics`, { headers: auth })).status).toBe(200);
    const write = await fetch(`${url}/admin/v1/production-sites/SITE-E2E`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x' }) });
    expect(write.status).toBe(403);

    const listed = await cli(['admin-tokens', 'list'], env);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/^e2e-reader\tread\t\S+\t\S+\tactive$/m);
    expect(listed.out).not.toContain(token);

    const revoked = await cli(['admin-tokens', 'revoke', 'e2e-reader'], env);
    expect(revoked.code, revoked.out).toBe(0);
    // The hub's cached answer lasts 5 s; the ceiling only bounds a hang.
    await waitFor('the hub to refuse the revoked token', async () => (await fetch(`${url}/admin/v1/issuers`, { headers: auth })).status === 401 || undefined, 60_000, 250);
  });

  it('refuses to start with a TRACKHUB_ADMIN_TOKEN shorter than 32 characters, in one line naming the variable', async () => {
    const short = runCli(['serve'], { ...env, TRACKHUB_ADMIN_TOKEN: 'change-me-admin-token' });
    const code = await new Promise<number | null>((r) => short.child.once('exit', (c) => r(c)));
    expect(code).toBe(2);
    expect(short.output().trim()).toMatch(/^trackhub: configuration error: TRACKHUB_ADMIN_TOKEN: must be at least 32 characters/);
    expect(short.output().trim().split('\n')).toHaveLength(1);
    expect(short.output()).not.toContain('change-me-admin-token');
  });
});
