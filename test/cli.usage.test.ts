import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertOutbox } from '../src/store/operations.ts';
import { claimDueNotifications } from '../src/store/outbox.ts';
import { ADMIN_TOKEN, putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { issuerKey } from './helpers/issuer.ts';
import { freePort, runCli, stop, waitFor } from './helpers/processes.ts';
import { freshStore, type TestStore, tempDir } from './helpers/stores.ts';

/** Runs the built CLI to its end (npm run build first). */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const p = runCli(args, env);
  const code = await new Promise<number | null>((r) => p.child.once('exit', (c) => r(c)));
  return { code, out: p.output() };
}

describe('trackhub CLI: options as users type them', () => {
  it('reports a mistyped option as unknown, with the option it looks like, not as a missing required one', async () => {
    const typo = await cli(['issuers', 'add', '--id', 'TYPOBANK01', '--nme', 'Bank', '--notification-url', 'https://bank.example', '--generate-key']);
    expect(typo.code).toBe(2);
    expect(typo.out).toMatch(/unknown option '--nme'/);
    expect(typo.out).toMatch(/Did you mean --name\?/);
    expect(typo.out).not.toMatch(/required option/);
    // On another command too, and a required option really missing is still said so.
    const siteTypo = await cli(['sites', 'import', 'x.csv', '--sit', 'A']);
    expect(siteTypo.out).toMatch(/unknown option '--sit'[\s\S]*Did you mean --site\?/);
    const missing = await cli(['sites', 'import', 'x.csv']);
    expect(missing.code).toBe(2);
    expect(missing.out).toMatch(/required option '--site <siteId>' not specified/);
  });

  it('marks required options as required in --help', async () => {
    const help = await cli(['admin-tokens', 'create', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--name <name>\s+\(required\) who the audit log will name/);
    expect(help.out).toMatch(/--scope <scope>\s+\(required\) one of read, operate, admin/);
    expect(help.out).toMatch(/--url <hubUrl>\s+act on the hub/);
  });
});

describe('trackhub serve: the bootstrap admin token', () => {
  it('refuses a named admin token (tha_…) left in TRACKHUB_ADMIN_TOKEN for --url commands: it would gain the admin scope', async () => {
    const named = `tha_${'A'.repeat(43)}`;
    const run = await cli(['serve'], { TRACKHUB_ADMIN_TOKEN: named, TRACKHUB_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(run.code).toBe(2);
    expect(run.out).toMatch(/TRACKHUB_ADMIN_TOKEN holds a named admin token/);
    expect(run.out).not.toContain(named);
  });
});

describe('trackhub sites import: exit code and line numbers', () => {
  let store: TestStore;
  let env: Record<string, string>;
  let dir: string;
  beforeAll(async () => {
    store = await freshStore('postgres');
    env = { TRACKHUB_DATABASE_URL: store.url, TRACKHUB_LOG_LEVEL: 'warn' };
    dir = tempDir('cli-usage');
    expect((await cli(['sites', 'add', 'SITE-USE', '--name', 'Usage bureau'], env)).code).toBe(0);
  });
  afterAll(async () => {
    await store?.close();
  });

  it('imports the good lines, exits 1 when a line was rejected, and counts lines after the header with file line numbers', async () => {
    const file = join(dir, 'mixed.csv');
    const good = (n: number) => `use-${n},BANK000001,card-${n},CARD_SHIPPED,2026-05-01T10:00:00Z`;
    writeFileSync(file, ['eventId,issuerId,cardId,type,occurredAt', good(1), 'use-2,BANK000001,card 2,CARD_SHIPPED,2026-05-01T10:00:00Z', '', good(3)].join('\n'));
    const run = await cli(['sites', 'import', '--site', 'SITE-USE', file, '--json'], env);
    expect(run.code, run.out).toBe(1);
    const summary = JSON.parse(run.out.split('\n').find((l) => l.startsWith('{"lines"')) as string);
    expect(summary).toMatchObject({ lines: 3, lastLine: 5, accepted: 2, duplicates: 0, rejectedCount: 1 });
    // Line 3 of the file (the header is line 1), as an editor numbers it.
    expect(summary.rejected).toEqual([expect.objectContaining({ line: 3, error: expect.stringMatching(/^cardId:/) })]);
    const text = await cli(['sites', 'import', '--site', 'SITE-USE', file], env);
    expect(text.code).toBe(1);
    expect(text.out).toMatch(/: 3 lines read \(a CSV header is not counted\)/);
    expect(text.out).toMatch(/line 3: FIELD_INVALID_FORMAT cardId/);

    writeFileSync(file, ['eventId,issuerId,cardId,type,occurredAt', good(4)].join('\n'));
    const clean = await cli(['sites', 'import', '--site', 'SITE-USE', file], env);
    expect(clean.code, clean.out).toBe(0);
    expect(clean.out).toMatch(/: 1 line read/);
  });

  it('says in --help that good lines are imported and rejected ones make the exit code 1', async () => {
    const help = await cli(['sites', 'import', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/Good lines are imported even when others are rejected; the command then exits 1/);
  });
});

describe('trackhub admin commands with --url: through a running hub\'s Admin API', () => {
  let t: TestApp;
  let url: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    t = await testApp('postgres');
    url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    // No store for the CLI: it must not open one (an unreachable database would make it fail).
    env = { TRACKHUB_ADMIN_TOKEN: ADMIN_TOKEN, TRACKHUB_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
  });
  afterAll(async () => t?.close());

  it('issuers add and list, the URL from --url or TRACKHUB_URL; --signing ed25519 shows the public key', async () => {
    const add = await cli(['issuers', 'add', '--url', url, '--id', 'REMOTEBNK1', '--name', 'Remote bank', '--notification-url', 'https://bank.example/hooks', '--generate-key', '--signing', 'ed25519'], env);
    expect(add.code, add.out).toBe(0);
    const printed = JSON.parse(add.out.slice(add.out.indexOf('{'), add.out.lastIndexOf('}') + 1));
    expect(printed).toMatchObject({ issuerId: 'REMOTEBNK1', notificationSigning: 'ed25519', notificationPublicKey: expect.stringMatching(/^whpk_/), privateJwk: { kid: 'REMOTEBNK1-1' } });
    expect(add.out).not.toContain(ADMIN_TOKEN);
    const list = await cli(['issuers', 'list'], { ...env, TRACKHUB_URL: url });
    expect(list.code, list.out).toBe(0);
    expect(list.out).toBe('REMOTEBNK1\tenabled\thttps://bank.example/hooks\tRemote bank\n');
    // A scheme that is not one is refused by the CLI, naming the choices.
    const bad = await cli(['issuers', 'add', '--url', url, '--id', 'REMOTEBNK1', '--name', 'R', '--notification-url', 'https://bank.example', '--generate-key', '--signing', 'rsa'], env);
    expect(bad.out).toMatch(/Allowed choices are hmac, ed25519/);
  });

  it('issuers add through the hub keeps what it does not set, and leaves an issuer with OAuth credentials to the Admin API', async () => {
    const key = await issuerKey();
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const base = { name: 'Kept bank', notificationBaseUrl: 'https://bank.example', jwks: { keys: [key.publicJwk] } };
    expect((await t.app.inject({ method: 'PUT', url: '/admin/v1/issuers/KEPTBANK01', headers, payload: { ...base, enabled: false, autoTrackShipment: true } })).statusCode).toBe(201);
    const kept = await cli(['issuers', 'add', '--url', url, '--id', 'KEPTBANK01', '--name', 'Kept bank 2', '--notification-url', 'https://bank.example/v2', '--generate-key'], env);
    expect(kept.code, kept.out).toBe(0);
    expect((await t.app.inject({ method: 'GET', url: '/admin/v1/issuers/KEPTBANK01', headers })).json()).toMatchObject({ name: 'Kept bank 2', enabled: false, autoTrackShipment: true });
    const oauth = { ...base, notificationAuth: { tokenUrl: 'https://bank.example/token', clientId: 'hub', clientSecret: 'oauth-client-secret' } };
    expect((await t.app.inject({ method: 'PUT', url: '/admin/v1/issuers/OAUTHBANK1', headers, payload: oauth })).statusCode).toBe(201);
    const refused = await cli(['issuers', 'add', '--url', url, '--id', 'OAUTHBANK1', '--name', 'OAuth bank', '--notification-url', 'https://bank.example', '--generate-key'], env);
    expect(refused.code).toBe(2);
    expect(refused.out).toMatch(/OAUTHBANK1 sends its notifications with OAuth client credentials.*PUT \/admin\/v1\/issuers\/OAUTHBANK1/);
    expect((await t.app.inject({ method: 'GET', url: '/admin/v1/issuers/OAUTHBANK1', headers })).json().notificationAuth).toEqual({ tokenUrl: 'https://bank.example/token', clientId: 'hub' });
  });

  it('notifications replay of an unknown issuer fails as the Admin API does, through the hub and on the store', async () => {
    const remote = await cli(['notifications', 'replay', '--issuer', 'NOSUCHBANK', '--since', '2026-01-01T00:00:00Z', '--url', url], env);
    expect(remote.code).toBe(2);
    expect(remote.out.trim()).toBe('trackhub: the hub refused (404) NOT_FOUND: no such issuer');
    const local = await cli(['notifications', 'replay', '--issuer', 'NOSUCHBANK', '--since', '2026-01-01T00:00:00Z'], { TRACKHUB_DATABASE_URL: t.store.url });
    expect(local.code).toBe(2);
    // Named with the store it was looked for in: a command run in the wrong folder says where it looked.
    expect(local.out.trim()).toMatch(/^trackhub: no such issuer: NOSUCHBANK \(in the store at postgres:\/\/[^@ ]+\/[^ ]+\)$/);
    expect(local.out).not.toMatch(/postgres:\/\/[^@ ]+@/);
    // A time is read as the Admin API reads it, on the store too: with its offset, to the millisecond.
    for (const since of ['2026-01-01T00:00:00', '2026-01-01T00:00:00.000001Z']) {
      const bad = await cli(['notifications', 'replay', '--issuer', 'NOSUCHBANK', '--since', since], { TRACKHUB_DATABASE_URL: t.store.url });
      expect(bad.code, since).toBe(2);
      expect(bad.out.trim(), since).toMatch(/^trackhub: --since: (is not an ISO 8601 time with an offset|at most millisecond precision)/);
    }
    const show = await cli(['notifications', 'show', 'msg_0PNZ4XK2Qa7fGh3JkMnPqRsTv', '--url', url], env);
    expect(show.code).toBe(2);
    expect(show.out).toMatch(/no such notification/);
  });

  it('notifications replay of a notification whose send is under way exits 1 with the reason, through the hub and on the store', async () => {
    await putIssuer(t.app, 'BUSYBANK01', await issuerKey());
    const id = 'msg_0PNZ4XK2QBusyBusyBusyBusy';
    await insertOutbox(t.store.db, [{ id, issuer_id: 'BUSYBANK01', operation_id: 'op_busy', sequence_number: 1, correlation_id: 'corr_busy', payload: '{"operationId":"op_busy"}' }]);
    // A worker claimed it a moment ago (lease of a minute) and is sending it.
    const [claimed] = await claimDueNotifications(t.store.db, [{ issuer_id: 'BUSYBANK01', lim: 1 }], 1, 60_000);
    expect(claimed.id).toBe(id);
    for (const run of [await cli(['notifications', 'replay', id, '--url', url], env), await cli(['notifications', 'replay', id], { TRACKHUB_DATABASE_URL: t.store.url })]) {
      expect(run.code, run.out).toBe(1);
      expect(run.out.trim()).toBe(`trackhub: ${id}: not replayed: its send is under way (it is retried on its schedule if that send fails; replay again once it is delivered or dead)`);
    }
    // Its attempt recorded: replayed, exit 0.
    await t.store.db.insertInto('delivery_attempts').values({ notification_id: id, attempt: 1, http_status: 500, latency_ms: 1, error: null, response_body: null }).execute();
    const done = await cli(['notifications', 'replay', id, '--url', url], env);
    expect(done.code, done.out).toBe(0);
    expect(done.out.trim()).toBe(`replayed ${id}`);
    const help = await cli(['notifications', 'replay', '--help']);
    expect(help.out).toMatch(/Exits 1, saying why, when a notification's send is under way/);
  });

  it('sites add and list through the hub; the key is printed once by add and never by list', async () => {
    const add = await cli(['sites', 'add', 'SITE-URL', '--name', 'Remote bureau', '--carriers', 'fedex', '--url', url], env);
    expect(add.code, add.out).toBe(0);
    expect(add.out).toMatch(/"created": true/);
    const key = /"apiKey": "(sk_[^"]+)"/.exec(add.out)?.[1] as string;
    expect(key).toBeDefined();
    const list = await cli(['sites', 'list', '--url', url], env);
    expect(list.code, list.out).toBe(0);
    expect(list.out).toContain('SITE-URL\tkey\tfedex\tRemote bureau\n');
    expect(list.out).not.toContain(key);
  });

  it('a refused token, a missing token and an unreachable hub each end the command clearly, the token never printed', async () => {
    const wrong = 'wrong-token-that-must-not-be-printed-0123';
    const refused = await cli(['issuers', 'list', '--url', url], { ...env, TRACKHUB_ADMIN_TOKEN: wrong });
    expect(refused.code).toBe(2);
    expect(refused.out).toMatch(/the hub refused \(401\) AUTHORIZER_UNAUTHORIZED/);
    expect(refused.out).not.toContain(wrong);
    const none = await cli(['issuers', 'list', '--url', url], { ...env, TRACKHUB_ADMIN_TOKEN: '' });
    expect(none.code).toBe(2);
    expect(none.out).toMatch(/--url needs an admin token in TRACKHUB_ADMIN_TOKEN/);
    const gone = await cli(['notifications', 'list', '--url', 'http://127.0.0.1:9'], env);
    expect(gone.code).toBe(1);
    expect(gone.out).toMatch(/could not reach the hub at http:\/\/127\.0\.0\.1:9/);
    expect(gone.out).not.toContain(ADMIN_TOKEN);
  });
});

describe('trackhub issuers add --signing on the store', () => {
  it('makes an ed25519 key pair and no shared secret', async () => {
    const store = await freshStore('postgres');
    try {
      const add = await cli(['issuers', 'add', '--id', 'EDBANK0001', '--name', 'Ed bank', '--notification-url', 'https://bank.example', '--generate-key', '--signing', 'ed25519'], { TRACKHUB_DATABASE_URL: store.url });
      expect(add.code, add.out).toBe(0);
      expect(add.out).toMatch(/"notificationPublicKey": "whpk_/);
      expect(add.out).toMatch(/"webhookSecretCount": 0/);
      expect(add.out).not.toMatch(/whsec_|whsk_/);
    } finally {
      await store.close();
    }
  });
});

describe('trackhub admin-tokens with --url', () => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await testApp('postgres');
    url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => t?.close());

  it('creates (printed once), lists (never the token) and revokes a named token through the hub', async () => {
    const env = { TRACKHUB_ADMIN_TOKEN: ADMIN_TOKEN, TRACKHUB_URL: url, TRACKHUB_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    const created = await cli(['admin-tokens', 'create', '--name', 'remote-op', '--scope', 'read'], env);
    expect(created.code, created.out).toBe(0);
    const token = /^(tha_[A-Za-z0-9_-]{43})$/m.exec(created.out)?.[1] as string;
    expect(token).toBeDefined();
    // The new token works against the hub, for what its scope allows: reads, but not the token list (admin's).
    expect((await cli(['issuers', 'list'], { ...env, TRACKHUB_ADMIN_TOKEN: token })).code).toBe(0);
    const refused = await cli(['admin-tokens', 'list'], { ...env, TRACKHUB_ADMIN_TOKEN: token });
    expect(refused.code, refused.out).toBe(2);
    expect(refused.out).toContain('this needs a token with the admin scope; remote-op has read');
    const listed = await cli(['admin-tokens', 'list'], env);
    expect(listed.code, listed.out).toBe(0);
    expect(listed.out).toMatch(/^remote-op\tread\t.*\tactive$/m);
    expect(listed.out).not.toContain(token);
    const revoked = await cli(['admin-tokens', 'revoke', 'remote-op'], env);
    expect(revoked.code, revoked.out).toBe(0);
    const again = await cli(['admin-tokens', 'revoke', 'remote-op'], env);
    expect(again.code).toBe(1);
    expect(again.out.trim()).toBe('trackhub: no active admin token named remote-op');
  });
});

describe('trackhub serve says where the console is', () => {
  it('in its start line, also when there is no terminal for the banner', { timeout: 60_000 }, async () => {
    const store = await freshStore('postgres');
    const port = await freePort();
    const hub = runCli(['serve'], { TRACKHUB_DATABASE_URL: store.url, TRACKHUB_PORT: String(port), TRACKHUB_LOG_LEVEL: 'info', TRACKHUB_ROLE: 'api' });
    try {
      await waitFor('the start line', () => hub.output().includes('"msg":"trackhub started"') || undefined, 50_000);
      const line = JSON.parse(hub.output().split('\n').find((l) => l.includes('"msg":"trackhub started"')) as string);
      expect(line).toMatchObject({ url: `http://127.0.0.1:${port}`, console: `http://127.0.0.1:${port}/console`, docs: `http://127.0.0.1:${port}/docs` });
      // An API process deletes nothing: it does not claim a retention.
      expect(line).not.toHaveProperty('retentionDays');
    } finally {
      await stop(hub);
      await store.close();
    }
  });

  it('a worker says the retention in effect in its start line', { timeout: 60_000 }, async () => {
    const store = await freshStore('postgres');
    const hub = runCli(['serve'], { TRACKHUB_DATABASE_URL: store.url, TRACKHUB_LOG_LEVEL: 'info', TRACKHUB_PORT: String(await freePort()), TRACKHUB_ROLE: 'worker', TRACKHUB_RETENTION: '36h' });
    try {
      await waitFor('the start line', () => hub.output().includes('"msg":"trackhub started"') || undefined, 50_000);
      const line = JSON.parse(hub.output().split('\n').find((l) => l.includes('"msg":"trackhub started"')) as string);
      expect(line).toMatchObject({ role: 'worker', retentionDays: 1.5 });
    } finally {
      await stop(hub);
      await store.close();
    }
  });
});
