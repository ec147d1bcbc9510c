import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLI_ADMIN_SCOPES, registerAdminTokenCommands } from '../src/cli/admin-tokens.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { ADMIN_TOKEN_CACHE_TTL_MS, adminAuthOf } from '../src/http/admin-auth.ts';
import { ADMIN_SCOPES, type AdminScope, createAdminToken, hashAdminToken } from '../src/store/admin-tokens.ts';
import type { Db } from '../src/store/db.ts';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';
import { STORE_KINDS } from './helpers/stores.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A concrete URL for an OpenAPI path: each `{param}` gets an id of its format that names nothing. */
function concrete(path: string): string {
  const ids: Record<string, string> = { issuerId: 'ISSUER_NON', siteId: 'SITE-NONE', id: 'msg_none', name: 'nobody' };
  return path.replace(/\{(\w+)\}/g, (_m, p: string) => ids[p] ?? 'none');
}

/** A value of its format for each required query parameter a GET route documents, so the call reaches its handler. */
const QUERY_VALUES: Record<string, string> = { since: '2026-01-01T00:00:00Z', q: 'nothing-here' };

/** Every /admin route of the OpenAPI document, as [method, path] pairs; a GET's path carries its required query parameters. */
async function adminRoutes(t: TestApp): Promise<[string, string][]> {
  type Op = { parameters?: { in: string; name: string; required?: boolean }[] };
  const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, Op>> };
  const routes: [string, string][] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    if (!path.startsWith('/admin/')) continue;
    for (const [method, op] of Object.entries(ops)) {
      const required = (op.parameters ?? []).filter((p) => p.in === 'query' && p.required).map((p) => `${p.name}=${encodeURIComponent(QUERY_VALUES[p.name] ?? 'x')}`);
      routes.push([method.toUpperCase(), required.length > 0 ? `${path}?${required.join('&')}` : path]);
    }
  }
  return routes;
}

describe('TRACKHUB_ADMIN_TOKEN', () => {
  it('stops start-up with one line naming the variable when shorter than 32 characters, and is accepted from 32', () => {
    const short = 'x'.repeat(31);
    expect(() => loadConfig({ TRACKHUB_ADMIN_TOKEN: short })).toThrow(ConfigError);
    try {
      loadConfig({ TRACKHUB_ADMIN_TOKEN: short });
    } catch (err) {
      expect((err as Error).message).toMatch(/^TRACKHUB_ADMIN_TOKEN: must be at least 32 characters/);
      expect((err as Error).message).not.toContain(short);
      expect((err as Error).message.split('\n')).toHaveLength(1);
    }
    expect(loadConfig({ TRACKHUB_ADMIN_TOKEN: 'x'.repeat(32) }).adminToken).toBe('x'.repeat(32));
  });

  it('TRACKHUB_METRICS_TOKEN too: shorter than 32 characters stops start-up, naming the variable, not the value', () => {
    const short = 'm'.repeat(31);
    expect(() => loadConfig({ TRACKHUB_METRICS_TOKEN: short })).toThrow(/^TRACKHUB_METRICS_TOKEN: must be at least 32 characters/);
    expect(() => loadConfig({ TRACKHUB_METRICS_TOKEN: short })).not.toThrow(short);
    expect(loadConfig({ TRACKHUB_METRICS_TOKEN: 'm'.repeat(32) }).metricsToken).toBe('m'.repeat(32));
    // Spaces do not count: a header value loses them, so such a token could never be sent.
    expect(() => loadConfig({ TRACKHUB_METRICS_TOKEN: ' '.repeat(34) })).toThrow(/^TRACKHUB_METRICS_TOKEN: must be at least 32 characters/);
    expect(() => loadConfig({ TRACKHUB_ADMIN_TOKEN: ` ${'a'.repeat(30)} ` })).toThrow(/^TRACKHUB_ADMIN_TOKEN: must be at least 32 characters/);
  });

  it('writes an IPv6 host in brackets in the default public URL', () => {
    expect(loadConfig({ TRACKHUB_HOST: '::', TRACKHUB_PORT: '18081' }).publicUrl).toBe('http://[::]:18081');
    expect(loadConfig({ TRACKHUB_HOST: '127.0.0.1', TRACKHUB_PORT: '18081' }).publicUrl).toBe('http://127.0.0.1:18081');
  });

  it('test helpers use a token the configuration accepts', () => {
    expect(ADMIN_TOKEN.length).toBeGreaterThanOrEqual(32);
  });
});

