import { mkdirSync } from 'node:fs';
import { chmod, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sql } from 'kysely';
import type { HubContext } from '../operations/context.ts';
import type { Db } from '../store/db.ts';
import { WorkLoop } from '../work-loop.ts';
import { BatchFileError, type ImportSummary, importFile, type RejectedLine } from './batch-file.ts';
import { SITE_ID } from './events.ts';
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
 */

const IGNORED = /^\.|\.(tmp|part|partial|crdownload)$|\.report\.json$/i;
/** The report lists this many rejected lines; its count is exact. */
const MAX_LISTED_REJECTIONS = 10_000;
const PRUNE_EVERY_MS = 3_600_000;

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

interface Progress {
  lines_done: number;
  accepted: number;
  duplicates: number;
  rejected_count: number;
  rejected: RejectedLine[];
}

export class InboxWatcher {
  private readonly lastSeen = new Map<string, { size: number; mtimeMs: number }>();
  private readonly loop: WorkLoop;
  private lastPruneAt = 0;
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
    if (Date.now() - this.lastPruneAt > PRUNE_EVERY_MS) {
      this.lastPruneAt = Date.now();
      const pruned = await pruneSiteEvents(this.ctx.db);
      if (pruned > 0) this.ctx.log.info({ pruned }, 'site events past retention pruned');
    }
    return 0;
  }

  /** One look into every registered site's inbox. Returns how many files it finished. */
  async scanOnce(): Promise<number> {
    const sites = await this.ctx.db.selectFrom('production_sites').select('site_id').execute();
    let finished = 0;
    for (const { site_id: siteId } of sites) {
      if (this.stopping) break;
      // A site id registered before ids were checked for a leading dot must not make the inbox `inbox/..`.
      if (!SITE_ID.test(siteId)) continue;
      const dir = join(this.o.dataDir, 'inbox', siteId);
      // Card ids inside: the folders are the hub's user's alone (a site uploads as that user, or through it).
      for (const sub of ['processing', 'done', 'rejected']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
      await this.claimStableFiles(dir);
      for (const name of await files(join(dir, 'processing'))) {
        if (this.stopping) break;
        if (await this.processFile(siteId, dir, name)) finished++;
      }
    }
    return finished;
  }

  private async claimStableFiles(dir: string): Promise<void> {
    const names = await files(dir);
    // A file removed before it was claimed is forgotten, so the map only holds what is in the folders.
    const present = new Set(names.map((name) => join(dir, name)));
    for (const path of this.lastSeen.keys()) if (dirname(path) === dir && !present.has(path)) this.lastSeen.delete(path);
    for (const name of names) {
      const path = join(dir, name);
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile()) continue;
      const before = this.lastSeen.get(path);
      this.lastSeen.set(path, { size: st.size, mtimeMs: st.mtimeMs });
      if (!before || before.size !== st.size || before.mtimeMs !== st.mtimeMs) continue; // still moving
      if (Date.now() - st.mtimeMs < this.o.settleMs) continue; // quiet, but maybe only paused
      // A file of the same name still in processing/ would be overwritten: it waits its turn.
      if (await stat(join(dir, 'processing', name)).catch(() => undefined)) continue;
      try {
        await rename(path, join(dir, 'processing', name));
        await chmod(join(dir, 'processing', name), 0o600).catch(() => {}); // the hub's copy now: private
        this.lastSeen.delete(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // another worker took it
        this.lastSeen.delete(path);
      }
    }
  }

  /** Claims the file's progress row (or resumes it once its lease has run out) and imports the rest. */
  private async processFile(siteId: string, dir: string, name: string): Promise<boolean> {
    const path = join(dir, 'processing', name);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) return false;
    const fileKey = `${name}|${st.size}|${Math.trunc(st.mtimeMs)}`;
    const lease = `${this.o.leaseMs} milliseconds`;
    const claimed = await sql<Progress>`
      insert into inbox_files (site_id, file_key, name, lease_until) values (${siteId}, ${fileKey}, ${name}, now() + ${lease}::interval)
      on conflict (site_id, file_key) do update set lease_until = now() + ${lease}::interval, updated_at = now()
        where inbox_files.lease_until < now()
      returning lines_done, accepted, duplicates, rejected_count, rejected`.execute(this.ctx.db);
    const progress = claimed.rows[0];
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
        { chunkLines: this.o.chunkLines, skipThroughLine: progress.lines_done, keepRejected: 0 },
      );
    } catch (err) {
      if (err instanceof Stopping) {
        // Let the next worker (or this one after a restart) resume at once rather than after the lease.
        await sql`update inbox_files set lease_until = now() where site_id = ${siteId} and file_key = ${fileKey}`.execute(this.ctx.db);
        return false;
      }
      // A file that cannot be read or parsed is rejected; store trouble is retried on a later scan.
      if (!(err instanceof BatchFileError) && !(err as NodeJS.ErrnoException).syscall) throw err;
      error = (err as Error).message;
    }
    const final = await sql<Progress>`select lines_done, accepted, duplicates, rejected_count, rejected from inbox_files where site_id = ${siteId} and file_key = ${fileKey}`.execute(this.ctx.db);
    const p = final.rows[0];
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
      finishedAt: new Date().toISOString(),
    };
    const target = await freeName(join(dir, outcome), name);
    // The report first, written whole under a temporary name and renamed (a report that is there is
    // complete), then the file: a file in done/ or rejected/ always has its report beside it. A worker
    // killed in between leaves the file in processing/, and the next one writes the report again.
    const reportPath = join(dir, outcome, `${target}.report.json`);
    await writeFile(`${reportPath}.tmp`, `${JSON.stringify(report, null, 2)}\n`, { mode: 0o600 });
    await rename(`${reportPath}.tmp`, reportPath);
    await rename(path, join(dir, outcome, target));
    await sql`update inbox_files set state = ${outcome}, updated_at = now() where site_id = ${siteId} and file_key = ${fileKey}`.execute(this.ctx.db);
    this.ctx.log.info({ siteId, file: name, outcome, accepted: p.accepted, duplicates: p.duplicates, rejected: p.rejected_count }, 'inbox file processed');
    return true;
  }

  private async saveProgress(tx: Db, siteId: string, fileKey: string, endLine: number, counts: IngestCounts, rejected: RejectedLine[]): Promise<void> {
    await sql`
      update inbox_files set
        lines_done = ${endLine},
        accepted = accepted + ${counts.accepted},
        duplicates = duplicates + ${counts.duplicates},
        rejected_count = rejected_count + ${rejected.length},
        rejected = case when jsonb_array_length(rejected) < ${MAX_LISTED_REJECTIONS} then rejected || ${JSON.stringify(rejected)}::jsonb else rejected end,
        lease_until = now() + ${`${this.o.leaseMs} milliseconds`}::interval,
        updated_at = now()
      where site_id = ${siteId} and file_key = ${fileKey}`.execute(tx);
  }
}

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && !IGNORED.test(e.name)).map((e) => e.name).sort();
}

/** `name`, or `name` prefixed with a time stamp when done/ already holds a file of that name. */
async function freeName(dir: string, name: string): Promise<string> {
  const taken = await stat(join(dir, name)).catch(() => undefined);
  return taken ? `${new Date().toISOString().replace(/[:.]/g, '-')}-${name}` : name;
}
