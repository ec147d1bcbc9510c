import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMigrations, migrate } from '../src/store/db.ts';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';
import { freshStore, STORE_KINDS } from './helpers/stores.ts';

describe.each(STORE_KINDS)('production sites in the Admin API on %s', (kind) => {
  let t: TestApp;
  const putSite = (siteId: string, body: Record<string, unknown>) =>
    t.app.inject({ method: 'PUT', url: `/admin/v1/production-sites/${encodeURIComponent(siteId)}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: body });
  const post = (siteId: string, key: string, payload: string) =>
    t.app.inject({ method: 'POST', url: `/sites/v1/production-sites/${siteId}/events`, headers: { 'x-api-key': key, 'content-type': 'application/json' }, payload });

  beforeAll(async () => {
    t = await testApp(kind);
  });
  afterAll(async () => t?.close());

  it('one API key belongs to one site', async () => {
    const key = 'sk_shared_key_0123456789abcdef';
    expect((await putSite('KEY-A', { name: 'A', apiKey: key })).statusCode).toBe(201);
    const taken = await putSite('KEY-C', { name: 'C', apiKey: key });
    expect(taken.statusCode).toBe(400);
    expect(taken.json()).toEqual({ errorCode: 'FIELD_INVALID_VALUE', error: 'apiKey: is already the key of another production site' });
    expect(await t.store.db.selectFrom('production_sites').select('site_id').where('site_id', '=', 'KEY-C').executeTakeFirst()).toBeUndefined();
    expect((await putSite('KEY-B', { name: 'B' })).statusCode).toBe(201);
    expect((await putSite('KEY-B', { name: 'B', apiKey: key })).statusCode).toBe(400);
    // The site that holds it may send it again.
    expect((await putSite('KEY-A', { name: 'A again', apiKey: key })).statusCode).toBe(200);
  });

  it('a site id may not start with a dot (it names the inbox folder)', async () => {
    // `.` and `..` never reach a route over HTTP (URLs resolve them away); `trackhub sites add` is tested with them.
    for (const id of ['.hidden', '.x.']) {
      const res = await putSite(id, { name: 'dots' });
      expect(res.statusCode, id).toBe(400);
      expect(res.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(/^siteId: .*not starting with a dot/) });
    }
    expect((await putSite('_a.b-c', { name: 'fine' })).statusCode).toBe(201);
  });

  it('a body value of the wrong JSON type is refused, not converted (a 1 is not true, a null not false)', async () => {
    for (const [body, field] of [
      [{ name: 'x', generateApiKey: 1 }, 'generateApiKey'],
      [{ name: 'x', generateApiKey: 'true' }, 'generateApiKey'],
      [{ name: 123 }, 'name'],
      [{ name: 'x', carriers: 'fedex' }, 'carriers'],
      [{ name: 'x', carriers: [1] }, 'carriers[0]'],
    ] as const) {
      const res = await putSite('TYPES', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(new RegExp(`^${field.replace(/[[\]]/g, '\\$&')}: must be`)) });
    }
    expect((await putSite('TYPES', { name: 'x', carriers: ['fedex'], generateApiKey: true })).statusCode).toBe(201);
    const plain = await t.app.inject({ method: 'PUT', url: '/admin/v1/production-sites/TYPES', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/plain' }, payload: 'name=x' });
    expect(plain.statusCode).toBe(415);
    const form = await t.app.inject({ method: 'PUT', url: '/admin/v1/production-sites/TYPES', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=x' });
    expect(form.statusCode).toBe(415);
    expect(form.json().errorCode).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('reading a site or an issuer checks the id against its format before any lookup', async () => {
    const get = (url: string) => t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const site = await get('/admin/v1/production-sites/.hidden');
    expect(site.statusCode).toBe(400);
    expect(site.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(/^siteId: /) });
    const issuer = await get('/admin/v1/issuers/TOO-LONG-FOR-AN-ISSUER');
    expect(issuer.statusCode).toBe(400);
    expect(issuer.json()).toEqual({ errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(/^issuerId: /) });
    // Well-formed and unknown: looked up, and not found.
    expect((await get('/admin/v1/production-sites/NO-SUCH-SITE')).statusCode).toBe(404);
    expect((await get('/admin/v1/issuers/NOSUCHBANK')).statusCode).toBe(404);
  });

  it('a PUT without carriers keeps them; generateApiKey rotates the key', async () => {
    const first = await putSite('ROTATE', { name: 'R', carriers: ['fedex', 'ups'] });
    const oldKey = first.json().apiKey as string;
    const renamed = await putSite('ROTATE', { name: 'R2' });
    expect(renamed.json()).toEqual({ siteId: 'ROTATE', name: 'R2', carriers: ['fedex', 'ups'] });
    expect((await putSite('ROTATE', { name: 'R2', carriers: [] })).json().carriers).toEqual([]);
    const event = JSON.stringify({ events: [{ eventId: 'r1', issuerId: 'BANK000001', cardId: 'c1', type: 'CARD_SHIPPED', occurredAt: '2026-05-01T10:00:00Z' }] });
    expect((await post('ROTATE', oldKey, event)).statusCode).toBe(202);
    const rotated = await putSite('ROTATE', { name: 'R2', generateApiKey: true });
    expect(rotated.statusCode).toBe(200);
    const newKey = rotated.json().apiKey as string;
    expect(newKey).toMatch(/^sk_/);
    expect(newKey).not.toBe(oldKey);
    expect((await post('ROTATE', oldKey, event)).statusCode).toBe(401);
    expect((await post('ROTATE', newKey, event)).statusCode).toBe(202);
    expect((await putSite('ROTATE', { name: 'R2', generateApiKey: true, apiKey: 'sk_given_key_0123456789abcdef' })).statusCode).toBe(400);
  });

  it('a __proto__ key rejects its event alone', async () => {
    const key = (await putSite('PROTO', { name: 'P' })).json().apiKey as string;
    const good = '{"eventId":"p1","issuerId":"BANK000001","cardId":"c1","type":"CARD_SHIPPED","occurredAt":"2026-05-01T10:00:00Z"}';
    const poisoned = '{"eventId":"p2","issuerId":"BANK000001","cardId":"c2","type":"CARD_SHIPPED","occurredAt":"2026-05-01T10:00:00Z","__proto__":{"isAdmin":true}}';
    const res = await post('PROTO', key, `{"events":[${good},${poisoned}]}`);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [{ index: 1, errorCode: 'FIELD_INVALID_VALUE', error: '__proto__: is not a field of a site event' }] });
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect((await post('PROTO', key, '{"events": [ nope')).json().errorCode).toBe('PARSING_ERROR');
    expect((await post('PROTO', key, '')).statusCode).toBe(400);
  });
});

describe.each(STORE_KINDS)('migration to one key per site on %s', (kind) => {
  it('keeps a key shared by several sites with the oldest and clears the others', async () => {
    const store = await freshStore(kind, { migrated: false });
    try {
      await sql`create table schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())`.execute(store.db);
      for (const m of listMigrations().filter((m) => m.version < 6)) {
        await sql.raw(m.sql).execute(store.db);
        await store.db.insertInto('schema_migrations').values({ version: m.version, name: m.name }).execute();
      }
      await sql`
        insert into production_sites (site_id, name, api_key_hash, created_at) values
          ('NEWER', 'n', 'h1', now()), ('OLDEST', 'o', 'h1', now() - interval '1 day'), ('OWN', 'w', 'h2', now()), ('NONE', 'x', null, now()), ('NONE2', 'y', null, now())`.execute(store.db);
      expect(await migrate(store.db)).toContain('0006_site_key_unique.sql');
      const rows = await store.db.selectFrom('production_sites').select(['site_id', 'api_key_hash']).orderBy('site_id').execute();
      expect(rows).toEqual([
        { site_id: 'NEWER', api_key_hash: null },
        { site_id: 'NONE', api_key_hash: null },
        { site_id: 'NONE2', api_key_hash: null },
        { site_id: 'OLDEST', api_key_hash: 'h1' },
        { site_id: 'OWN', api_key_hash: 'h2' },
      ]);
    } finally {
      await store.close();
    }
  });
});
