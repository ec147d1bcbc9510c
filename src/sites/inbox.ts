import { isUtf8 } from 'node:buffer';
import { constants } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { HubContext } from '../operations/context.ts';
import type { Db } from '../store/db.ts';
import { claimInboxFile, finishInboxFile, inboxFileProgress, releaseInboxFile, saveInboxProgress } from '../store/inbox-files.ts';
import { listSiteIds } from '../store/production-sites.ts';
import { WorkLoop } from '../work-loop.ts';
import { BatchFileError, type ImportSummary, importFile, type RejectedLine } from './batch-file.ts';
import { SITE_ID } from './events.ts';
import { errno, HeldFolder, Refused } from './held-folder.ts';
import { type IngestCounts, ingestEvents, pruneSiteEvents } from './ingest.ts';

/**
 * The inbox of each production site (docs/contract.md §4): `{dataDir}/inbox/{siteId}/`. A worker
 *  1. waits until a dropped file has kept its size and modification time over two scans AND has not
 *     been modified for `settleMs` (an upload that stalls for longer than a scan is not read half-way;
 *     dotfiles and `.tmp`/`.part` names are ignored: write under such a name, then rename),
 *  2. claims it by renaming it into `processing/` (atomic: of several workers one wins),
 *  3. owns it through a leased `inbox_files` row keyed by name+size+mtime, where each chunk's counts
 *     are committed in the same transaction as the chunk's events; a worker that dies mid-file leaves
 *     the file in `processing/` and the row's lease runs out, and the next worker resumes after the
 *     last committed line with the right counts,
 *  4. moves it to `done/` (or `rejected/` when nothing in it was usable or it could not be read) with
 *     `<name>.report.json` beside it.
 *
 * Whoever can write into a site's inbox can also put links there. Nothing in it is followed: the site
 * folder and its `processing/`, `done/` and `rejected/` must be real directories, opened with
 * O_NOFOLLOW and held open while the hub works in them (on Linux every later path goes through the
 * open descriptor, `/proc/self/fd/N/…`, so swapping a folder for a link half-way changes nothing);
 * a file is read only when, opened with O_NOFOLLOW, it is a regular file with exactly one link (a hard
 * link would let the hub read, make private and move a file that lives elsewhere). What is refused is
 * logged once while it stays and left where it is; one site's or one file's failure never stops the
 * scan of the others.
 */

const IGNORED = /^\.|\.(tmp|part|partial|crdownload)$|\.report\.json$/i;
/** The report lists this many rejected lines; its count is exact. */
const MAX_LISTED_REJECTIONS = 10_000;
const PRUNE_EVERY_MS = 3_600_000;
/** Names looked at per folder and scan: bounds the size-and-mtime map whatever a site drops. */
const MAX_FILES_PER_SCAN = 10_000;
/** Refused paths remembered so that each is logged once while it stays. */
const MAX_REMEMBERED_REFUSALS = 10_000;

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

interface SiteFolders {
  site: HeldFolder;
  processing: HeldFolder;
  done: HeldFolder;
  rejected: HeldFolder;
}

/** Thrown between chunks when the hub shuts down: the file stays in processing/ and is resumed later. */
class Stopping extends Error {}

export interface InboxReport {
  siteId: string;
  file: string;
  outcome: 'done' | 'rejected';
  lines: number;
  accepted: number;
  duplicates: number;
  rejectedCount: number;
  rejected: RejectedLine[];
  error?: string;
  finishedAt: string;
}

export class InboxWatcher {
  private readonly lastSeen = new Map<string, { size: number; mtimeMs: number }>();
  private readonly loop: WorkLoop;
  private lastPruneAt = 0;
  /** Paths refused in the previous scan (already logged) and in this one. */
  private refusedBefore = new Set<string>();
  private refusedNow = new Set<string>();
  /** Set by stop(): a file being read stops at its next chunk and resumes from its progress row later. */
  private stopping = false;

