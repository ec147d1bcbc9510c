import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type TestApp, testApp } from './helpers/app.ts';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const rejectedLine = (line: number) => ({ line, errorCode: 'FIELD_INVALID_FORMAT', error: `cardId: bad on line ${line}` });

describe('GET /admin/v1/production-sites/:siteId/inbox-files (postgres)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp('postgres');
    await sql`insert into production_sites (site_id, name) values ('MADRID', 'Madrid'), ('OSLO', 'Oslo')`.execute(t.store.db);
    // 25 rejected lines listed (more than a listing shows), in line order as the chunks append them.
    const many = Array.from({ length: 25 }, (_, i) => rejectedLine(i + 1));
    const files: [string, string, string, string, string | null, number, number, number, number, unknown[]][] = [
      // key, name, state, received, finished, lines, accepted, duplicates, rejected count, rejected listed
      ['a|1|1', 'a.csv', 'done', '2026-01-01T01:00:00.000001Z', '2026-01-01T01:00:05Z', 13, 10, 1, 2, [rejectedLine(4), rejectedLine(9)]],
      ['b|1|1', 'b.csv', 'rejected', '2026-01-01T02:00:00.000002Z', '2026-01-01T02:00:01Z', 30, 0, 0, 30, many],
      // Two files received in the same microsecond: the page boundary falls between them, neither is lost.
      ['c|1|1', 'c.csv', 'done', '2026-01-01T03:00:00.000003Z', '2026-01-01T03:00:02Z', 5, 5, 0, 0, []],
      // A header and 5 lines: 6 physical lines read, 5 of them records.
      ['d|1|1', 'd.csv', 'done', '2026-01-01T03:00:00.000003Z', '2026-01-01T03:00:03Z', 6, 4, 1, 0, []],
      ['e|1|1', 'e.csv', 'processing', '2026-01-01T04:00:00Z', null, 100, 50, 0, 0, []],
    ];
    for (const [key, name, state, received, finished, lines, accepted, duplicates, count, rejected] of files) {
      await sql`insert into inbox_files (site_id, file_key, name, state, lines_done, accepted, duplicates, rejected_count, rejected, created_at, updated_at)
        values ('MADRID', ${key}, ${name}, ${state}, ${lines}, ${accepted}, ${duplicates}, ${count}, ${JSON.stringify(rejected)}::jsonb, ${received}, ${finished ?? received})`.execute(t.store.db);
    }
    await sql`insert into inbox_files (site_id, file_key, name, state, created_at) values ('OSLO', 'x|1|1', 'oslo.csv', 'done', '2026-01-01T05:00:00Z')`.execute(t.store.db);
  });
  afterAll(async () => t?.close());

  const list = (q = '', site = 'MADRID', headers: Record<string, string> = admin) =>
    t.app.inject({ method: 'GET', url: `/admin/v1/production-sites/${site}/inbox-files?${q}`, headers });

  it("lists a site's files newest first with their counts and first rejected lines, a page at a time", async () => {
    const all = await list();
    expect(all.statusCode).toBe(200);
    const body = all.json();
    expect(body.nextCursor).toBeNull();
    expect(body.files.map((f: { name: string }) => f.name).sort()).toEqual(['a.csv', 'b.csv', 'c.csv', 'd.csv', 'e.csv']);
    expect(body.files[0]).toEqual({
      name: 'e.csv', state: 'processing', receivedAt: '2026-01-01T04:00:00.000Z', finishedAt: null, linesRead: 50, accepted: 50, duplicates: 0, rejectedLines: 0, rejected: [],
    });
    // Lines after the header, as `sites import` counts them: accepted, duplicates and rejected.
    expect(body.files.find((f: { name: string }) => f.name === 'd.csv')).toMatchObject({ linesRead: 5, accepted: 4, duplicates: 1 });
    const b = body.files.find((f: { name: string }) => f.name === 'b.csv');
    expect(b).toMatchObject({ state: 'rejected', receivedAt: '2026-01-01T02:00:00.000Z', finishedAt: '2026-01-01T02:00:01.000Z', rejectedLines: 30 });
    // The first 20 stored.
    expect(b.rejected).toEqual(Array.from({ length: 20 }, (_, i) => rejectedLine(i + 1)));
    expect(body.files.at(-1)).toMatchObject({ name: 'a.csv', accepted: 10, duplicates: 1, rejectedLines: 2, rejected: [rejectedLine(4), rejectedLine(9)] });

    // Pages of 2 give the same files in the same order, each once.
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { files: { name: string }[]; nextCursor: string | null } = (await list(`limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json();
      expect(page.files.length).toBeLessThanOrEqual(2);
      paged.push(...page.files.map((f: { name: string }) => f.name));
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(body.files.map((f: { name: string }) => f.name));
    // Another site's files are not listed; a site with none lists nothing.
    expect((await list('', 'OSLO')).json().files.map((f: { name: string }) => f.name)).toEqual(['oslo.csv']);
  });

  it("answers bad input with the contract's 400, an unknown site with 404, no token with 401", async () => {
    const forged = Buffer.from(JSON.stringify(["2026-01-01T00:00:00Z'; drop table inbox_files; --", '0'.repeat(32)])).toString('base64url');
    const wrongDigest = Buffer.from(JSON.stringify(['2026-01-01T03:00:00.000003Z', 'c|1|1'])).toString('base64url');
    for (const q of ['limit=0', 'limit=201', 'limit=x', 'cursor=nonsense', `cursor=${forged}`, `cursor=${wrongDigest}`, 'after=1']) {
      const res = await list(q);
      expect(res.statusCode, q).toBe(400);
      expect(res.json(), q).toMatchObject({ errorCode: expect.stringMatching(/^FIELD_/), error: expect.any(String) });
    }
    const badSite = await list('', '.hidden');
    expect(badSite.statusCode).toBe(400);
    expect(badSite.json()).toMatchObject({ errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(/^siteId: /) });
    expect((await list('', 'NOWHERE')).json()).toEqual({ errorCode: 'NOT_FOUND', error: 'no such production site' });
    expect((await list('', 'MADRID', {})).statusCode).toBe(401);
  });
});
