import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestHash } from '../src/domain/track-request.ts';
import { acceptInTransaction } from '../src/operations/accept.ts';
import { InboxWatcher } from '../src/sites/inbox.ts';
import type { Db } from '../src/store/db.ts';
import { writeCsv } from './e2e/site-files.ts';
import { type TestApp, testApp } from './helpers/app.ts';
import { waitFor } from './helpers/processes.ts';
import { STORE_KINDS } from './helpers/stores.ts';

describe.each(STORE_KINDS)('inbox with two workers on %s', (kind) => {
  let t: TestApp;
  let dataDir: string;
  const watchers: InboxWatcher[] = [];

  beforeAll(async () => {
    t = await testApp(kind);
    dataDir = mkdtempSync(join(tmpdir(), 'trackhub-inbox-workers-'));
    await t.store.db.insertInto('production_sites').values({ site_id: 'TWO-WORKERS', name: 'Two workers', api_key_hash: null, carriers: '[]' }).execute();
    // Two workers watching the same folder over the same store, as two `worker` instances on one PostgreSQL would.
    for (let i = 0; i < 2; i++) watchers.push(new InboxWatcher(t.context, { dataDir, scanIntervalMs: 50, settleMs: 1000, leaseMs: 30_000, chunkLines: 500 }));
    for (const w of watchers) w.start();
  });

  afterAll(async () => {
    for (const w of watchers) await w.stop();
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('processes each file exactly once', async () => {
    const inbox = join(dataDir, 'inbox', 'TWO-WORKERS');
    await waitFor('inbox folder', () => existsSync(join(inbox, 'processing')) || undefined);
    const names = ['a.csv', 'b.csv', 'c.csv'];
    for (const name of names) {
      writeCsv(join(dataDir, name), 5_000, `two-${name}`);
      renameSync(join(dataDir, name), join(inbox, name));
    }
    // A file in done/ has its complete report beside it (the report is written first).
    const reports = await waitFor(
      'three files done',
      () => {
        const done = readdirSync(join(inbox, 'done')).filter((n) => names.includes(n));
        return done.length === names.length ? done.map((n) => JSON.parse(readFileSync(join(inbox, 'done', `${n}.report.json`), 'utf8'))) : undefined;
      },
      60_000,
      100,
    );
    for (const r of reports) expect(r).toMatchObject({ accepted: 4_950, duplicates: 0, rejectedCount: 50 });
    expect(readdirSync(join(inbox, 'done')).sort()).toEqual(['a.csv', 'a.csv.report.json', 'b.csv', 'b.csv.report.json', 'c.csv', 'c.csv.report.json']);
    // Card ids inside: the inbox folders, the files the hub took and its reports are private (the test's
    // umask would have left them 0755 and 0644).
    for (const dir of [join(dataDir, 'inbox'), inbox, join(inbox, 'processing'), join(inbox, 'done'), join(inbox, 'rejected')]) {
      expect((statSync(dir).mode & 0o777).toString(8), dir).toBe('700');
    }
    for (const name of readdirSync(join(inbox, 'done'))) expect((statSync(join(inbox, 'done', name)).mode & 0o777).toString(8), name).toBe('600');
    const rows = await sql<{ n: number; files: number }>`
      select (select count(*)::int from site_events where site_id = 'TWO-WORKERS') as n,
             (select count(*)::int from inbox_files where site_id = 'TWO-WORKERS') as files`.execute(t.store.db);
    expect(rows.rows[0]).toEqual({ n: 3 * 4_950, files: 3 });
  });

  it("reports a line for a card tracked with another site as rejected, with its line number", async () => {
    await t.store.db.insertInto('production_sites').values({ site_id: 'INBOX-B', name: 'B', api_key_hash: null, carriers: '[]' }).execute();
    const body = { trackingType: 'PRODUCTION' as const, productionSite: 'INBOX-A' };
    await t.store.db.transaction().execute((tx) =>
      acceptInTransaction(t.context, tx as Db, [{ issuerId: 'BANK000001', cardId: 'named-card', correlationId: 'corr-1', body, hash: requestHash(body), parcel: undefined, key: 'BANK000001|named-card|PRODUCTION' }]),
    );
    const inbox = join(dataDir, 'inbox', 'INBOX-B');
    await waitFor('inbox folder', () => existsSync(join(inbox, 'processing')) || undefined);
    writeFileSync(
      join(dataDir, 'named.csv'),
      'eventId,issuerId,cardId,type,occurredAt\nn-1,BANK000001,named-card,CARD_SHIPPED,2026-05-01T10:00:00Z\nn-2,BANK000001,free-card,CARD_SHIPPED,2026-05-01T10:00:00Z\n',
    );
    renameSync(join(dataDir, 'named.csv'), join(inbox, 'named.csv'));
    const report = await waitFor('report', () => {
      const path = join(inbox, 'done', 'named.csv');
      return existsSync(path) ? JSON.parse(readFileSync(`${path}.report.json`, 'utf8')) : undefined;
    });
    expect(report).toMatchObject({
      accepted: 1,
      duplicates: 0,
      rejectedCount: 1,
      rejected: [{ line: 2, errorCode: 'FIELD_INVALID_VALUE', error: 'cardId: the card is tracked with another production site' }],
    });
  });

  // The report is written first and the file moved after it: a file is finished once both are there.
  const reportIn = (inbox: string, folder: 'done' | 'rejected', name: string) =>
    waitFor(`${folder}/${name} and its report`, () => {
      const path = join(inbox, folder, `${name}.report.json`);
      return existsSync(path) && existsSync(join(inbox, folder, name)) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
    });

  it('an upload that pauses for longer than two scans, but less than the settle period, is read whole', async () => {
    const inbox = join(dataDir, 'inbox', 'TWO-WORKERS');
    await waitFor('inbox folder', () => existsSync(join(inbox, 'processing')) || undefined);
    const file = join(inbox, 'stalled.csv');
    writeFileSync(file, 'eventId,issuerId,cardId,type,occurredAt\n');
    for (let i = 0; i < 4; i++) {
      appendFileSync(file, `stall-${kind}-${i},BANK000001,stall-${i},CARD_SHIPPED,2026-05-01T10:00:00Z\n`);
      // 6 scan intervals of quiet: two equal scans alone would take the half-written file.
      if (i === 1) await new Promise((r) => setTimeout(r, 300));
    }
    expect(await reportIn(inbox, 'done', 'stalled.csv')).toMatchObject({ outcome: 'done', accepted: 4, rejectedCount: 0, lines: 5 });
  });

  it('a CSV header missing required columns sends the file to rejected/ with the reason', async () => {
    const inbox = join(dataDir, 'inbox', 'TWO-WORKERS');
    writeFileSync(join(dataDir, 'nocard.csv'), 'eventId,issuerId,type,occurredAt\nx-1,BANK000001,CARD_SHIPPED,2026-05-01T10:00:00Z\n');
    renameSync(join(dataDir, 'nocard.csv'), join(inbox, 'nocard.csv'));
    const report = await reportIn(inbox, 'rejected', 'nocard.csv');
    expect(report).toMatchObject({ outcome: 'rejected', accepted: 0, error: expect.stringMatching(/^CSV header: required column\(s\) cardId missing/) });
    expect(existsSync(join(inbox, 'rejected', 'nocard.csv'))).toBe(true);
  });
});