  constructor(
    private readonly ctx: HubContext,
    private readonly o: { dataDir: string; scanIntervalMs: number; settleMs: number; leaseMs: number; chunkLines?: number },
  ) {
    // A round never counts as "full": the folder is looked at again after the scan interval, not at once.
    this.loop = new WorkLoop(() => this.round(), 1, o.scanIntervalMs, (err) => ctx.log.error({ err }, 'inbox scan failed'));
  }

  start(): void {
    this.stopping = false;
    this.loop.start();
  }

  stop(): Promise<void> {
    this.stopping = true;
    return this.loop.stop();
  }

  private async round(): Promise<number> {
    await this.scanOnce();
    if (this.ctx.now().getTime() - this.lastPruneAt > PRUNE_EVERY_MS) {
      this.lastPruneAt = this.ctx.now().getTime();
      const pruned = await pruneSiteEvents(this.ctx.db);
      if (pruned > 0) this.ctx.log.info({ pruned }, 'site events past retention pruned');
    }
    return 0;
  }

  /** One look into every registered site's inbox. Returns how many files it finished. */
  async scanOnce(): Promise<number> {
    const sites = await listSiteIds(this.ctx.db);
    const root = join(this.o.dataDir, 'inbox');
    // Card ids inside: the folders are the hub's user's alone (a site uploads as that user, or through it).
    await mkdir(root, { recursive: true, mode: 0o700 });
    let finished = 0;
    this.refusedNow = new Set();
    for (const siteId of sites) {
      if (this.stopping) break;
      // A site id registered before ids were checked for a leading dot must not make the inbox `inbox/..`.
      if (!SITE_ID.test(siteId)) continue;
      try {
        finished += await this.scanSite(siteId, join(root, siteId));
      } catch (err) {
        if (err instanceof Refused) this.refuse(err);
        else this.ctx.log.error({ err, siteId }, 'inbox scan of a site failed; the other sites go on');
      }
    }
    this.refusedBefore = this.refusedNow;
    return finished;
  }

  private refuse(r: Refused): void {
    if (this.refusedNow.size < MAX_REMEMBERED_REFUSALS) this.refusedNow.add(r.path);
    if (!this.refusedBefore.has(r.path)) this.ctx.log.warn({ path: r.path, reason: r.reason }, 'inbox: refused, left in place and not followed');
  }

  private async scanSite(siteId: string, dir: string): Promise<number> {
    const held: HeldFolder[] = [];
    try {
      const site = await HeldFolder.open(dir, dir, true);
      held.push(site);
      for (const sub of ['processing', 'done', 'rejected']) held.push(await site.sub(sub, true));
      const [, processing, done, rejected] = held;
      const folders: SiteFolders = { site, processing, done, rejected };
      await this.claimStableFiles(folders);
      let finished = 0;
      for (const name of await this.files(processing)) {
        if (this.stopping) break;
        try {
          if (await this.processFile(siteId, folders, name)) finished++;
        } catch (err) {
          if (err instanceof Refused) this.refuse(err);
          else this.ctx.log.error({ err, siteId, file: name }, 'inbox file failed; it stays in processing/ and is tried again later');
        }
      }
      return finished;
    } finally {
      for (const f of held) await f.close().catch(() => {});
    }
  }

  /** Names of the folder's entries that may be batch files (links too: they are refused, and logged, when used). */
  private async files(folder: HeldFolder): Promise<string[]> {
    // Read as bytes: a name that is not UTF-8 would come back with U+FFFD in it, name no file, and sit
    // in the folder for ever unseen. It is refused (logged once) and left in place instead.
    const entries = await readdir(folder.path(''), { withFileTypes: true, encoding: 'buffer' }).catch(() => []);
    const names: string[] = [];
    for (const e of entries) {
      if (e.isDirectory()) continue;
      if (!isUtf8(e.name)) {
        this.refuse(new Refused(folder.shown(e.name.toString('utf8')), 'its name is not UTF-8: rename it to be read'));
        continue;
      }
      const name = e.name.toString('utf8');
      if (!IGNORED.test(name)) names.push(name);
    }
    return names.sort().slice(0, MAX_FILES_PER_SCAN);
  }

