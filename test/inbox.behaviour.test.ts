import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { InboxWatcher } from '../src/sites/inbox.ts';
import { type TestApp, testApp } from './helpers/app.ts';
import { capturingLogger, inboxOf, type LogEntry, readReport, registerSite, siteEventIds } from './helpers/inbox.ts';
import { waitFor } from './helpers/processes.ts';
import { STORE_KINDS, tempDir } from './helpers/stores.ts';

/**
 * What an operator and a production site see of the inbox, rule by rule (docs/contract.md §4): which
 * names it takes, when it takes a file, what it reports and logs, how its loop starts and stops, and
 * what it does when the file system fails under it. Driven with scanOnce(), or start()/stop() with an
 * interval long enough that each start() is one round, so each test says when the inbox looks.
 *
 * Failures the machine cannot be made to produce on cue (a full disk, no descriptors left, processes/
 * on another file system, another worker taking a file between two calls) are injected at the
 * node:fs/promises calls of the inbox, through `fsHooks`; everything else is the real file system.
 */

type Hook = (real: (...args: never[]) => Promise<unknown>, ...args: never[]) => Promise<unknown>;
const fsHooks = vi.hoisted(() => ({}) as { mkdir?: Hook; open?: Hook; rename?: Hook });
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>();
  const hooked =
    (name: 'mkdir' | 'open' | 'rename') =>
    (...args: never[]) => {
      const fn = real[name] as (...a: never[]) => Promise<unknown>;
      const hook = fsHooks[name];
      return hook ? hook(fn, ...args) : fn(...args);
    };
  const mkdir = hooked('mkdir');
  const open = hooked('open');
  const rename = hooked('rename');
  return { ...real, default: { ...real, mkdir, open, rename }, mkdir, open, rename };
});

/** An error as node:fs reports it. */
const fsError = (code: string, syscall: string, path: string) => Object.assign(new Error(`${code}: injected, ${syscall} '${path}'`), { code, syscall, path });

const kind = STORE_KINDS[0];
const HEADER = 'eventId,issuerId,cardId,type,occurredAt,reason\n';
const line = (id: string, extra = '') => `${id},BANK000001,${id}-card,CARD_SHIPPED,2026-05-01T10:00:00Z,${extra}\n`;
const csv = (...ids: string[]) => HEADER + ids.map((id) => line(id)).join('');

