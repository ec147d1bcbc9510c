import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

/**
 * PGlite is one process's database: a second process opening the same data folder would corrupt it.
 * `trackhub serve` leaves its pid beside the folder while it runs, so commands that open the store
 * directly (`trackhub sites import`) can refuse with a clear message instead.
 */

function pidFile(databaseUrl: string): string | undefined {
  if (!databaseUrl.startsWith('pglite://')) return undefined;
  const rest = databaseUrl.slice('pglite://'.length);
  if (rest === 'memory') return undefined;
  return `${isAbsolute(rest) ? rest : resolve(process.cwd(), rest)}.trackhub.pid`;
}

/** Marks the folder as in use by this process; returns the function that clears the mark. */
export function holdPgliteFolder(databaseUrl: string): () => void {
  const file = pidFile(databaseUrl);
  if (!file) return () => {};
  writeFileSync(file, String(process.pid));
  return () => {
    if (pgliteFolderHolder(databaseUrl) === process.pid) rmSync(file, { force: true });
  };
}

/** The pid of a live process holding the folder, if any (a mark left by a crashed hub is ignored). */
export function pgliteFolderHolder(databaseUrl: string): number | undefined {
  const file = pidFile(databaseUrl);
  if (!file) return undefined;
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}