describe.each(STORE_KINDS)('admin token scopes on %s', (kind) => {
  let t: TestApp;
  const tokens = {} as Record<AdminScope, string>;

  beforeAll(async () => {
    t = await testApp(kind);
    for (const scope of ADMIN_SCOPES) tokens[scope] = (await createAdminToken(t.store.db, `ops-${scope}`, scope)).token;
  });
  afterAll(() => t.close());

  it('checks every /admin route of the OpenAPI document: a read token is refused every write with 403 FORBIDDEN and gets 200 or 404 on every read', async () => {
    const routes = await adminRoutes(t);
    const writes = routes.filter(([m]) => m !== 'GET');
    const reads = routes.filter(([m]) => m === 'GET');
    // The known routes are there (an empty document cannot pass this test).
    expect(writes.map(([m, p]) => `${m} ${p}`)).toEqual(
      expect.arrayContaining([
        'PUT /admin/v1/issuers/{issuerId}',
        'PUT /admin/v1/production-sites/{siteId}',
        'POST /admin/v1/notifications/{id}/replay',
        'POST /admin/v1/issuers/{issuerId}/replay',
        'POST /admin/v1/admin-tokens',
        'DELETE /admin/v1/admin-tokens/{name}',
      ]),
    );
    expect(reads.length).toBeGreaterThanOrEqual(7);
    for (const [method, path] of writes) {
      const res = await t.app.inject({ method: method as 'POST', url: concrete(path), headers: bearer(tokens.read), payload: {} });
      expect(res.statusCode, `${method} ${path}`).toBe(403);
      const needed = path.endsWith('/replay') ? 'operate' : 'admin';
      expect(res.json(), `${method} ${path}`).toEqual({ errorCode: 'FORBIDDEN', error: `this needs a token with the ${needed} scope; ops-read has read` });
    }
    for (const [method, path] of reads) {
      const res = await t.app.inject({ method: 'GET', url: concrete(path), headers: bearer(tokens.read) });
      // The token list is admin's: who holds which scope is not for every reader.
      if (path === '/admin/v1/admin-tokens') {
        expect(res.json()).toEqual({ errorCode: 'FORBIDDEN', error: 'this needs a token with the admin scope; ops-read has read' });
        for (const scope of ['operate', 'admin'] as const) {
          const other = await t.app.inject({ method: 'GET', url: concrete(path), headers: bearer(tokens[scope]) });
          expect(other.statusCode, scope).toBe(scope === 'admin' ? 200 : 403);
        }
        continue;
      }
      expect([200, 404], `${method} ${path}: ${res.statusCode} ${res.body}`).toContain(res.statusCode);
    }
    // Without a token every route is 401 (each from an address of its own: failures are limited per address).
    for (const [i, [method, path]] of routes.entries()) {
      const res = await t.app.inject({ method: method as 'GET', url: concrete(path), remoteAddress: `10.9.${i}.1` });
      expect(res.statusCode, `${method} ${path}`).toBe(401);
      expect(res.json().errorCode).toBe('AUTHORIZER_UNAUTHORIZED');
    }
  });

  it('also finds /admin routes the OpenAPI document would hide: every one in the route table is checked above', async () => {
    const documented = new Set((await adminRoutes(t)).map(([m, p]) => `${m} ${p.split('?')[0]?.replace(/\{(\w+)\}/g, ':$1')}`));
    // printRoutes draws the route tree, one segment a line, with the methods of the routes that end there:
    // "├── /admin/v1/issuers (GET, HEAD)" then "│   └── /:issuerId (PUT, GET, HEAD)" under it.
    const table = t.app.printRoutes({ commonPrefix: false });
    const inTable: string[] = [];
    const stack: string[] = [];
    for (const line of table.split('\n')) {
      const m = /^((?:│ {3}| {4})*)[├└]── (\S+)(?: \(([^)]+)\))?/.exec(line);
      if (!m) continue;
      stack.length = m[1].length / 4;
      stack.push(m[2]);
      const path = stack.join('');
      if (!m[3] || !path.startsWith('/admin/')) continue;
      for (const method of m[3].split(', ')) if (method !== 'HEAD') inTable.push(`${method} ${path}`);
    }
    expect(inTable.length).toBeGreaterThanOrEqual(10);
    for (const route of inTable) expect(documented, route).toContain(route);
  });

  it('lets an operate token replay but not change issuers, sites or tokens; an admin token does everything', async () => {
    for (const [method, path] of (await adminRoutes(t)).filter(([m]) => m !== 'GET')) {
      const operate = await t.app.inject({ method: method as 'POST', url: concrete(path), headers: bearer(tokens.operate), payload: {} });
      if (path.endsWith('/replay')) expect(operate.statusCode, `${method} ${path}`).not.toBe(403);
      else expect(operate.json(), `${method} ${path}`).toEqual({ errorCode: 'FORBIDDEN', error: 'this needs a token with the admin scope; ops-operate has operate' });
      const admin = await t.app.inject({ method: method as 'POST', url: concrete(path), headers: bearer(tokens.admin), payload: {} });
      expect([400, 404], `${method} ${path}: ${admin.statusCode} ${admin.body}`).toContain(admin.statusCode);
    }
    const replay = await t.app.inject({ method: 'POST', url: '/admin/v1/notifications/msg_none/replay', headers: bearer(tokens.operate) });
    expect(replay.json()).toEqual({ errorCode: 'NOT_FOUND', error: 'no such notification' });
  });

  it('accepts the Bearer scheme in any case (RFC 7235)', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const res = await t.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: { authorization: `${scheme} ${tokens.read}` } });
      expect(res.statusCode, scheme).toBe(200);
      const env = await t.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: { authorization: `${scheme} ${ADMIN_TOKEN}` } });
      expect(env.statusCode, scheme).toBe(200);
    }
  });

  it('creates, lists and revokes tokens through the API: shown once, stored hashed, refused at once here and within the cache TTL on another instance', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/admin/v1/admin-tokens', headers: bearer(ADMIN_TOKEN), payload: { name: 'ci-reader', scope: 'read' } });
    expect(created.statusCode).toBe(201);
    const { token } = created.json() as { token: string };
    expect(token).toMatch(/^tha_[A-Za-z0-9_-]{43}$/);
    const row = await t.store.db.selectFrom('admin_tokens' as never).selectAll().where('name' as never, '=', 'ci-reader' as never).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(token);
    expect((row as { token_hash: string }).token_hash).toBe(hashAdminToken(token));
    const again = await t.app.inject({ method: 'POST', url: '/admin/v1/admin-tokens', headers: bearer(ADMIN_TOKEN), payload: { name: 'ci-reader', scope: 'admin' } });
    expect(again.json().errorCode).toBe('FIELD_INVALID_VALUE');
    const reserved = await t.app.inject({ method: 'POST', url: '/admin/v1/admin-tokens', headers: bearer(ADMIN_TOKEN), payload: { name: 'env', scope: 'admin' } });
    expect(reserved.json().errorCode).toBe('FIELD_INVALID_VALUE');
    const badName = await t.app.inject({ method: 'POST', url: '/admin/v1/admin-tokens', headers: bearer(ADMIN_TOKEN), payload: { name: '../x', scope: 'read' } });
    expect(badName.json().errorCode).toBe('FIELD_INVALID_FORMAT');

    // Another instance on the same store, with a clock of its own.
    const other = await testApp(kind, {}, { store: t.store });
    try {
      let otherNow = 1_000_000;
      (adminAuthOf(other.app) as NonNullable<ReturnType<typeof adminAuthOf>>).now = () => otherNow;
      expect((await other.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: bearer(token) })).statusCode).toBe(200); // cached from now on
      expect((await t.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: bearer(token) })).statusCode).toBe(200);

      const listed = (await t.app.inject({ method: 'GET', url: '/admin/v1/admin-tokens', headers: bearer(tokens.admin) })).json().tokens;
      const entry = listed.find((x: { name: string }) => x.name === 'ci-reader');
      expect(entry).toMatchObject({ name: 'ci-reader', scope: 'read', revokedAt: null });
      expect(entry.lastUsedAt).not.toBeNull();
      expect(JSON.stringify(listed)).not.toContain('tha_');

      const revoked = await t.app.inject({ method: 'DELETE', url: '/admin/v1/admin-tokens/ci-reader', headers: bearer(tokens.admin) });
      expect(revoked.statusCode).toBe(204);
      // This instance: at once.
      expect((await t.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: bearer(token) })).statusCode).toBe(401);
      // The other: its cached answer holds until the TTL, then it asks the store again and refuses.
      otherNow += ADMIN_TOKEN_CACHE_TTL_MS - 1;
      expect((await other.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: bearer(token) })).statusCode).toBe(200);
      otherNow += 1;
      expect((await other.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: bearer(token) })).statusCode).toBe(401);
      expect((await t.app.inject({ method: 'DELETE', url: '/admin/v1/admin-tokens/ci-reader', headers: bearer(tokens.admin) })).statusCode).toBe(404);
    } finally {
      await other.close();
    }
  });

  it('the console signs in with a named read token (its sign-in reads the issuers)', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/console' });
    expect(page.statusCode).toBe(200);
    const script = (await t.app.inject({ method: 'GET', url: '/console/app.js' })).body;
    expect(script).toContain('"/admin/v1/issuers"');
    expect((await t.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: bearer(tokens.read) })).statusCode).toBe(200);
  });
});

