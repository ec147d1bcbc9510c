import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InboxWatcher } from '../src/sites/inbox.ts';
import { type TestApp, testApp } from './helpers/app.ts';
import { capturingLogger, inboxOf, readReport, registerSite, siteEventIds } from './helpers/inbox.ts';
import { STORE_KINDS } from './helpers/stores.ts';

/**
 * What a production site (or anyone who can write into its inbox) might drop there besides a batch
 * file: links that point the hub at another site's inbox or outside its data folder, and lines whose
 * values the store would refuse. Driven with scanOnce(), no timers.
 */

const HEADER = 'eventId,issuerId,cardId,type,occurredAt,reason\n';
const line = (id: string, extra = '') => `${id},BANK000001,${id}-card,CARD_SHIPPED,2026-05-01T10:00:00Z,${extra}\n`;

describe.each(STORE_KINDS)('inbox against hostile folders and lines on %s', (kind) => {
  let t: TestApp;
  let dataDir: string;
  let outside: string;
  const warnings: { msg: string; path?: string; reason?: string }[] = [];
  const errors: { msg: string }[] = [];
  const watcher = () => {
    const log = capturingLogger('warn', (entry) => (entry.level >= 50 ? errors : warnings).push(entry));
    return new InboxWatcher({ ...t.context, log }, { dataDir, scanIntervalMs: 50, settleMs: 0, leaseMs: 60_000, chunkLines: 100 });
  };
  const inbox = (site: string) => inboxOf(dataDir, site);
  const events = (site: string) => siteEventIds(t.store.db, site);
  const report = (site: string, folder: 'done' | 'rejected', name: string) => readReport(dataDir, site, folder, name);
  /** Registers the site; its inbox folder is left for the test (or the first scan) to make. */
  const site = (id: string) => registerSite(t.store.db, id);
  /** Two scans: the first sees a dropped file, the second claims and reads it. */
  const twoScans = async (w = watcher()) => {
    await w.scanOnce();
    await w.scanOnce();
    return w;
  };
  const refused = (path: string) => warnings.filter((w) => w.path === path);

  beforeAll(async () => {
    t = await testApp(kind);
    dataDir = mkdtempSync(join(tmpdir(), 'trackhub-inbox-hostile-'));
    outside = mkdtempSync(join(tmpdir(), 'trackhub-inbox-outside-'));
    mkdirSync(join(dataDir, 'inbox'));
    // A store that refuses what validation let through: a data exception (22023) for "poison" cards,
    // and an error that is no refusal of a value (P0001) for every event of site THROW-A.
    await sql`create function hostile_site_events() returns trigger language plpgsql as $$
      begin
        if new.card_id like 'poison%' then raise exception 'poisoned value' using errcode = '22023'; end if;
        if new.site_id = 'THROW-A' then raise exception 'site A is broken'; end if;
        return new;
      end $$`.execute(t.store.db);
    await sql`create trigger hostile_site_events before insert on site_events for each row execute function hostile_site_events()`.execute(t.store.db);
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  describe('links', () => {
    it("a done/ that links to another site's inbox: the site is left alone, nothing is read twice or moved", async () => {
      await site('LINK-A');
      await site('LINK-B');
      mkdirSync(join(inbox('LINK-A'), 'processing'), { recursive: true });
      mkdirSync(join(inbox('LINK-A'), 'rejected'));
      mkdirSync(inbox('LINK-B'));
      symlinkSync(inbox('LINK-B'), join(inbox('LINK-A'), 'done'));
      writeFileSync(join(inbox('LINK-A'), 'a.csv'), HEADER + line(`la-${kind}`));
      writeFileSync(join(inbox('LINK-B'), 'b.csv'), HEADER + line(`lb-${kind}`));
      await twoScans();
      await twoScans();
      expect(await events('LINK-A')).toEqual([]);
      // B's own file is read (a refused site does not stop the others), A's is not read as B's.
      expect(await events('LINK-B')).toEqual([`lb-${kind}`]);
      expect(readdirSync(inbox('LINK-A')).sort()).toEqual(['a.csv', 'done', 'processing', 'rejected']);
      expect(readdirSync(join(inbox('LINK-B'), 'done')).sort()).toEqual(['b.csv', 'b.csv.report.json']);
      expect(refused(join(inbox('LINK-A'), 'done'))[0]).toMatchObject({ reason: expect.stringMatching(/not a real directory/) });
    });

    it('a done/ that links outside the data folder: nothing is written there', async () => {
      await site('LINK-OUT');
      const target = mkdtempSync(join(outside, 'done-'));
      mkdirSync(join(inbox('LINK-OUT'), 'processing'), { recursive: true });
      symlinkSync(target, join(inbox('LINK-OUT'), 'done'));
      writeFileSync(join(inbox('LINK-OUT'), 'out.csv'), HEADER + line(`lo-${kind}`));
      await twoScans();
      expect(readdirSync(target)).toEqual([]);
      expect(await events('LINK-OUT')).toEqual([]);
      expect(readdirSync(inbox('LINK-OUT'))).toContain('out.csv');
      expect(refused(join(inbox('LINK-OUT'), 'done'))).toHaveLength(1);
    });

    it('a site folder that is a link: not followed, no folders made behind it, its files not read', async () => {
      await site('LINK-SITE');
      const target = mkdtempSync(join(outside, 'site-'));
      writeFileSync(join(target, 's.csv'), HEADER + line(`ls-${kind}`));
      symlinkSync(target, inbox('LINK-SITE'));
      await twoScans();
      expect(readdirSync(target)).toEqual(['s.csv']);
      expect(await events('LINK-SITE')).toEqual([]);
      expect(refused(inbox('LINK-SITE'))[0]).toMatchObject({ reason: expect.stringMatching(/not a real directory/) });
    });

    it('a file that is a link, in the inbox or in processing/, is neither read nor moved', async () => {
      await site('LINK-FILE');
      const target = join(outside, `linked-${kind}.csv`);
      writeFileSync(target, HEADER + line(`lf-${kind}`));
      mkdirSync(join(inbox('LINK-FILE'), 'processing'), { recursive: true });
      symlinkSync(target, join(inbox('LINK-FILE'), 'linked.csv'));
      symlinkSync(target, join(inbox('LINK-FILE'), 'processing', 'linked.csv'));
      await twoScans();
      expect(await events('LINK-FILE')).toEqual([]);
      expect(readdirSync(inbox('LINK-FILE')).sort()).toEqual(['done', 'linked.csv', 'processing', 'rejected']);
      expect(readdirSync(join(inbox('LINK-FILE'), 'processing'))).toEqual(['linked.csv']);
      expect(readdirSync(join(inbox('LINK-FILE'), 'done'))).toEqual([]);
      expect(refused(join(inbox('LINK-FILE'), 'linked.csv'))[0]).toMatchObject({ reason: expect.stringMatching(/not a regular file/) });
      expect(refused(join(inbox('LINK-FILE'), 'processing', 'linked.csv'))[0]).toMatchObject({ reason: expect.stringMatching(/not a regular file/) });
      // Logged once while it stays, not at every scan.
      expect(refused(join(inbox('LINK-FILE'), 'linked.csv'))).toHaveLength(1);
    });

    it('a file whose name is not UTF-8 is refused once and left in place, and the good file beside it is read', async () => {
      await site('BAD-NAME');
      mkdirSync(inbox('BAD-NAME'), { recursive: true });
      const folder = Buffer.from(inbox('BAD-NAME'));
      writeFileSync(Buffer.concat([folder, Buffer.from('/bad'), Buffer.from([0xff, 0xfe]), Buffer.from('.csv')]), HEADER + line(`bn-bad-${kind}`));
      writeFileSync(join(inbox('BAD-NAME'), 'good.csv'), HEADER + line(`bn-good-${kind}`));
      const w = await twoScans();
      await w.scanOnce();
      expect(await events('BAD-NAME')).toEqual([`bn-good-${kind}`]);
      const shown = join(inbox('BAD-NAME'), 'bad\ufffd\ufffd.csv');
      expect(refused(shown)).toHaveLength(1);
      expect(refused(shown)[0]).toMatchObject({ reason: 'its name is not UTF-8: rename it to be read' });
      expect(readdirSync(folder).filter((n) => n.length > 0 && n.includes('bad'))).toHaveLength(1);
    });

    it('a file hard-linked to one outside is neither read, moved nor made private (that would change the outside file)', async () => {
      await site('LINK-HARD');
      const target = join(outside, `hard-${kind}.csv`);
      writeFileSync(target, HEADER + line(`lh-${kind}`), { mode: 0o644 });
      mkdirSync(join(inbox('LINK-HARD'), 'processing'), { recursive: true });
      linkSync(target, join(inbox('LINK-HARD'), 'hard.csv'));
      linkSync(target, join(inbox('LINK-HARD'), 'processing', 'inside.csv'));
      await twoScans();
      expect(await events('LINK-HARD')).toEqual([]);
      expect(readdirSync(inbox('LINK-HARD')).sort()).toEqual(['done', 'hard.csv', 'processing', 'rejected']);
      expect(readdirSync(join(inbox('LINK-HARD'), 'processing'))).toEqual(['inside.csv']);
      expect((statSync(target).mode & 0o777).toString(8)).toBe('644');
      expect(refused(join(inbox('LINK-HARD'), 'hard.csv'))[0]).toMatchObject({ reason: expect.stringMatching(/more than one link/) });
      expect(refused(join(inbox('LINK-HARD'), 'processing', 'inside.csv'))[0]).toMatchObject({ reason: expect.stringMatching(/more than one link/) });
    });
  });

  describe('values', () => {
    it('a CSV line with a time PostgreSQL cannot store is rejected alone; the good lines are stored and the file is done', async () => {
      await site('VAL-TIME');
      mkdirSync(inbox('VAL-TIME'));
      writeFileSync(
        join(inbox('VAL-TIME'), 'times.csv'),
        HEADER +
          line(`vt1-${kind}`) +
          `vt2-${kind},BANK000001,vt2-card,CARD_SHIPPED,0000-01-01T00:00:00+23:59,\n` +
          `vt3-${kind},BANK000001,vt3-card,CARD_SHIPPED,1999-12-31T23:59:59Z,\n` +
          line(`vt4-${kind}`),
      );
      await twoScans();
      expect(await events('VAL-TIME')).toEqual([`vt1-${kind}`, `vt4-${kind}`]);
      expect(report('VAL-TIME', 'done', 'times.csv')).toMatchObject({
        outcome: 'done',
        accepted: 2,
        rejectedCount: 2,
        rejected: [
          { line: 3, errorCode: 'FIELD_INVALID_VALUE', error: expect.stringMatching(/^occurredAt: /) },
          { line: 4, errorCode: 'FIELD_INVALID_VALUE', error: expect.stringMatching(/^occurredAt: /) },
        ],
      });
    });

    it('a JSON Lines reason with a lone surrogate or a NUL is rejected alone', async () => {
      await site('VAL-TEXT');
      mkdirSync(inbox('VAL-TEXT'));
      const ev = (id: string, reason: string) =>
        `{"eventId":"${id}-${kind}","issuerId":"BANK000001","cardId":"${id}-card","type":"CARD_RETURNED","occurredAt":"2026-05-01T10:00:00Z","reason":"${reason}"}\n`;
      writeFileSync(join(inbox('VAL-TEXT'), 'text.jsonl'), ev('tx1', 'moved away') + ev('tx2', 'half \\ud800 pair') + ev('tx3', 'nul \\u0000 here') + ev('tx4', 'ok \\ud83d\\udc4d'));
      await twoScans();
      expect(await events('VAL-TEXT')).toEqual([`tx1-${kind}`, `tx4-${kind}`]);
      expect(report('VAL-TEXT', 'done', 'text.jsonl')).toMatchObject({
        outcome: 'done',
        accepted: 2,
        rejectedCount: 2,
        rejected: [
          { line: 2, errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(/^reason: /) },
          { line: 3, errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(/^reason: /) },
        ],
      });
    });

    it('a JSON Lines key holding a NUL or a lone surrogate (echoed in its rejection) is rejected alone, and the file finishes', async () => {
      await site('VAL-KEYS');
      mkdirSync(inbox('VAL-KEYS'));
      const good = (id: string) => `{"eventId":"${id}-${kind}","issuerId":"BANK000001","cardId":"${id}-card","type":"CARD_SHIPPED","occurredAt":"2026-05-01T10:00:00Z"}\n`;
      writeFileSync(join(inbox('VAL-KEYS'), 'keys.jsonl'), `${good('vk1')}{"a\\u0000b":1}\n{"\\ud800":1}\n${good('vk4')}`);
      await twoScans();
      expect(await events('VAL-KEYS')).toEqual([`vk1-${kind}`, `vk4-${kind}`]);
      expect(report('VAL-KEYS', 'done', 'keys.jsonl')).toMatchObject({ outcome: 'done', accepted: 2, rejectedCount: 2 });
    });

    it('a line the store still refuses is rejected alone with its reason; the rest of its chunk is stored', async () => {
      await site('VAL-STORE');
      mkdirSync(inbox('VAL-STORE'));
      writeFileSync(join(inbox('VAL-STORE'), 'poison.csv'), HEADER + line(`vs1-${kind}`) + line(`poison-${kind}`) + line(`vs3-${kind}`) + line(`vs1-${kind}`));
      await twoScans();
      expect(await events('VAL-STORE')).toEqual([`vs1-${kind}`, `vs3-${kind}`]);
      expect(report('VAL-STORE', 'done', 'poison.csv')).toMatchObject({
        outcome: 'done',
        lines: 5,
        accepted: 2,
        duplicates: 1,
        rejectedCount: 1,
        rejected: [{ line: 3, errorCode: 'FIELD_INVALID_VALUE', error: 'event: the store refused a value of this event (SQLSTATE 22023)' }],
      });
      expect(readdirSync(join(inbox('VAL-STORE'), 'processing'))).toEqual([]);
    });

    it("a file that fails in site A does not stop site B's file in the same round", async () => {
      await site('THROW-A');
      await site('THROW-B');
      for (const s of ['THROW-A', 'THROW-B']) mkdirSync(join(inbox(s), 'processing'), { recursive: true });
      writeFileSync(join(inbox('THROW-A'), 'processing', 'a.csv'), HEADER + line(`ta-${kind}`));
      writeFileSync(join(inbox('THROW-B'), 'processing', 'b.csv'), HEADER + line(`tb-${kind}`));
      errors.length = 0;
      expect(await watcher().scanOnce()).toBe(1);
      expect(await events('THROW-B')).toEqual([`tb-${kind}`]);
      expect(report('THROW-B', 'done', 'b.csv')).toMatchObject({ outcome: 'done', accepted: 1 });
      // A's file waits in processing/ for a later scan (store trouble is retried, not a verdict on the file).
      expect(readdirSync(join(inbox('THROW-A'), 'processing'))).toEqual(['a.csv']);
      expect(existsSync(join(inbox('THROW-A'), 'done', 'a.csv'))).toBe(false);
      expect(errors).toContainEqual(expect.objectContaining({ msg: 'inbox file failed; it stays in processing/ and is tried again later' }));
    });
  });
});