  private async claimStableFiles({ site, processing }: SiteFolders): Promise<void> {
    const names = await this.files(site);
    // A file removed before it was claimed is forgotten, so the map only holds what is in the folders.
    const present = new Set(names.map((name) => site.shown(name)));
    for (const path of this.lastSeen.keys()) if (dirname(path) === site.shown() && !present.has(path)) this.lastSeen.delete(path);
    for (const name of names) {
      const path = site.shown(name);
      const st = await lstat(site.path(name)).catch(() => undefined);
      if (!st) continue;
      if (!st.isFile()) {
        this.refuse(new Refused(path, 'not a regular file (a link or a special file)'));
        continue;
      }
      if (st.nlink !== 1) {
        this.refuse(new Refused(path, `has more than one link (${st.nlink}): it may be a file that lives elsewhere`));
        continue;
      }
      const before = this.lastSeen.get(path);
      this.lastSeen.set(path, { size: st.size, mtimeMs: st.mtimeMs });
      if (!before || before.size !== st.size || before.mtimeMs !== st.mtimeMs) continue; // still moving
      // Against the wall clock, not the hub's: a file's mtime is the file system's time.
      if (Date.now() - st.mtimeMs < this.o.settleMs) continue; // quiet, but maybe only paused
      // A file of the same name still in processing/ would be overwritten: it waits its turn.
      if (await lstat(processing.path(name)).catch(() => undefined)) continue;
      try {
        // rename moves the entry itself, never what a link names: whatever is there now goes to
        // processing/, where it is checked again when opened.
        await rename(site.path(name), processing.path(name));
        this.lastSeen.delete(path);
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err; // another worker took it
        this.lastSeen.delete(path);
      }
    }
  }