describe(`inbox behaviour on ${kind}`, () => {
  let t: TestApp;
  let dataDir: string;
  let outside: string;
  const logs: LogEntry[] = [];
  /** Called with each log line as it is written, inside the inbox's own call: a test's hook into a scan. */
  let onLog: ((e: LogEntry) => void) | undefined;
  const log = capturingLogger('info', (e) => {
    logs.push(e);
    onLog?.(e);
  });
  const watcher = (o: { dataDir?: string; scanIntervalMs?: number; settleMs?: number; leaseMs?: number; now?: () => Date } = {}) =>
    new InboxWatcher({ ...t.context, log, ...(o.now ? { now: o.now } : {}) }, { dataDir, scanIntervalMs: 60_000, settleMs: 0, leaseMs: 60_000, chunkLines: 100, ...o });
  const inbox = (site: string) => inboxOf(dataDir, site);
  const report = (site: string, folder: 'done' | 'rejected', name: string) => readReport(dataDir, site, folder, name);
  const site = (id: string) => registerSite(t.store.db, id);
  /** Registers the site and makes its inbox with processing/. */
  const siteWithFolders = async (id: string) => {
    await site(id);
    mkdirSync(join(inbox(id), 'processing'), { recursive: true });
    return inbox(id);
  };
  const events = (site: string) => siteEventIds(t.store.db, site);
  const logged = (msg: string) => logs.filter((e) => e.msg === msg);
  const warnings = () => logs.filter((e) => e.level === 40);
  const errors = () => logs.filter((e) => e.level >= 50);
  /** What this process holds open in the data folder (Linux names each descriptor's target). */
  const openInInbox = () =>
    readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        return target.startsWith(dataDir) ? [target] : [];
      } catch {
        return [];
      }
    });
  /** A file time a whole second in the past, so that its mtimeMs is an exact integer. */
  /** The next opens of this site's inbox folder fail with `code` (other paths open as usual). */
  const siteFolderOpenFails = (siteId: string, code: string) => {
    fsHooks.open = async (real, ...args) => {
      const [path] = args as unknown as [string];
      if (path === inbox(siteId)) throw fsError(code, 'open', path);
      return real(...args);
    };
  };
  const wholeSecondsAgo = (s: number) => new Date((Math.floor(Date.now() / 1000) - s) * 1000);

  beforeAll(async () => {
    t = await testApp(kind);
    dataDir = tempDir('trackhub-inbox-behaviour');
    outside = mkdtempSync(join(tmpdir(), 'trackhub-inbox-behaviour-outside-'));
    // The store refuses a value validation let through (a data exception) for "poison" cards.
    await sql`create function behaviour_site_events() returns trigger language plpgsql as $$
      begin
        if new.card_id like 'poison%' then raise exception 'poisoned value' using errcode = '22023'; end if;
        return new;
      end $$`.execute(t.store.db);
    await sql`create trigger behaviour_site_events before insert on site_events for each row execute function behaviour_site_events()`.execute(t.store.db);
  });
  beforeEach(() => {
    logs.length = 0;
  });
  afterEach(async () => {
    onLog = undefined;
    for (const k of Object.keys(fsHooks)) delete fsHooks[k as keyof typeof fsHooks];
    vi.restoreAllMocks();
    // Each test scans only its own sites.
    await t.store.db.deleteFrom('production_sites').execute();
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  describe('names and folders', () => {
    it('ignores only temporary endings, dotfiles and reports: the same words inside a name are read', async () => {
      const dir = await siteWithFolders('NAMES');
      const taken = ['orders.tmp.csv', 'day.part2.csv', 'weekly.report.jsonl', 'upload.crdownload.csv'];
      const ignored = ['upload.csv.TMP', 'upload.csv.partial', 'a.csv.crdownload', '.hidden.csv', 'old.csv.report.json'];
      for (const name of [...taken, ...ignored]) {
        const id = `names-${name.replace(/\W/g, '')}`;
        writeFileSync(join(dir, name), name.endsWith('.jsonl') ? `{"eventId":"${id}","issuerId":"BANK000001","cardId":"${id}-card","type":"CARD_SHIPPED","occurredAt":"2026-05-01T10:00:00Z"}\n` : csv(id));
      }
      const w = watcher();
      await w.scanOnce();
      expect(await w.scanOnce()).toBe(taken.length);
      for (const name of taken) expect(report('NAMES', 'done', name)).toMatchObject({ outcome: 'done', accepted: 1 });
      expect(readdirSync(dir).sort()).toEqual([...ignored, 'done', 'processing', 'rejected'].sort());
    });

    it('makes a registered site its inbox with processing/, done/ and rejected/, private to the hub (0700)', async () => {
      await site('FOLDERS');
      expect(existsSync(inbox('FOLDERS'))).toBe(false);
      await watcher().scanOnce();
      for (const d of ['', 'processing', 'done', 'rejected']) expect((statSync(join(inbox('FOLDERS'), d)).mode & 0o777).toString(8)).toBe('700');
    });

    it('skips a site id that is no folder name (registered before ids were checked): nothing is made or read beside inbox/', async () => {
      await site('..');
      writeFileSync(join(dataDir, 'beside.csv'), csv('beside'));
      const w = watcher();
      await w.scanOnce();
      await w.scanOnce();
      expect(readdirSync(dataDir).sort()).toEqual(['beside.csv', 'inbox']);
      expect(await events('..')).toEqual([]);
      unlinkSync(join(dataDir, 'beside.csv'));
    });

    it('leaves no descriptor open in the inbox after a scan (folders, files read, reports written)', async () => {
      const dir = await siteWithFolders('FDS');
      writeFileSync(join(dir, 'processing', 'good.csv'), csv('fds-good'));
      writeFileSync(join(dir, 'processing', 'junk.csv'), `${HEADER}fds-junk,BANK000001,junk card,CARD_SHIPPED,not-a-date,\n`);
      expect(await watcher().scanOnce()).toBe(2);
      expect(readdirSync(join(dir, 'rejected'))).toContain('junk.csv');
      expect(openInInbox()).toEqual([]);
    });
  });

  describe('when a file is taken', () => {
    it('forgets a file removed before it was claimed: put back, it must stand still over two scans again', async () => {
      const dir = await siteWithFolders('FORGET');
      const path = join(dir, 'again.csv');
      const mtime = wholeSecondsAgo(60);
      const drop = () => {
        writeFileSync(path, csv('forget-1'));
        utimesSync(path, mtime, mtime); // the same size and time each time (a copy that keeps the time)
      };
      const w = watcher();
      drop();
      await w.scanOnce(); // seen once
      unlinkSync(path);
      await w.scanOnce(); // gone: forgotten
      drop();
      expect(await w.scanOnce()).toBe(0); // first sight again
      expect(readdirSync(dir)).toContain('again.csv');
      expect(await w.scanOnce()).toBe(1);
      expect(report('FORGET', 'done', 'again.csv')).toMatchObject({ accepted: 1 });
    });

    it('does not take a file whose size or time changed between two scans, even when the other stayed', async () => {
      const dir = await siteWithFolders('MOVING');
      const mtime = wholeSecondsAgo(60);
      const grown = join(dir, 'grown.csv');
      const touched = join(dir, 'touched.csv');
      writeFileSync(grown, csv('moving-g1'));
      writeFileSync(touched, csv('moving-t1'));
      for (const p of [grown, touched]) utimesSync(p, mtime, mtime);
      const w = watcher();
      await w.scanOnce();
      writeFileSync(grown, csv('moving-g1', 'moving-g2'));
      utimesSync(grown, mtime, mtime); // grew, same time
      writeFileSync(touched, csv('moving-t2')); // same size, new time
      expect(await w.scanOnce()).toBe(0);
      expect(readdirSync(dir).sort()).toEqual(['done', 'grown.csv', 'processing', 'rejected', 'touched.csv']);
      expect(await w.scanOnce()).toBe(2);
      expect(await events('MOVING')).toEqual(['moving-g1', 'moving-g2', 'moving-t2']);
    });

    it('takes a still file only once it has not been modified for settleMs, and at exactly settleMs', async () => {
      const dir = await siteWithFolders('SETTLE');
      const path = join(dir, 'slow.csv');
      writeFileSync(path, csv('settle-1'));
      const mtime = wholeSecondsAgo(30);
      utimesSync(path, mtime, mtime);
      const w = watcher({ settleMs: 60_000 });
      await w.scanOnce();
      expect(await w.scanOnce()).toBe(0); // still over two scans, but modified 30 s ago: maybe only paused
      expect(readdirSync(dir)).toContain('slow.csv');
      vi.spyOn(Date, 'now').mockReturnValue(mtime.getTime() + 60_000);
      expect(await w.scanOnce()).toBe(1);
      expect(report('SETTLE', 'done', 'slow.csv')).toMatchObject({ accepted: 1 });
    });

    it('leaves a dropped file in place while a file of its name is still in processing/: nothing is overwritten', async () => {
      const dir = await siteWithFolders('WAITS');
      const held = join(dir, 'processing', 'daily.csv');
      writeFileSync(held, csv('waits-first'));
      const st = statSync(held);
      // A worker elsewhere holds the first file's lease.
      await sql`insert into inbox_files (site_id, file_key, name, lease_until)
        values ('WAITS', ${`daily.csv|${st.size}|${Math.trunc(st.mtimeMs)}`}, 'daily.csv', now() + interval '1 hour')`.execute(t.store.db);
      writeFileSync(join(dir, 'daily.csv'), csv('waits-second'));
      const w = watcher();
      await w.scanOnce();
      expect(await w.scanOnce()).toBe(0);
      expect(readFileSync(held, 'utf8')).toBe(csv('waits-first'));
      expect(readdirSync(dir)).toContain('daily.csv');

      await sql`update inbox_files set lease_until = now() - interval '1 second' where site_id = 'WAITS'`.execute(t.store.db);
      expect(await w.scanOnce()).toBe(1); // the first one now; the second waited for its name
      expect(await w.scanOnce()).toBe(1);
      expect(await events('WAITS')).toEqual(['waits-first', 'waits-second']);
    });

    it('quietly lets a file go that another worker claimed first, and reads it from processing/ in the same scan', async () => {
      const dir = await siteWithFolders('RACED');
      writeFileSync(join(dir, 'raced.csv'), csv('raced-1'));
      const w = watcher();
      await w.scanOnce();
      let raced = false;
      fsHooks.rename = async (real, ...args) => {
        const [from, to] = args as unknown as [string, string];
        if (!raced && basename(to) === 'raced.csv') {
          raced = true;
          await real(...args); // the other worker's rename wins; ours then finds nothing (ENOENT)
        }
        return real(...([from, to] as never[]));
      };
      expect(await w.scanOnce()).toBe(1);
      expect(raced).toBe(true);
      expect(errors()).toEqual([]);
      expect(report('RACED', 'done', 'raced.csv')).toMatchObject({ accepted: 1 });
    });

    it('logs a claim that fails otherwise (processing/ on another file system) with its site and cause, and leaves the file', async () => {
      const dir = await siteWithFolders('XDEV');
      writeFileSync(join(dir, 'xdev.csv'), csv('xdev-1'));
      const w = watcher();
      await w.scanOnce();
      fsHooks.rename = async (real, ...args) => {
        const [from, to] = args as unknown as [string, string];
        if (basename(to) === 'xdev.csv') throw fsError('EXDEV', 'rename', from);
        return real(...args);
      };
      expect(await w.scanOnce()).toBe(0);
      expect(errors()).toEqual([
        expect.objectContaining({ msg: 'inbox scan of a site failed; the other sites go on', siteId: 'XDEV', err: expect.objectContaining({ code: 'EXDEV' }) }),
      ]);
      expect(readdirSync(dir)).toContain('xdev.csv');
    });
  });

  describe('files in processing/', () => {
    it('skips quietly, and does not count, a file another worker finished between the listing and its open', async () => {
      const dir = await siteWithFolders('GONE');
      writeFileSync(join(dir, 'processing', 'a.csv'), csv('gone-a'));
      writeFileSync(join(dir, 'processing', 'b.csv'), csv('gone-b'));
      onLog = (e) => {
        if (e.msg === 'inbox file processed' && e.file === 'a.csv') unlinkSync(join(dir, 'processing', 'b.csv'));
      };
      expect(await watcher().scanOnce()).toBe(1);
      expect(warnings()).toEqual([]);
      expect(errors()).toEqual([]);
      expect(readdirSync(join(dir, 'done')).sort()).toEqual(['a.csv', 'a.csv.report.json']);
    });

    it('refuses a FIFO (a special file), leaves it in place, closed, and logs it once while it stays', async () => {
      const dir = await siteWithFolders('FIFO');
      const path = join(dir, 'processing', 'pipe.csv');
      execFileSync('mkfifo', [path]);
      const w = watcher();
      expect(await w.scanOnce()).toBe(0);
      expect(await w.scanOnce()).toBe(0);
      expect(warnings()).toEqual([
        expect.objectContaining({ msg: 'inbox: refused, left in place and not followed', path, reason: 'not a regular file (a special file)' }),
      ]);
      expect(readdirSync(join(dir, 'processing'))).toEqual(['pipe.csv']);
      expect(readdirSync(join(dir, 'rejected'))).toEqual([]);
      expect(openInInbox()).toEqual([]); // the FIFO opened to be checked is closed again
    });

    it('logs a file it cannot open (a socket) as failed, with its site, name and cause, and leaves it in processing/', async () => {
      const dir = await siteWithFolders('SOCKET');
      const path = join(dir, 'processing', 'sock.csv');
      const server: Server = createServer();
      await new Promise<void>((r) => server.listen(path, r));
      try {
        expect(await watcher().scanOnce()).toBe(0);
        expect(errors()).toEqual([
          expect.objectContaining({
            msg: 'inbox file failed; it stays in processing/ and is tried again later',
            siteId: 'SOCKET',
            file: 'sock.csv',
            err: expect.objectContaining({ code: 'ENXIO' }),
          }),
        ]);
        expect(readdirSync(join(dir, 'processing'))).toEqual(['sock.csv']);
      } finally {
        await new Promise((r) => server.close(r));
      }
    });

    it('logs a resumed file with the line it resumes from, and a new file without', async () => {
      const dir = await siteWithFolders('RESUMED');
      const path = join(dir, 'processing', 'half.csv');
      writeFileSync(path, csv('resumed-1', 'resumed-2', 'resumed-3'));
      const st = statSync(path);
      // A worker that died after lines 1-2 (the header and one event).
      await sql`insert into inbox_files (site_id, file_key, name, lines_done, accepted, lease_until)
        values ('RESUMED', ${`half.csv|${st.size}|${Math.trunc(st.mtimeMs)}`}, 'half.csv', 2, 1, now() - interval '1 second')`.execute(t.store.db);
      writeFileSync(join(dir, 'processing', 'new.csv'), csv('resumed-new'));
      expect(await watcher().scanOnce()).toBe(2);
      expect(logged('inbox file resumed')).toEqual([expect.objectContaining({ siteId: 'RESUMED', file: 'half.csv', fromLine: 3 })]);
      expect(await events('RESUMED')).toEqual(['resumed-2', 'resumed-3', 'resumed-new']);
    });

    it('swapping done/ for a link while a file is read changes nothing: the file and its report go to the folder opened', async () => {
      const dir = await siteWithFolders('SWAP');
      const target = mkdtempSync(join(outside, 'swap-'));
      writeFileSync(join(dir, 'swap.csv'), csv('swap-1'));
      const w = watcher();
      await w.scanOnce();
      let swapped = false;
      fsHooks.rename = async (real, ...args) => {
        const [, to] = args as unknown as [string, string];
        if (!swapped && basename(to) === 'swap.csv') {
          swapped = true; // as the file is claimed, done/ is moved away and a link put in its place
          renameSync(join(dir, 'done'), join(dir, 'done-opened'));
          symlinkSync(target, join(dir, 'done'));
        }
        return real(...args);
      };
      expect(await w.scanOnce()).toBe(1);
      expect(swapped).toBe(true);
      expect(readdirSync(target)).toEqual([]);
      expect(readdirSync(join(dir, 'done-opened')).sort()).toEqual(['swap.csv', 'swap.csv.report.json']);
    });
  });

  describe('reports and what is logged', () => {
    it('lists the lines the store refused and those validation refused in one chunk in line order', async () => {
      const dir = await siteWithFolders('ORDER');
      writeFileSync(
        join(dir, 'processing', 'mixed.csv'),
        `${HEADER}${line('poison-order')}order-bad,BANK000001,order-bad-card,CARD_SHIPPED,not-a-date,\n${line('order-good')}${line('poison-order2')}`,
      );
      await watcher().scanOnce();
      const r = report('ORDER', 'done', 'mixed.csv');
      expect(r).toMatchObject({ accepted: 1, rejectedCount: 3 });
      expect(r.rejected.map((x: { line: number }) => x.line)).toEqual([2, 3, 5]);
    });

    it('rejects a file it cannot parse, with the reason in its report', async () => {
      const dir = await siteWithFolders('UNPARSED');
      writeFileSync(join(dir, 'processing', 'wrong.csv'), 'eventId,issuerId,colour\nx,BANK000001,blue\n');
      expect(await watcher().scanOnce()).toBe(1);
      expect(report('UNPARSED', 'rejected', 'wrong.csv')).toMatchObject({
        siteId: 'UNPARSED',
        file: 'wrong.csv',
        outcome: 'rejected',
        accepted: 0,
        error: expect.stringMatching(/^CSV header: unknown column\(s\) colour/),
      });
      expect(readdirSync(join(dir, 'processing'))).toEqual([]);
    });

    it('finishes a file of events already received as done (duplicates are usable), and logs each file with its counts', async () => {
      const dir = await siteWithFolders('DUPES');
      writeFileSync(join(dir, 'processing', 'first.csv'), csv('dupes-1'));
      await watcher().scanOnce();
      writeFileSync(join(dir, 'processing', 'again.csv'), csv('dupes-1'));
      expect(await watcher().scanOnce()).toBe(1);
      expect(report('DUPES', 'done', 'again.csv')).toMatchObject({ outcome: 'done', accepted: 0, duplicates: 1, rejectedCount: 0 });
      expect(report('DUPES', 'done', 'again.csv').error).toBeUndefined();
      expect(logged('inbox file processed')).toEqual([
        expect.objectContaining({ siteId: 'DUPES', file: 'first.csv', outcome: 'done', accepted: 1, duplicates: 0, rejected: 0 }),
        expect.objectContaining({ siteId: 'DUPES', file: 'again.csv', outcome: 'done', accepted: 0, duplicates: 1, rejected: 0 }),
      ]);
    });

    it('replaces a report .tmp name the site left in done/ (a link) without writing through it', async () => {
      const dir = await siteWithFolders('LEFTOVER');
      mkdirSync(join(dir, 'done'));
      const victim = join(outside, 'victim.txt');
      writeFileSync(victim, 'not the hub’s');
      symlinkSync(victim, join(dir, 'done', 'x.csv.report.json.tmp'));
      writeFileSync(join(dir, 'processing', 'x.csv'), csv('leftover-1'));
      expect(await watcher().scanOnce()).toBe(1);
      expect(readFileSync(victim, 'utf8')).toBe('not the hub’s');
      expect(report('LEFTOVER', 'done', 'x.csv')).toMatchObject({ accepted: 1 });
      expect(readdirSync(join(dir, 'done')).sort()).toEqual(['x.csv', 'x.csv.report.json']);
    });

    it('leaves a file in processing/ when its report cannot be written (a full disk), logging that cause', async () => {
      const dir = await siteWithFolders('NOSPACE');
      writeFileSync(join(dir, 'processing', 'full.csv'), csv('nospace-1'));
      fsHooks.open = async (real, ...args) => {
        const [path] = args as unknown as [string];
        if (typeof path === 'string' && path.endsWith('full.csv.report.json.tmp')) throw fsError('ENOSPC', 'open', path);
        return real(...args);
      };
      expect(await watcher().scanOnce()).toBe(0);
      expect(errors()).toEqual([expect.objectContaining({ siteId: 'NOSPACE', file: 'full.csv', err: expect.objectContaining({ code: 'ENOSPC' }) })]);
      expect(readdirSync(join(dir, 'processing'))).toEqual(['full.csv']);
    });
  });

  describe('site folders the system fails on', () => {
    it('logs an inbox it cannot make with the real cause, and goes on with the other sites', async () => {
      await site('NOROOM');
      const other = await siteWithFolders('NOROOM2');
      writeFileSync(join(other, 'processing', 'ok.csv'), csv('noroom-ok'));
      fsHooks.mkdir = async (real, ...args) => {
        const [path] = args as unknown as [string];
        if (path === inbox('NOROOM')) throw fsError('ENOSPC', 'mkdir', path);
        return real(...args);
      };
      expect(await watcher().scanOnce()).toBe(1);
      expect(errors()).toEqual([
        expect.objectContaining({ msg: 'inbox scan of a site failed; the other sites go on', siteId: 'NOROOM', err: expect.objectContaining({ code: 'ENOSPC', syscall: 'mkdir' }) }),
      ]);
      expect(warnings()).toEqual([]);
    });

    it('logs a site folder it cannot open for want of descriptors as a failure, not as a refused link', async () => {
      await site('NOFDS');
      siteFolderOpenFails('NOFDS', 'EMFILE');
      await watcher().scanOnce();
      expect(warnings()).toEqual([]);
      expect(errors()).toEqual([expect.objectContaining({ siteId: 'NOFDS', err: expect.objectContaining({ code: 'EMFILE' }) })]);
    });

    it('refuses a site folder the system reports as a link with ELOOP (as some systems do) as it does one reported as ENOTDIR', async () => {
      await site('ELOOP');
      siteFolderOpenFails('ELOOP', 'ELOOP');
      await watcher().scanOnce();
      expect(errors()).toEqual([]);
      expect(warnings()).toEqual([expect.objectContaining({ path: inbox('ELOOP'), reason: 'not a real directory (a link or a file)' })]);
    });
  });

  describe('the loop', () => {
    it('start() scans at once, and again after stop() and start()', async () => {
      const dir = await siteWithFolders('LOOP');
      const w = watcher({ scanIntervalMs: 20 });
      writeFileSync(join(dir, 'processing', 'one.csv'), csv('loop-1'));
      w.start();
      await waitFor('the first file done', () => existsSync(join(dir, 'done', 'one.csv.report.json')) || undefined, 10_000, 10);
      await w.stop();
      writeFileSync(join(dir, 'processing', 'two.csv'), csv('loop-2'));
      w.start();
      try {
        await waitFor('the second file done', () => existsSync(join(dir, 'done', 'two.csv.report.json')) || undefined, 10_000, 10);
      } finally {
        await w.stop();
      }
      expect(await events('LOOP')).toEqual(['loop-1', 'loop-2']);
    });

    it('logs a failed round with its error and keeps going', async () => {
      const notAFolder = join(dataDir, 'not-a-folder');
      writeFileSync(notAFolder, '');
      const w = watcher({ dataDir: notAFolder, scanIntervalMs: 10 });
      w.start();
      try {
        await waitFor('two failed rounds', () => logged('inbox scan failed').length >= 2 || undefined, 10_000, 10);
      } finally {
        await w.stop();
        unlinkSync(notAFolder);
      }
      expect(logged('inbox scan failed')[0]).toMatchObject({ level: 50, err: expect.objectContaining({ code: 'ENOTDIR' }) });
    });

    it('prunes site events past their retention at its first round, then once an hour', async () => {
      const old = async (id: string) =>
        sql`insert into site_events (site_id, event_id, issuer_id, card_id, type, occurred_at, received_at)
          values ('PRUNE', ${id}, 'BANK000001', ${`${id}-card`}, 'CARD_SHIPPED', now() - interval '200 days', now() - interval '181 days')`.execute(t.store.db);
      const pruneLogs = () => logged('site events past retention pruned');
      // The hub's clock, injected: the watcher reads no other for its prune rounds.
      const t0 = Date.now();
      let clock = t0;
      const now = () => new Date(clock);
      const round = async (at: number) => {
        clock = at;
        const w = watcher({ now }); // one round per start(): the next waits 60 s, and stop() ends it
        w.start();
        await w.stop();
      };
      await old('prune-1');
      await round(t0);
      expect(await events('PRUNE')).toEqual([]);
      expect(pruneLogs()).toEqual([expect.objectContaining({ level: 30, pruned: 1 })]);

      // A new watcher prunes at its first round; this one goes on from its last prune.
      const w = watcher({ now });
      const roundOf = async (at: number) => {
        clock = at;
        w.start();
        await w.stop();
      };
      await roundOf(t0);
      expect(pruneLogs()).toHaveLength(1); // nothing left to prune: nothing logged
      await old('prune-2');
      await roundOf(t0 + 3_600_000); // exactly an hour: not yet
      expect(await events('PRUNE')).toEqual(['prune-2']);
      await roundOf(t0 + 3_600_001);
      expect(await events('PRUNE')).toEqual([]);
      expect(pruneLogs()).toHaveLength(2);
    });

    it('stop() during a scan: no other file or site is claimed', async () => {
      const a = await siteWithFolders('STOP-A');
      const b = await siteWithFolders('STOP-B');
      writeFileSync(join(b, 'b.csv'), csv('stop-b'));
      const w = watcher();
      await w.scanOnce(); // B's file seen once: the next scan would claim it
      writeFileSync(join(a, 'processing', 'a1.csv'), csv('stop-a1'));
      writeFileSync(join(a, 'processing', 'a2.csv'), csv('stop-a2'));
      onLog = (e) => {
        if (e.msg === 'inbox file processed') void w.stop();
      };
      expect(await w.scanOnce()).toBe(1);
      expect(readdirSync(join(a, 'processing'))).toEqual(['a2.csv']);
      const claimed = await sql<{ name: string }>`select name from inbox_files where site_id = 'STOP-A' order by name`.execute(t.store.db);
      expect(claimed.rows.map((r) => r.name)).toEqual(['a1.csv']); // a2.csv not even claimed
      expect(readdirSync(b).sort()).toEqual(['b.csv', 'done', 'processing', 'rejected']);
    });
  });
});
