import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { processAlive, socketUrl } from './embedded.ts';
import { EmbeddedStoreError } from './embedded-folders.ts';

/**
 * Who uses the embedded server: the hub that holds its folder (an advisory lock on the server), and the
 * commands that use it meanwhile (a mark each beside the folder); from them, whether a command may stop it.
 */

function hubPidFile(folder: string): string {
  return `${folder}.trackhub.pid`;
}

/** Session advisory lock a hub holds on its embedded server for as long as it runs. */
const HUB_LOCK = 7314009;
/** Names this process's connections, so a command can tell them from everyone else's. */
export const APPLICATION_NAME = `trackhub ${process.pid}`;

/**
 * The hub's hold on its folder: a session advisory lock on the server, on a connection of its own for the
 * hub's lifetime. Atomic (of two hubs starting at once, whatever the spelling of the folder, one gets it)
 * and released by the server when the hub dies, however it dies. The mark beside the folder
 * (`FOLDER.trackhub.pid`) only names the holder in messages. `onLost` runs if the connection ends
 * before release() (the server stopped under the hub).
 */
export async function holdFolderForHub(folder: string, onLost: () => void): Promise<{ release(whileHeld: () => Promise<void>): Promise<void> }> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: socketUrl(folder, 'postgres'), application_name: APPLICATION_NAME });
  client.on('error', () => {});
  await client.connect();
  const got = (await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [HUB_LOCK])).rows[0].ok;
  if (!got) {
    await client.end().catch(() => {});
    let holder = '';
    try {
      holder = ` (pid ${Number(readFileSync(hubPidFile(folder), 'utf8').trim())})`;
    } catch {
      // no mark: the holder is named without its pid
    }
    throw new EmbeddedStoreError(`another hub${holder} runs on the embedded store ${folder}; stop it first`);
  }
  const mark = hubPidFile(folder);
  writeFileSync(mark, String(process.pid), { mode: 0o600 });
  let releasing = false;
  client.on('end', () => {
    if (!releasing) onLost();
  });
  return {
    /** Runs `whileHeld` (stopping the server) still holding the lock, then lets go. */
    async release(whileHeld) {
      releasing = true;
      try {
        await whileHeld();
      } finally {
        await client.end().catch(() => {});
      }
      try {
        if (readFileSync(mark, 'utf8').trim() === String(process.pid)) rmSync(mark, { force: true });
      } catch {
        // already gone
      }
    },
  };
}

/**
 * Marks a command as using the folder's server (`FOLDER.cmd-PID`), from before it looks for the server
 * until it is done with it, so that a command finishing meanwhile does not stop the server under it.
 * Returns the function that removes the mark.
 */
export function markCommand(folder: string): () => void {
  const mark = `${folder}.cmd-${process.pid}`;
  try {
    writeFileSync(mark, '', { mode: 0o600 });
  } catch {
    return () => {}; // the folder's parent does not exist yet: ensureEmbeddedServer makes it, or says why not
  }
  return () => rmSync(mark, { force: true });
}

/** Other live commands using the folder's server (their marks; those of dead processes are removed). */
function otherCommands(folder: string): number {
  const prefix = `${basename(folder)}.cmd-`;
  let n = 0;
  for (const name of readdirSync(dirname(folder))) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (processAlive(pid)) n++;
    else rmSync(join(dirname(folder), name), { force: true });
  }
  return n;
}

/**
 * A command's question before it stops the server: may it? Not while a hub holds the
 * folder, nor while another command is about to use it or any other process (psql) is connected.
 */
export async function serverIsIdle(folder: string): Promise<boolean> {
  if (otherCommands(folder) > 0) return false;
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: socketUrl(folder, 'postgres'), application_name: APPLICATION_NAME });
  client.on('error', () => {});
  try {
    await client.connect();
    const row = (
      await client.query<{ hubs: number; others: number }>(
        `select (select count(*) from pg_locks where locktype = 'advisory' and objid = $1 and granted)::int as hubs,
                (select count(*) from pg_stat_activity where backend_type = 'client backend' and application_name <> $2)::int as others`,
        [HUB_LOCK, APPLICATION_NAME],
      )
    ).rows[0];
    return row.hubs === 0 && row.others === 0;
  } catch {
    return false; // cannot tell: leave it running
  } finally {
    await client.end().catch(() => {});
  }
}
