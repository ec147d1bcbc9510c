import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InboxWatcher } from '../src/sites/inbox.ts';
import { writeCsv } from './e2e/site-files.ts';
import { type TestApp, testApp } from './helpers/app.ts';
import { inboxOf, readReport, registerSite } from './helpers/inbox.ts';
import { waitFor } from './helpers/processes.ts';
import { STORE_KINDS, tempDir } from './helpers/stores.ts';

/**
 * The inbox's promise to a production site (docs/contract.md §4): a file is read once, whole, even when
 * the worker reading it stops or dies half-way. Driven with scanOnce(), no timers: each test says which
 * worker looks when.
 */
describe.each(STORE_KINDS)('inbox resume on %s', (kind) => {
  let t: TestApp;
  let dataDir: string;
  const watcher = (o: { chunkLines?: number; leaseMs?: number } = {}) =>
    new InboxWatcher(t.context, { dataDir, scanIntervalMs: 50, settleMs: 0, leaseMs: o.leaseMs ?? 60_000, chunkLines: o.chunkLines ?? 100 });
  const inbox = (site: string) => inboxOf(dataDir, site);
  const report = (site: string, folder: 'done' | 'rejected', name: string) => readReport(dataDir, site, folder, name);
  const progress = async (site: string) =>
    (
      await sql<{ lines_done: number; accepted: number; leased: boolean; state: string }>`
        select lines_done, accepted, lease_until > now() as leased, state from inbox_files where site_id = ${site}`.execute(t.store.db)
    ).rows;
  const events = async (site: string) =>
    (await sql<{ n: number }>`select count(*)::int as n from site_events where site_id = ${site}`.execute(t.store.db)).rows[0].n;

  beforeAll(async () => {
    t = await testApp(kind);
    dataDir = tempDir('trackhub-inbox-resume');
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function site(id: string): Promise<string> {
    await registerSite(t.store.db, id);
    mkdirSync(join(inbox(id), 'processing'), { recursive: true });
    return inbox(id);
  }

  it('a worker stopped mid-file leaves it in processing/ for the next one, which reads only the rest', async () => {
    const dir = await site('RESUME-STOP');
    const bad = writeCsv(join(dir, 'processing', 'big.csv'), 10_000, `stop-${kind}`);
    // A gate in the store: the chunk that would take the file past line 300 waits for an advisory lock
    // the test holds, so the worker is stopped mid-file however fast the machine reads.
    const gate = new pg.Client({ connectionString: t.store.connectionUrl });
    await gate.connect();
    await gate.query('select pg_advisory_lock(4242)');
    await sql`create function resume_gate() returns trigger language plpgsql as $$
      begin if new.lines_done > 300 then perform pg_advisory_xact_lock_shared(4242); end if; return new; end $$`.execute(t.store.db);
    await sql`create trigger resume_gate before update on inbox_files for each row execute function resume_gate()`.execute(t.store.db);
    const first = watcher();
    const scanning = first.scanOnce();
    await waitFor('two chunks committed', async () => ((await progress('RESUME-STOP'))[0]?.lines_done ?? 0) >= 200 || undefined, 30_000, 5);
    const stopping = first.stop(); // the flag is set now; the held chunk commits once the gate opens
    await gate.end(); // its session lock goes with it
    await stopping;
    expect(await scanning).toBe(0);
    await sql`drop trigger resume_gate on inbox_files`.execute(t.store.db);
    await sql`drop function resume_gate()`.execute(t.store.db);

    const [stopped] = await progress('RESUME-STOP');
    expect(stopped.lines_done).toBeGreaterThan(0);
    expect(stopped.lines_done).toBeLessThan(10_001);
    expect(stopped.leased).toBe(false); // handed back at once, not after the lease
    expect(readdirSync(join(dir, 'processing'))).toEqual(['big.csv']);
    expect(existsSync(join(dir, 'done'))).toBe(true);
    expect(readdirSync(join(dir, 'done'))).toEqual([]);

    expect(await watcher().scanOnce()).toBe(1);
    expect(report('RESUME-STOP', 'done', 'big.csv')).toMatchObject({ outcome: 'done', lines: 10_001, accepted: 9_900, duplicates: 0, rejectedCount: 100 });
    // Every bad line once, in order: nothing read twice, nothing skipped.
    expect(report('RESUME-STOP', 'done', 'big.csv').rejected.map((r: { line: number }) => r.line)).toEqual(bad);
    expect(await events('RESUME-STOP')).toBe(9_900);
    expect(readdirSync(join(dir, 'processing'))).toEqual([]);
    expect((await progress('RESUME-STOP'))[0].state).toBe('done');
  });

  it('a file whose worker died is left alone while its lease runs, then resumed after its last committed line with its counts', async () => {
    const dir = await site('RESUME-DEAD');
    const path = join(dir, 'processing', 'dead.csv');
    writeFileSync(
      path,
      'eventId,issuerId,cardId,type,occurredAt\n' +
        Array.from({ length: 10 }, (_, i) => `dead-${kind}-${i},BANK000001,dead-card-${i},CARD_SHIPPED,2026-05-01T10:00:00Z`).join('\n') +
        '\n',
    );
    // What a worker that died after its first chunk (the header and 4 events, one of them refused) left.
    const st = statSync(path);
    const fileKey = `dead.csv|${st.size}|${Math.trunc(st.mtimeMs)}`;
    await sql`insert into inbox_files (site_id, file_key, name, lines_done, accepted, rejected_count, rejected, lease_until)
      values ('RESUME-DEAD', ${fileKey}, 'dead.csv', 5, 3, 1, ${JSON.stringify([{ line: 4, errorCode: 'FIELD_INVALID_VALUE', error: 'left by the first worker' }])}::jsonb, now() + interval '1 hour')`.execute(t.store.db);

    expect(await watcher().scanOnce()).toBe(0);
    expect(readdirSync(join(dir, 'processing'))).toEqual(['dead.csv']);
    expect(await events('RESUME-DEAD')).toBe(0);

    await sql`update inbox_files set lease_until = now() - interval '1 second' where site_id = 'RESUME-DEAD'`.execute(t.store.db);
    expect(await watcher().scanOnce()).toBe(1);
    // Lines 2-5 were the first worker's: only lines 6-11 are read now (6 events), and the counts go on.
    expect(await events('RESUME-DEAD')).toBe(6);
    expect(report('RESUME-DEAD', 'done', 'dead.csv')).toMatchObject({
      outcome: 'done',
      lines: 11,
      accepted: 9,
      duplicates: 0,
      rejectedCount: 1,
      rejected: [{ line: 4, errorCode: 'FIELD_INVALID_VALUE', error: 'left by the first worker' }],
    });
  });

  it('a file with nothing usable goes to rejected/, and a name already in done/ gets a time-stamped one', async () => {
    const dir = await site('RESUME-NAMES');
    const header = 'eventId,issuerId,cardId,type,occurredAt\n';
    writeFileSync(join(dir, 'processing', 'junk.csv'), `${header}j-1,BANK000001,card 1,CARD_SHIPPED,not-a-date\n`);
    expect(await watcher().scanOnce()).toBe(1);
    expect(report('RESUME-NAMES', 'rejected', 'junk.csv')).toMatchObject({ outcome: 'rejected', accepted: 0, rejectedCount: 1, error: 'no usable event in the file' });

    for (const round of [1, 2]) {
      const path = join(dir, 'processing', 'daily.csv');
      writeFileSync(path, `${header}daily-${kind}-${round},BANK000001,daily-${round},CARD_SHIPPED,2026-05-01T10:00:00Z\n`);
      utimesSync(path, new Date(), new Date(Date.now() - round * 60_000)); // a new file: another key
      expect(await watcher().scanOnce()).toBe(1);
    }
    const done = readdirSync(join(dir, 'done')).sort();
    expect(done).toHaveLength(4);
    expect(done).toContain('daily.csv');
    expect(done).toContain('daily.csv.report.json');
    const renamed = done.find((n) => n !== 'daily.csv' && !n.endsWith('.report.json')) as string;
    expect(renamed).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-daily\.csv$/);
    expect(JSON.parse(readFileSync(join(dir, 'done', `${renamed}.report.json`), 'utf8'))).toMatchObject({ file: 'daily.csv', accepted: 1 });
  });

  it('takes a dropped file only once it has stood still over two scans, and never a temporary or hidden name', async () => {
    const dir = await site('RESUME-CLAIM');
    const line = (id: string) => `eventId,issuerId,cardId,type,occurredAt\n${id}-${kind},BANK000001,${id}-card,CARD_SHIPPED,2026-05-01T10:00:00Z\n`;
    for (const name of ['upload.csv.tmp', 'upload.csv.part', '.hidden.csv', 'old.report.json']) writeFileSync(join(dir, name), line(name.replace(/\W/g, '')));
    writeFileSync(join(dir, 'ready.csv'), line('ready'));
    const w = watcher();
    expect(await w.scanOnce()).toBe(0); // first sight: maybe still being written
    expect(readdirSync(join(dir, 'processing'))).toEqual([]);
    expect(await w.scanOnce()).toBe(1);
    expect(report('RESUME-CLAIM', 'done', 'ready.csv')).toMatchObject({ outcome: 'done', accepted: 1 });
    expect(await w.scanOnce()).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['.hidden.csv', 'done', 'old.report.json', 'processing', 'rejected', 'upload.csv.part', 'upload.csv.tmp']);
  });
});
