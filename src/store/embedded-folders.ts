import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';

/**
 * The folders around the embedded store's data folder, and the account the server runs as: PostgreSQL
 * refuses root, so a hub running as root runs its server as the system user `postgres` (created if
 * missing), and that account must be able to reach the data folder.
 */

/** PostgreSQL refuses to run as root; as root, the server runs as this system user (created if missing). */
const SERVICE_USER = 'postgres';

/** Start-up problems of the embedded server; the CLI prints the message as one line. */
export class EmbeddedStoreError extends Error {}

/**
 * Why `folder` cannot hold the embedded store, when it or the first of its parents that exists is not a
 * folder (a regular file, say); undefined otherwise. Checked before anything is made or said: PostgreSQL
 * would only fail later with ENOTDIR, after the CLI said it was creating a store there.
 */
export function notAFolder(folder: string): string | undefined {
  for (let path = folder; ; path = dirname(path)) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(path);
    } catch {
      if (path === dirname(path)) return undefined;
      continue;
    }
    if (st.isDirectory()) return undefined;
    const what = st.isFile() ? 'is a file, not a folder' : 'is not a folder';
    return `${path} ${what}: the embedded store needs a folder (TRACKHUB_DATABASE_URL=embedded://FOLDER)`;
  }
}

export interface Account {
  uid: number;
  gid: number;
}

/** As root: the unprivileged account the server runs as, created on first use. Otherwise undefined. */
export function serviceAccount(): Account | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = (): Account | undefined => {
    try {
      const uid = Number(execFileSync('id', ['-u', SERVICE_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      const gid = Number(execFileSync('id', ['-g', SERVICE_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const found = lookup();
  if (found) return found;
  try {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVICE_USER], { stdio: 'ignore' });
  } catch (err) {
    throw new EmbeddedStoreError(`running as root, the embedded PostgreSQL needs a system user "${SERVICE_USER}" and useradd failed: ${(err as Error).message}`);
  }
  const created = lookup();
  if (!created) throw new EmbeddedStoreError(`running as root, could not create the system user "${SERVICE_USER}" for the embedded PostgreSQL`);
  return created;
}

/** True when `account` may enter `dir` (search permission). */
function traversable(dir: string, account: Account): boolean {
  const s = statSync(dir);
  if (s.uid === account.uid) return (s.mode & 0o100) !== 0;
  if (s.gid === account.gid) return (s.mode & 0o010) !== 0;
  return (s.mode & 0o001) !== 0;
}

/**
 * Makes the folder's parent (the hub's data folder), level by level, each new level 0700. As root, the
 * server's account must reach the data folder: every level made here is handed to it, an existing parent
 * closed to it (a fresh temporary folder, say) is too, and every folder further up must already let it
 * through. All of that is checked before anything is made, so a refused path leaves nothing behind.
 */
export function prepareParent(folder: string, account?: Account): void {
  const parent = dirname(folder);
  const missing: string[] = [];
  let existing = parent;
  for (;;) {
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(existing);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new EmbeddedStoreError(`cannot use ${existing} for the embedded store: ${(err as Error).message}`);
    }
    if (st) {
      if (!st.isDirectory()) throw new EmbeddedStoreError(`${existing} is not a folder; the embedded store needs one (TRACKHUB_DATABASE_URL)`);
      break;
    }
    missing.unshift(existing);
    if (existing === dirname(existing)) break;
    existing = dirname(existing);
  }
  if (account) {
    // An existing parent closed to the account is handed over only when empty: a folder made for the
    // store (a fresh temporary folder), never one holding other things (a home folder, say).
    const closed = missing.length === 0 && !traversable(parent, account);
    // The store's own marks beside its folder (FOLDER.cmd-PID, FOLDER.trackhub.pid) do not count.
    if (closed && readdirSync(parent).some((name) => !name.startsWith(`${basename(folder)}.`))) {
      throw new EmbeddedStoreError(
        `the embedded PostgreSQL runs as user "${SERVICE_USER}" (PostgreSQL refuses root) and cannot enter ${parent}, which holds other files; use an empty or new folder, e.g. TRACKHUB_DATABASE_URL=embedded:///var/lib/trackhub/pg`,
      );
    }
    const handOver = closed;
    for (let dir = handOver ? dirname(parent) : existing; ; dir = dirname(dir)) {
      if (!traversable(dir, account)) {
        throw new EmbeddedStoreError(
          `the embedded PostgreSQL runs as user "${SERVICE_USER}" (PostgreSQL refuses root) and cannot enter ${dir}; put the store elsewhere, e.g. TRACKHUB_DATABASE_URL=embedded:///var/lib/trackhub/pg`,
        );
      }
      if (dir === dirname(dir)) break;
    }
    if (handOver) chownSync(parent, account.uid, account.gid);
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new EmbeddedStoreError(`cannot make ${dir} for the embedded store: ${(err as Error).message}`);
    }
    if (account) chownSync(dir, account.uid, account.gid);
  }
}
