import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const DEMO_PREFIX = 'trackhub-demo-';
/** A demo's temporary folder carries its pid in its name (`trackhub-demo-<pid>-XXXXXX`): the folder must stay empty for the embedded server's account. */
const DEMO_FOLDER = /^trackhub-demo-(\d+)-[A-Za-z0-9]{6}$/;

export interface CleanUp {
  /** Stops the embedded server of this data folder (called only once serverIn found one working there). */
  stop(folder: string): Promise<void>;
  /** The pid of a live postmaster whose data folder is this folder, if any. */
  serverIn(folder: string): number | undefined;
  alive(pid: number): boolean;
  /** Owners a demo's folder may have: this user, and as root the embedded server's account (the demo hands it the folder). */
  owners: readonly number[];
  parent?: string;
}

/** The live postmaster of `folder`, only when its working folder is exactly `folder` (no link followed). */
export function postmasterWorkingIn(folder: string, live: (folder: string) => { pid: number } | undefined): number | undefined {
  const running = live(folder);
  if (!running) return undefined;
  try {
    return readlinkSync(`/proc/${running.pid}/cwd`) === folder ? running.pid : undefined;
  } catch {
    return undefined;
  }
}

/** A real folder (not a link) of one of `owners`, closed to everyone else (0700 or stricter). */
function ownFolder(path: string, owners: readonly number[]): boolean {
  const st = lstatSync(path, { throwIfNoEntry: false });
  return !!st && st.isDirectory() && !st.isSymbolicLink() && owners.includes(st.uid) && (st.mode & 0o077) === 0;
}

/**
 * Removes the temporary folders of earlier demos whose process is gone (a demo killed with SIGKILL
 * cannot clean up: its embedded PostgreSQL keeps running and its folder stays), stopping their server
 * first. This may run as root in a temporary folder others write to, so only a folder a demo made is
 * touched: named by a demo, a real folder (never a link) owned by this user or, as root, by the server's
 * account, closed to others, whose `pg` is such a folder too; a server is stopped only when its working
 * folder is exactly that `pg`. The folder is first moved into a new private folder of ours and checked
 * again there; one of another account (as root, the server's) is then removed by a child process running
 * as that account, so a link its owner swaps in during the removal reaches nothing that account could
 * not delete itself.
 * Limit: a demo running in another pid namespace that shares this temporary folder looks gone.
 */
export async function cleanEarlierDemos(opts: CleanUp): Promise<string[]> {
  const removed: string[] = [];
  let parent: string;
  let names: string[];
  try {
    parent = realpathSync(opts.parent ?? tmpdir());
    names = readdirSync(parent);
  } catch {
    return removed;
  }
  for (const name of names) {
    const pid = Number(DEMO_FOLDER.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || opts.alive(pid)) continue;
    const dir = join(parent, name);
    try {
      if (!ownFolder(dir, opts.owners) || !ownFolder(join(dir, 'pg'), opts.owners)) continue;
      if (opts.serverIn(join(dir, 'pg')) !== undefined) await opts.stop(join(dir, 'pg'));
      const bin = mkdtempSync(join(parent, '.trackhub-demo-removing-'));
      try {
        const moved = join(bin, name);
        renameSync(dir, moved);
        const owner = lstatSync(moved).uid;
        // Swapped between the check and the move (only its owner could): put back, not removed.
        if (!ownFolder(moved, opts.owners)) {
          renameSync(moved, dir);
          continue;
        }
        if (owner === process.getuid?.()) rmSync(moved, { recursive: true, force: true });
        // Another account's folder (as root: the embedded server's) is removed with that account's rights
        // only: its owner could swap a link into it while a recursive removal walks it, and a root process
        // would then delete whatever the link points at (the attack pass deleted a root-only file so).
        else if (!removeAs(moved, owner)) continue;
        removed.push(dir);
      } finally {
        // Empty once its folder was removed or put back; left (ours, 0700) if a removal failed.
        try {
          rmdirSync(bin);
        } catch {}
      }
    } catch {
      // A server that would not stop, or a folder we cannot move or remove: left alone.
    }
  }
  return removed;
}

/**
 * Empties `folder` in a child process running as `uid` (and that account's group), so it can delete only
 * what that account may, then removes the empty folder itself (rmdir follows no link). The folder sits in
 * our private folder, opened to others for passing through only, so the account reaches it by path but
 * cannot move it out.
 */
function removeAs(folder: string, uid: number): boolean {
  const st = lstatSync(folder);
  chmodSync(dirname(folder), 0o711);
  const empty = 'const fs = require("node:fs"); const d = process.argv[1]; for (const n of fs.readdirSync(d)) fs.rmSync(d + "/" + n, { recursive: true, force: true });';
  const run = spawnSync(process.execPath, ['-e', empty, folder], { uid, gid: st.gid, stdio: 'ignore', timeout: 60_000 });
  if (run.status !== 0) return false;
  rmdirSync(folder);
  return true;
}