describe.each(STORE_KINDS)('trackhub admin-tokens on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp(kind);
  });
  afterAll(() => t.close());

  /** Runs one `trackhub admin-tokens …` command on the test store; what it prints and its exit code. */
  async function run(db: Db, ...args: string[]): Promise<{ out: string; err: string; code?: number }> {
    const program = new Command('trackhub').exitOverride();
    registerAdminTokenCommands(program, { config: () => ({}) as never, withStore: (fn) => fn(db), storeName: () => 'the test store' });
    let out = '';
    let err = '';
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out += String(s);
      return true;
    });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
      err += String(s);
      return true;
    });
    const exit = vi.spyOn(process, 'exit').mockImplementation((code) => {
      throw Object.assign(new Error('exit'), { exitCode: code });
    });
    try {
      await program.parseAsync(['node', 'trackhub', 'admin-tokens', ...args]);
      return { out, err };
    } catch (e) {
      return { out, err, code: (e as { exitCode?: number }).exitCode };
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      exit.mockRestore();
    }
  }

  it('creates a token printed once, lists name, scope, created and last used but never the token, and revokes it', async () => {
    expect(CLI_ADMIN_SCOPES).toEqual(ADMIN_SCOPES);
    const created = await run(t.store.db, 'create', '--name', 'oncall', '--scope', 'operate');
    expect(created.code).toBeUndefined();
    const token = created.out.trim();
    expect(token).toMatch(/^tha_[A-Za-z0-9_-]{43}$/);
    expect(created.err).toContain('printed only this once');
    expect((await t.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: bearer(token) })).statusCode).toBe(200);

    const listed = await run(t.store.db, 'list');
    const line = listed.out.split('\n').find((l) => l.startsWith('oncall\t')) as string;
    const [name, scope, createdAt, lastUsed, state] = line.split('\t');
    expect([name, scope, state]).toEqual(['oncall', 'operate', 'active']);
    expect(Date.parse(createdAt)).not.toBeNaN();
    expect(Date.parse(lastUsed)).not.toBeNaN();
    expect(listed.out).not.toContain(token);
    expect(listed.out).not.toContain(hashAdminToken(token));

    expect((await run(t.store.db, 'create', '--name', 'oncall', '--scope', 'read')).code).toBe(2);
    expect((await run(t.store.db, 'create', '--name', 'x', '--scope', 'root')).code).toBe(2);
    expect((await run(t.store.db, 'create', '--name', 'a b', '--scope', 'read')).code).toBe(2);

    const revoked = await run(t.store.db, 'revoke', 'oncall');
    expect(revoked.out).toMatch(/^revoked oncall: running hubs refuse it within 5 s/);
    expect((await run(t.store.db, 'list')).out).toMatch(/^oncall\toperate\t\S+\t\S+\trevoked \S+$/m);
    expect((await run(t.store.db, 'revoke', 'oncall')).code).toBe(1);
    // This app cached the token a moment ago: it refuses it once the cache's TTL has passed.
    const auth = adminAuthOf(t.app) as NonNullable<ReturnType<typeof adminAuthOf>>;
    const later = Date.now() + ADMIN_TOKEN_CACHE_TTL_MS;
    auth.now = () => later;
    try {
      expect((await t.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: bearer(token) })).statusCode).toBe(401);
    } finally {
      auth.now = Date.now;
    }
    const audit = (await t.app.inject({ method: 'GET', url: '/admin/v1/audit?targetId=oncall', headers: bearer(ADMIN_TOKEN) })).json().entries;
    expect(audit.map((e: { route: string }) => e.route)).toEqual(['admin-tokens revoke', 'admin-tokens create']);
    expect(audit[0].tokenName).toMatch(/^cli/);
    expect(JSON.stringify(audit)).not.toContain(token);
  });
});
