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

  it("puts the CLI's writes in the audit log beside the Admin API's, named for the system user, secrets masked", { timeout: 120_000 }, async () => {
    const created = await cli(['admin-tokens', 'create', '--name', 'e2e-auditor', '--scope', 'read'], env);
    expect(created.code, created.out).toBe(0);
    const auth = { authorization: `Bearer ${/^(tha_[A-Za-z0-9_-]{43})$/m.exec(created.out)?.[1]}` };
    const cliEnv = { ...env, TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true' }; // the notification URL is on loopback
    const issuer = await cli(['issuers', 'add', '--id', 'AUDITBANK1', '--name', 'Audit bank', '--notification-url', 'http://127.0.0.1:9/hooks', '--generate-key'], cliEnv);
    expect(issuer.code, issuer.out).toBe(0);
    /** The pretty-printed JSON object a command prints (a note may follow it on stderr). */
    const printed = (out: string) => JSON.parse(out.slice(out.indexOf('{'), out.indexOf('\n}') + 2));
    const webhookSecret = printed(issuer.out).webhookSecret as string;
    const site = await cli(['sites', 'add', 'SITE-AUDIT', '--name', 'Audit bureau', '--rotate-key'], cliEnv);
    expect(site.code, site.out).toBe(0);
    const siteKey = printed(site.out).apiKey as string;
    const replay = await cli(['notifications', 'replay', '--issuer', 'AUDITBANK1', '--since', '2026-01-01T00:00:00Z'], cliEnv);
    expect(replay.code, replay.out).toBe(0);
    const refused = await cli(['notifications', 'replay', 'msg_0PNZ4XK2QNoSuchNoSuchNoSu'], cliEnv);
    expect(refused.code, refused.out).not.toBe(0);
    // A mistyped issuer is "no such issuer" (as the Admin API's 404), not "replayed 0".
    const noIssuer = await cli(['notifications', 'replay', '--issuer', 'NOSUCHBANK', '--since', '2026-01-01T00:00:00Z'], cliEnv);
    expect(noIssuer.code).not.toBe(0);
    expect(noIssuer.out).toContain('no such issuer: NOSUCHBANK');
    // An id with terminal escapes is refused by its form before any lookup, and not printed: it cannot
    // recolour the screen or forge a line.
    const hostile = await cli(['notifications', 'replay', 'ntf_\u001b[31mRED\nFAKE LINE'], cliEnv);
    expect(hostile.code).toBe(2);
    expect(hostile.out).toContain('the id must be a webhook-id: 1 to 64 of');
    expect(hostile.out).not.toContain('\u001b');

    const res = await fetch(`${url}/admin/v1/audit?limit=50`, { headers: auth });
    expect(res.status).toBe(200);
    const body = await res.text();
    const entries = (JSON.parse(body) as { entries: { tokenName: string; method: string; route: string; targetId: string; status: number; after: Record<string, unknown> }[] }).entries;
    const byRoute = (route: string) => entries.find((e) => e.method === 'CLI' && e.route === route && e.targetId !== 'e2e-reader');
    expect(byRoute('issuers add')).toMatchObject({ tokenName: expect.stringMatching(/^cli(:.+)?$/), targetId: 'AUDITBANK1', status: 201 });
    expect(byRoute('sites add')).toMatchObject({ targetId: 'SITE-AUDIT', status: 201, after: { name: 'Audit bureau', apiKey: '***' } });
    expect(byRoute('notifications replay')).toBeDefined();
    expect(entries.find((e) => e.method === 'CLI' && e.route === 'notifications replay' && e.targetId === 'AUDITBANK1')).toMatchObject({ status: 202, after: { replayed: 0 } });
    // The refused one is there too, with its outcome.
    expect(entries.find((e) => e.method === 'CLI' && e.route === 'notifications replay' && e.targetId === 'msg_0PNZ4XK2QNoSuchNoSuchNoSu')).toMatchObject({ status: 404 });
    expect(entries.find((e) => e.method === 'CLI' && e.route === 'notifications replay' && e.targetId === 'NOSUCHBANK')).toMatchObject({ status: 404 });
    expect(byRoute('admin-tokens create')).toMatchObject({ targetId: 'e2e-auditor', status: 201 });
    expect(webhookSecret.length).toBeGreaterThan(16);
    expect(body).not.toContain(webhookSecret);
    expect(body).not.toContain(siteKey);
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
