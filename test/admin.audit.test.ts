import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminToken } from '../src/store/admin-tokens.ts';
import { maskSecrets } from '../src/store/audit.ts';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';
import { issuerKey } from './helpers/issuer.ts';
import { STORE_KINDS, tempDir } from './helpers/stores.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface Entry {
  id: number;
  at: string;
  tokenName: string;
  method: string;
  route: string;
  targetId: string | null;
  status: number;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  correlationId: string;
}

function selfSignedPair(): { certificatePem: string; privateKeyPem: string } {
  const dir = tempDir('audit-tls');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=hub'], { cwd: dir, stdio: 'pipe' });
    return { certificatePem: readFileSync(join(dir, 'c.pem'), 'utf8'), privateKeyPem: readFileSync(join(dir, 'k.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('maskSecrets', () => {
  it('replaces every secret field, nested or in a list, and keeps counts, flags and the rest', () => {
    expect(
      maskSecrets({
        webhookSecrets: ['whsec_a', 'whsec_b'],
        notificationAuth: { tokenUrl: 'https://bank.example/t', clientId: 'c', clientSecret: 's3cret' },
        notificationTls: { certificatePem: 'CERT', privateKeyPem: 'KEY' },
        apiKey: 'sk_1',
        api_key_hash: 'abc',
        token: 'tha_x',
        webhookSecretCount: 2,
        retirePreviousSecret: true,
        name: 'Bank',
        none: null,
      }),
    ).toEqual({
      webhookSecrets: ['***', '***'],
      notificationAuth: { tokenUrl: 'https://bank.example/t', clientId: 'c', clientSecret: '***' },
      notificationTls: { certificatePem: 'CERT', privateKeyPem: '***' },
      apiKey: '***',
      api_key_hash: '***',
      token: '***',
      webhookSecretCount: 2,
      retirePreviousSecret: true,
      name: 'Bank',
      none: null,
    });
  });
});

describe.each(STORE_KINDS)('admin audit log on %s', (kind) => {
  let t: TestApp;
  let readToken: string;
  const audit = async (query = '', token = ADMIN_TOKEN) => {
    const res = await t.app.inject({ method: 'GET', url: `/admin/v1/audit${query}`, headers: bearer(token) });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { entries: Entry[]; nextCursor: string | null };
  };

  beforeAll(async () => {
    t = await testApp(kind);
    readToken = (await createAdminToken(t.store.db, 'auditor', 'read')).token;
  });
  afterAll(() => t.close());

  it('records a PUT of an issuer with secrets: who, what, when, outcome, before and after, and no secret anywhere', async () => {
    const key = await issuerKey();
    const tls = selfSignedPair();
    const secret1 = `whsec_${Buffer.from('first-webhook-secret-0123456789').toString('base64')}`;
    const secret2 = `whsec_${Buffer.from('second-webhook-secret-012345678').toString('base64')}`;
    const clientSecret = 'oauth-client-secret-value-42';
    const body = {
      name: 'Audited bank',
      notificationBaseUrl: 'https://bank.example',
      jwks: { keys: [key.publicJwk] },
      webhookSecret: secret1,
      notificationAuth: { tokenUrl: 'https://bank.example/oauth/token', clientId: 'hub', clientSecret },
      notificationTls: tls,
    };
    const started = Date.now();
    const created = await t.app.inject({ method: 'PUT', url: '/admin/v1/issuers/ISSUER_AUD', headers: { ...bearer(ADMIN_TOKEN), 'x-correlation-id': 'audit-put-1' }, payload: body });
    expect(created.statusCode, created.body).toBe(201);
    const rotated = await t.app.inject({ method: 'PUT', url: '/admin/v1/issuers/ISSUER_AUD', headers: bearer(ADMIN_TOKEN), payload: { ...body, name: 'Audited bank 2', webhookSecret: secret2 } });
    expect(rotated.statusCode).toBe(200);

    const { entries } = await audit('?targetId=ISSUER_AUD');
    expect(entries).toHaveLength(2);
    const [second, first] = entries; // newest first
    expect(first).toMatchObject({ tokenName: 'env', method: 'PUT', route: '/admin/v1/issuers/:issuerId', targetId: 'ISSUER_AUD', status: 201, before: null, correlationId: 'audit-put-1' });
    expect(Date.parse(first.at)).toBeGreaterThanOrEqual(started - 5_000);
    expect(first.after).toMatchObject({
      issuerId: 'ISSUER_AUD',
      name: 'Audited bank',
      webhookSecrets: ['***'],
      notificationAuth: { tokenUrl: 'https://bank.example/oauth/token', clientId: 'hub', clientSecret: '***' },
      notificationTls: { certificatePem: tls.certificatePem, privateKeyPem: '***' },
    });
    expect(second).toMatchObject({ status: 200, before: { name: 'Audited bank', webhookSecrets: ['***'] }, after: { name: 'Audited bank 2', webhookSecrets: ['***', '***'] } });

    // Nowhere in the log: not in the API's answer, not in the stored rows.
    const stored = JSON.stringify(await t.store.db.selectFrom('admin_audit' as never).selectAll().execute());
    for (const leaked of [secret1, secret2, clientSecret, tls.privateKeyPem, ADMIN_TOKEN]) {
      expect(JSON.stringify(entries)).not.toContain(leaked);
      expect(stored).not.toContain(leaked);
    }
    expect(stored).not.toContain('PRIVATE KEY');
  });

  it('records a site write with its key as "***", refusals with their status, and replays with who made them', async () => {
    const apiKey = 'sk_site-key-that-must-not-appear-0001';
    expect((await t.app.inject({ method: 'PUT', url: '/admin/v1/production-sites/SITE-AUD', headers: bearer(ADMIN_TOKEN), payload: { name: 'Bureau', apiKey } })).statusCode).toBe(201);
    const bad = await t.app.inject({ method: 'PUT', url: '/admin/v1/production-sites/SITE-AUD', headers: bearer(ADMIN_TOKEN), payload: { name: 'Bureau', carriers: ['pigeon'] } });
    expect(bad.statusCode).toBe(400);
    const refused = await t.app.inject({ method: 'PUT', url: '/admin/v1/production-sites/SITE-AUD', headers: bearer(readToken), payload: { name: 'Mine now' } });
    expect(refused.statusCode).toBe(403);
    const operate = (await createAdminToken(t.store.db, 'oncall-aud', 'operate')).token;
    expect((await t.app.inject({ method: 'POST', url: '/admin/v1/notifications/msg_nope/replay', headers: bearer(operate) })).statusCode).toBe(404);

    const site = (await audit('?targetId=SITE-AUD')).entries;
    expect(site.map((e) => [e.tokenName, e.status])).toEqual([
      ['auditor', 403],
      ['env', 400],
      ['env', 201],
    ]);
    expect(site[2]).toMatchObject({ before: null, after: { siteId: 'SITE-AUD', name: 'Bureau', apiKey: '***' } });
    expect(JSON.stringify(site)).not.toContain(apiKey);
    expect(JSON.stringify(await t.store.db.selectFrom('admin_audit' as never).selectAll().execute())).not.toContain(apiKey);

    const byOncall = (await audit('?tokenName=oncall-aud', readToken)).entries;
    expect(byOncall).toEqual([expect.objectContaining({ method: 'POST', route: '/admin/v1/notifications/:id/replay', targetId: 'msg_nope', status: 404 })]);
  });

  it('writes an entry for every write route of the OpenAPI document, and none for reads or failed authentications', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> };
    const writes = Object.entries(doc.paths)
      .filter(([p]) => p.startsWith('/admin/'))
      .flatMap(([p, ops]) => Object.keys(ops).filter((m) => m !== 'get').map((m) => [m.toUpperCase(), p] as const));
    expect(writes.length).toBeGreaterThanOrEqual(6);
    const before = (await audit('?limit=500')).entries.length;
    for (const [method, path] of writes) {
      const url = path.replace(/\{(\w+)\}/g, 'x-target');
      const res = await t.app.inject({ method: method as 'POST', url, headers: bearer(ADMIN_TOKEN), payload: {} });
      const [latest] = (await audit('?limit=1')).entries;
      expect(latest, `${method} ${path}`).toMatchObject({ method, route: path.replace(/\{(\w+)\}/g, ':$1'), status: res.statusCode, tokenName: 'env' });
    }
    await t.app.inject({ method: 'GET', url: '/admin/v1/issuers', headers: bearer(ADMIN_TOKEN) });
    await t.app.inject({ method: 'PUT', url: '/admin/v1/production-sites/SITE-X', headers: bearer('tha_not-a-token'), payload: { name: 'x' }, remoteAddress: '10.1.1.1' });
    expect((await audit('?limit=500')).entries.length).toBe(before + writes.length);
  });

  it('pages newest first with a cursor, and refuses a bad cursor or filter with the contract body', async () => {
    const all = (await audit('?limit=500')).entries;
    expect(all.length).toBeGreaterThanOrEqual(5);
    const ids = all.map((e) => e.id);
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { entries: Entry[]; nextCursor: string | null } = await audit(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.entries.length).toBeLessThanOrEqual(2);
      seen.push(...page.entries.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(ids);
    for (const query of ['?cursor=bm9wZQ', `?cursor=${Buffer.from(JSON.stringify(['0'])).toString('base64url')}`, '?tokenName=%00', `?targetId=${'x'.repeat(200)}`, '?limit=0', '?since=yesterday']) {
      const res = await t.app.inject({ method: 'GET', url: `/admin/v1/audit${query}`, headers: bearer(ADMIN_TOKEN) });
      expect(res.statusCode, query).toBe(400);
      expect(res.json().errorCode, query).toBe('FIELD_INVALID_FORMAT');
    }
  });

  it('is in the OpenAPI document under admin bearer auth', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(doc.paths['/admin/v1/audit'].get.security).toEqual([{ adminBearer: [] }]);
    expect(doc.paths['/admin/v1/audit'].get.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['tokenName', 'targetId', 'limit', 'cursor']));
  });
});