  /** Claims the file's progress row (or resumes it once its lease has run out) and imports the rest. */
  private async processFile(siteId: string, folders: SiteFolders, name: string): Promise<boolean> {
    const shown = folders.processing.shown(name);
    let file: FileHandle;
    try {
      // O_NONBLOCK: a FIFO put in place of the file must not hang the scan in open().
      file = await open(folders.processing.path(name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (err) {
      if (errno(err) === 'ELOOP') throw new Refused(shown, 'not a regular file (a link)');
      if (errno(err) === 'ENOENT') return false;
      throw err;
    }
    try {
      const st = await file.stat();
      if (!st.isFile()) throw new Refused(shown, 'not a regular file (a special file)');
      if (st.nlink !== 1) throw new Refused(shown, `has more than one link (${st.nlink}): it may be a file that lives elsewhere`);
      // The hub's copy now: private (through the descriptor, so only this very file is changed).
      await file.chmod(0o600).catch(() => {});
      return await this.importHeldFile(siteId, folders, name, file, st);
    } finally {
      await file.close().catch(() => {});
    }
  }

  private async importHeldFile(siteId: string, { processing, done, rejected }: SiteFolders, name: string, file: FileHandle, st: { size: number; mtimeMs: number }): Promise<boolean> {
    const path = processing.path(name);
    const fileKey = `${name}|${st.size}|${Math.trunc(st.mtimeMs)}`;
    const progress = await claimInboxFile(this.ctx.db, siteId, fileKey, name, this.o.leaseMs);
    if (!progress) return false; // another worker holds it
    if (progress.lines_done > 0) this.ctx.log.info({ siteId, file: name, fromLine: progress.lines_done + 1 }, 'inbox file resumed');
    let summary: ImportSummary | undefined;
    let error: string | undefined;
    try {
      summary = await importFile(
        path,
        (events, chunk) => {
          if (this.stopping) throw new Stopping();
          return ingestEvents(this.ctx, siteId, events, (tx, result) => {
            // Reports the store refused are rejected lines of the file, saved with the chunk's own.
            for (const r of result.rejected) chunk.rejected.push({ line: chunk.lines[r.index], errorCode: r.errorCode, error: r.error });
            chunk.rejected.sort((a, b) => a.line - b.line);
            return this.saveProgress(tx, siteId, fileKey, chunk.endLine, result, chunk.rejected);
          });
        },
        { chunkLines: this.o.chunkLines, skipThroughLine: progress.lines_done, keepRejected: 0, handle: file, now: this.ctx.now },
      );
    } catch (err) {
      if (err instanceof Stopping) {
        // Let the next worker (or this one after a restart) resume at once rather than after the lease.
        await releaseInboxFile(this.ctx.db, siteId, fileKey);
        return false;
      }
      // A file that cannot be read or parsed is rejected; store trouble is retried on a later scan.
      if (!(err instanceof BatchFileError) && !(err as NodeJS.ErrnoException).syscall) throw err;
      error = (err as Error).message;
    }
    const p = await inboxFileProgress(this.ctx.db, siteId, fileKey);
    const usable = p.accepted + p.duplicates > 0;
    const outcome = error || !usable ? 'rejected' : 'done';
    const report: InboxReport = {
      siteId,
      file: name,
      outcome,
      lines: summary?.lines ?? p.lines_done,
      accepted: p.accepted,
      duplicates: p.duplicates,
      rejectedCount: p.rejected_count,
      rejected: p.rejected,
      ...(error ? { error } : !usable ? { error: 'no usable event in the file' } : {}),
      finishedAt: this.ctx.now().toISOString(),
    };
    const folder = outcome === 'done' ? done : rejected;
    const target = await freeName(folder, name);
    // The report first, written whole under a temporary name and renamed (a report that is there is
    // complete), then the file: a file in done/ or rejected/ always has its report beside it. A worker
    // killed in between leaves the file in processing/, and the next one writes the report again.
    const reportPath = folder.path(`${target}.report.json`);
    await writeNewPrivateFile(`${reportPath}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
    await rename(`${reportPath}.tmp`, reportPath);
    await rename(path, folder.path(target));
    await finishInboxFile(this.ctx.db, siteId, fileKey, outcome);
    this.ctx.log.info({ siteId, file: name, outcome, accepted: p.accepted, duplicates: p.duplicates, rejected: p.rejected_count }, 'inbox file processed');
    return true;
  }

  private async saveProgress(tx: Db, siteId: string, fileKey: string, endLine: number, counts: IngestCounts, rejected: RejectedLine[]): Promise<void> {
    await saveInboxProgress(tx, {
      siteId,
      fileKey,
      endLine,
      accepted: counts.accepted,
      duplicates: counts.duplicates,
      rejected,
      maxListed: MAX_LISTED_REJECTIONS,
      leaseMs: this.o.leaseMs,
    });
  }
}

/**
 * Writes a new file, 0600, never through a link: a `.tmp` name the site left in place (a link, maybe to
 * a file outside) is removed (unlink removes the link, not what it names) and the file is created anew.
 */
async function writeNewPrivateFile(path: string, text: string): Promise<void> {
  const create = () => open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  let fh: FileHandle;
  try {
    fh = await create();
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw err;
    await unlink(path);
    fh = await create();
  }
  try {
    await fh.writeFile(text);
  } finally {
    await fh.close();
  }
}

/** `name`, or `name` prefixed with a time stamp when the folder already holds an entry of that name. */
async function freeName(folder: HeldFolder, name: string): Promise<string> {
  const taken = await lstat(folder.path(name)).catch(() => undefined);
  return taken ? `${new Date().toISOString().replace(/[:.]/g, '-')}-${name}` : name;
}
