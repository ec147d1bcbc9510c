import { spawn } from 'node:child_process';
import { chownSync, existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/db.ts';
import { livePostmaster, stopEmbeddedServer } from '../../src/store/embedded.ts';
import { freePort, type Proc, runCli, stop, waitFor, waitReady } from '../helpers/processes.ts';
import { tempDir } from '../helpers/stores.ts';

const ADMIN = 'embedded-admin-token-0123456789abcdef';
const exited = (p: Proc) =>
  p.child.exitCode !== null ? Promise.resolve(p.child.exitCode) : new Promise<number | null>((r) => p.child.once('exit', (code) => r(code)));

/** Every regular file and folder under `dir` with its mode bits. */
function modes(dir: string): { path: string; dir: boolean; mode: number }[] {
  const out: { path: string; dir: boolean; mode: number }[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isDirectory()) {
      out.push({ path, dir: true, mode: st.mode & 0o777 });
      out.push(...modes(path));
    } else if (st.isFile()) {
      out.push({ path, dir: false, mode: st.mode & 0o777 });
    }
  }
  return out;
}

/**
 * The embedded store's lifecycle through real `trackhub` processes: the hub runs a PostgreSQL server in
 * its data folder, commands share it, and a killed hub's server is adopted or restarted by the next.
 */
describe('embedded store (a PostgreSQL server the hub runs)', () => {
  let dir: string;
  let pgDir: string;
  let env: Record<string, string>;
  let hub: Proc | undefined;
  let port: number;

  const startHub = async (extra: Record<string, string> = {}) => {
    port = await freePort();
    hub = runCli(['serve'], { ...env, TRACKHUB_PORT: String(port), TRACKHUB_ADMIN_TOKEN: ADMIN, ...extra });
    await waitReady(`http://127.0.0.1:${port}`, hub);
    return hub;
  };
  const putSite = async (id: string) =>
    fetch(`http://127.0.0.1:${port}/admin/v1/production-sites/${id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Site ${id}` }),
    });
  const siteIds = async (): Promise<string[]> => {
    const store = await openStore(env.TRACKHUB_DATABASE_URL);
    try {
      return (await store.db.selectFrom('production_sites').select('site_id').orderBy('site_id').execute()).map((r) => r.site_id);
    } finally {
      await store.close();
    }
  };

  beforeAll(() => {
    dir = tempDir('trackhub-embedded');
    pgDir = join(dir, 'pg');
    env = { TRACKHUB_DATABASE_URL: `embedded://${pgDir}`, TRACKHUB_LOG_LEVEL: 'warn' };
  });
  afterAll(async () => {
    await stop(hub, 'SIGKILL');
    await stopEmbeddedServer(pgDir);
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps fsync and full_page_writes on, its folder 0700 and its files 0600, reachable by socket only', async () => {
    await startHub();
    const store = await openStore(env.TRACKHUB_DATABASE_URL);
    try {
      const show = async (name: string) => (await sql<Record<string, string>>`select current_setting(${name}) as v`.execute(store.db)).rows[0].v;
      expect(await show('fsync')).toBe('on');
      expect(await show('full_page_writes')).toBe('on');
      expect(await show('synchronous_commit')).toBe('on');
      expect(await show('listen_addresses')).toBe('');
      expect(await show('unix_socket_directories')).toBe(pgDir);
    } finally {
      await store.close();
    }
    const entries = modes(dir);
    expect(entries.filter((e) => e.path.startsWith(pgDir)).length).toBeGreaterThan(100);
    expect(lstatSync(dir).mode & 0o777).toBe(0o700);
    for (const e of entries) expect(e.mode.toString(8), e.path).toBe(e.dir ? '700' : '600');
  });

  it('runs commands while the hub runs (through its server), and a second hub on the folder refuses with one line', async () => {
    const added = runCli(['sites', 'add', 'WHILE-RUNNING', '--name', 'Added while the hub runs'], env);
    expect(await exited(added), added.output()).toBe(0);
    expect(livePostmaster(pgDir)?.status).toBe('ready');
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

    const second = runCli(['serve'], { ...env, TRACKHUB_PORT: String(await freePort()) });
    expect(await exited(second)).not.toBe(0);
    const lines = second.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^trackhub: another hub \\(pid ${hub?.child.pid}\\) runs on the embedded store ${pgDir}`));
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    // Another spelling of the same folder is the same store.
    const slashed = runCli(['serve'], { ...env, TRACKHUB_DATABASE_URL: `embedded://${pgDir}/`, TRACKHUB_PORT: String(await freePort()) });
    expect(await exited(slashed)).not.toBe(0);
    expect(slashed.output()).toMatch(/^trackhub: another hub \(pid \d+\) runs on the embedded store/);
  });

  it('a hub whose server is killed under it exits non-zero with a fatal line, and the next start recovers', async () => {
    const server = livePostmaster(pgDir);
    expect(server).toBeDefined();
    process.kill(server?.pid as number, 'SIGKILL');
    expect(await exited(hub as Proc)).toBe(1);
    expect(hub?.output()).toMatch(/"level":60,.*the embedded PostgreSQL stopped under the hub/);
    // At once: the killed server's backends may still hold its shared memory for a moment.
    await startHub();
    expect(await siteIds()).toContain('WHILE-RUNNING');
  });

  it('a SIGKILLed hub leaves its server running; the next hub adopts it and nothing is lost', async () => {
    expect((await putSite('BEFORE-KILL')).status).toBe(201);
    const server = livePostmaster(pgDir);
    expect(server).toBeDefined();
    await stop(hub, 'SIGKILL');
    // The server outlives the hub (its own session), and the next hub adopts it: same server, same data.
    expect(livePostmaster(pgDir)?.pid).toBe(server?.pid);
    await startHub();
    expect(livePostmaster(pgDir)?.pid).toBe(server?.pid);
    expect(await siteIds()).toEqual(expect.arrayContaining(['BEFORE-KILL', 'WHILE-RUNNING']));
    // Killed again: a command uses the server left behind, then stops it (no hub holds it any more).
    await stop(hub, 'SIGKILL');
    const listed = runCli(['sites', 'list'], env);
    expect(await exited(listed)).toBe(0);
    expect(listed.output()).toContain('BEFORE-KILL');
    expect(livePostmaster(pgDir)).toBeUndefined();
    await startHub();
  });

  it('restarts cleanly after the hub and its server were both killed (stale pid file and socket)', async () => {
    expect((await putSite('BEFORE-CRASH')).status).toBe(201);
    const server = livePostmaster(pgDir);
    await stop(hub, 'SIGKILL');
    process.kill(server?.pid as number, 'SIGKILL');
    await waitFor('the server to die', () => {
      try {
        process.kill(server?.pid as number, 0);
        return undefined;
      } catch {
        return true;
      }
    });
    expect(existsSync(join(pgDir, 'postmaster.pid'))).toBe(true);
    expect(existsSync(join(pgDir, '.s.PGSQL.5432'))).toBe(true);
    await startHub();
    expect(livePostmaster(pgDir)?.pid).not.toBe(server?.pid);
    expect(await siteIds()).toEqual(expect.arrayContaining(['BEFORE-CRASH', 'BEFORE-KILL', 'WHILE-RUNNING']));
  });

  it('ignores a pid file naming an unrelated live process', async () => {
    await stop(hub, 'SIGTERM');
    expect(livePostmaster(pgDir)).toBeUndefined();
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const pidFile = join(pgDir, 'postmaster.pid');
      writeFileSync(pidFile, `${sleeper.pid}\n${pgDir}\n0\n5432\n${pgDir}\n\n0 0\nready\n`, { mode: 0o600 });
      const owner = statSync(pgDir);
      chownSync(pidFile, owner.uid, owner.gid); // as the server's own account would have left it
      await startHub();
      expect(livePostmaster(pgDir)?.pid).not.toBe(sleeper.pid);
      expect(await siteIds()).toContain('BEFORE-CRASH');
    } finally {
      sleeper.kill();
    }
  });

  it('removes an empty pid file left by a crash while the server was writing it (not taken for one being written)', async () => {
    if (hub && hub.child.exitCode === null) await stop(hub, 'SIGTERM');
    expect(livePostmaster(pgDir)).toBeUndefined();
    const pidFile = join(pgDir, 'postmaster.pid');
    writeFileSync(pidFile, '', { mode: 0o600 });
    const owner = statSync(pgDir);
    chownSync(pidFile, owner.uid, owner.gid);
    // Older than a server takes to write it: a file being written this instant is waited for instead.
    const old = new Date(Date.now() - 60_000);
    utimesSync(pidFile, old, old);
    await startHub();
    expect(await siteIds()).toContain('BEFORE-CRASH');
  });

  it('a signal while the hub starts stops it once up, leaving no server running', async () => {
    if (hub && hub.child.exitCode === null) await stop(hub);
    expect(livePostmaster(pgDir)).toBeUndefined();
    const starting = runCli(['serve'], { ...env, TRACKHUB_PORT: String(await freePort()) });
    await waitFor('the hub to start its server', () => (livePostmaster(pgDir) ? true : undefined), 30_000, 10);
    starting.child.kill('SIGINT');
    expect(await exited(starting)).toBe(0);
    expect(livePostmaster(pgDir)).toBeUndefined();
    expect(existsSync(`${pgDir}.trackhub.pid`)).toBe(false);
  });

  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`${signal} drains the hub, stops its server and removes its marks`, async () => {
      if (!hub || hub.child.exitCode !== null) await startHub();
      expect(livePostmaster(pgDir)).toBeDefined();
      await stop(hub, signal);
      expect(hub?.child.exitCode).toBe(0);
      expect(livePostmaster(pgDir)).toBeUndefined();
      expect(existsSync(`${pgDir}.trackhub.pid`)).toBe(false);
      expect(existsSync(join(pgDir, 'postmaster.pid'))).toBe(false);
    });
  }

  it('Ctrl-C under npm start (SIGINT twice at once: the terminal and npm forwarding it) still drains and stops the server', async () => {
    if (hub && hub.child.exitCode === null) await stop(hub);
    const proc = await startHub({ TRACKHUB_LOG_LEVEL: 'info' }); // it says when it starts shutting down
    const exitedNow = new Promise((r) => proc.child.once('exit', r));
    proc.child.kill('SIGINT');
    // The second comes once the first is being handled (two pending SIGINTs would merge into one), as
    // npm's forwarded copy does a moment after the terminal's.
    await waitFor('the first signal handled', () => (proc.output().includes('shutting down') ? true : undefined), 30_000, 5);
    proc.child.kill('SIGINT');
    await exitedNow;
    expect(proc.child.exitCode, proc.output().slice(-1000)).toBe(0);
    expect(proc.output()).not.toMatch(/second signal/);
    expect(livePostmaster(pgDir)).toBeUndefined();
  });

  it('a hub that cannot start (its port taken) exits with one line and leaves no server running', async () => {
    expect(livePostmaster(pgDir)).toBeUndefined();
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    try {
      const busyPort = (taken.address() as AddressInfo).port;
      const failed = runCli(['serve'], { ...env, TRACKHUB_PORT: String(busyPort) });
      expect(await exited(failed)).toBe(1);
      expect(failed.output().trim().split('\n').filter((l) => !l.startsWith('{'))).toEqual([expect.stringMatching(/^trackhub: .*EADDRINUSE/)]);
      expect(livePostmaster(pgDir)).toBeUndefined();
      expect(existsSync(`${pgDir}.trackhub.pid`)).toBe(false);
    } finally {
      taken.close();
    }
  });

  it('a command on a stopped store starts the server for itself and stops it after', async () => {
    expect(livePostmaster(pgDir)).toBeUndefined();
    const listed = runCli(['issuers', 'list'], env);
    expect(await exited(listed), listed.output()).toBe(0);
    expect(livePostmaster(pgDir)).toBeUndefined();
    expect(readFileSync(join(pgDir, 'PG_VERSION'), 'utf8').trim()).toBe('18');
  });
});
