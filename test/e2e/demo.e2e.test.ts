import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { livePostmaster, stopEmbeddedServer } from '../../src/store/embedded.ts';
import { type Proc, runCli, waitFor } from '../helpers/processes.ts';
import { tempDir } from '../helpers/stores.ts';

/**
 * `trackhub demo` as a newcomer runs it: the real CLI in a child process, its own hub, embedded store,
 * issuer back-end on the SDK and site. What it prints is what the README promises.
 */

const exitOf = (p: Proc) => new Promise<number | null>((r) => p.child.once('exit', (code) => r(code)));
/** The store folder the demo names in its first line. */
const storeDir = (out: string) => /embedded store in (\S+),/.exec(out)?.[1];
/** No such process, or only its zombie (stopped, not yet reaped). */
const processGone = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
};
const SHIPMENT_ORDER = ['INFO_RECEIVED', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERED'];

describe('trackhub demo', () => {
  const kept = tempDir('trackhub-demo-data');
  afterAll(async () => {
    await stopEmbeddedServer(join(kept, 'pg')).catch(() => undefined);
    rmSync(kept, { recursive: true, force: true });
  });

  it('tracks a card through PRODUCTION and SHIPMENT to DELIVERED, every notification verified, and exits 0 within a minute', async () => {
    const started = Date.now();
    const demo = runCli(['demo'], {});
    const code = await exitOf(demo);
    const tookMs = Date.now() - started;
    const out = demo.output();
    expect(code, out).toBe(0);
    expect(tookMs, out).toBeLessThan(60_000);

    const lines = out.split('\n').filter((l) => / (PRODUCTION|SHIPMENT) +(PENDING|SUCCESSFUL|FAILED) /.test(l));
    for (const l of lines) expect(l, out).toMatch(/ verified \(#\d+\)$/);
    const fields = lines.map((l) => l.split(/\s+/));
    const production = fields.filter((f) => f[1] === 'PRODUCTION');
    expect(production.map((f) => `${f[2]} ${f[3]}`), out).toEqual(['SUCCESSFUL CARD_SHIPPED']);
    const shipment = fields.filter((f) => f[1] === 'SHIPMENT');
    expect(shipment[0][2], out).toBe('PENDING');
    // Then the parcel's story, each update newer than the one before, in the story's order, to DELIVERED.
    const statuses = shipment.slice(1).map((f) => f[3]);
    expect(statuses.at(-1), out).toBe('DELIVERED');
    expect(new Set(statuses), out).toEqual(new Set(SHIPMENT_ORDER));
    const places = statuses.map((s) => SHIPMENT_ORDER.indexOf(s));
    expect(places, out).toEqual([...places].sort((a, b) => a - b));
    const sequence = shipment.map((f) => Number(/#(\d+)/.exec(f.at(-1) as string)?.[1]));
    expect(sequence, out).toEqual(sequence.map((_, i) => i + 1));
    expect(out).toMatch(/delivered, every notification verified/);

    // Its temporary folder (the embedded database, the hub's master key) is gone.
    const dir = storeDir(out);
    expect(dir, out).toBeDefined();
    expect(existsSync(dir as string), out).toBe(false);
  }, 90_000);

  it('Ctrl-C stops it with 130: the embedded database stopped, the temporary folder removed', async () => {
    const demo = runCli(['demo'], {});
    // Mid-story: once the parcel has shown its first scan.
    // The ceiling bounds a hang only: a new user's loaded box once took past 60 s to get there.
    await waitFor('a SHIPMENT update', () => / SHIPMENT +SUCCESSFUL /.test(demo.output()) || undefined, 100_000);
    const exited = exitOf(demo);
    demo.child.kill('SIGINT');
    expect(await exited, demo.output()).toBe(130);
    expect(demo.output()).toMatch(/interrupted/);
    expect(existsSync(storeDir(demo.output()) as string)).toBe(false);
  }, 130_000);

  it('--keep keeps the hub running after delivery with a console login that works, until Ctrl-C (exit 0, folder removed)', async () => {
    const demo = runCli(['demo', '--keep'], {});
    const login = await waitFor('the console line', () => /console +(http:\S+)\/console +sign in with the admin token (\S+)/.exec(demo.output()) ?? undefined, 60_000);
    const [, hubUrl, token] = login;
    const issuers = await fetch(`${hubUrl}/admin/v1/issuers`, { headers: { authorization: `Bearer ${token}` } });
    expect(issuers.status).toBe(200);
    expect(((await issuers.json()) as { issuers: { issuerId: string }[] }).issuers.map((i) => i.issuerId)).toContain('DEMOBANK01');
    const exited = exitOf(demo);
    demo.child.kill('SIGINT');
    expect(await exited, demo.output()).toBe(0);
    expect(existsSync(storeDir(demo.output()) as string)).toBe(false);
  }, 90_000);

  it('with --data the folder stays, its database stopped, and runs again on it; a card not delivered in time exits 1 saying so', async () => {
    const first = runCli(['demo', '--data', kept], {});
    expect(await exitOf(first), first.output()).toBe(0);
    expect(existsSync(join(kept, 'pg', 'postmaster.pid')), first.output()).toBe(false);
    // Again on the same store: a new card, verified with a new webhook secret (the hub rotates to it).
    const demo = runCli(['demo', '--timeout', '2', '--data', kept], {});
    expect(await exitOf(demo), demo.output()).toBe(1);
    expect(demo.output()).toMatch(/the card was not delivered within 2 s \(last notification: .*\); --timeout gives it longer/);
    expect(readdirSync(kept)).toContain('pg');
    // The embedded server wrote its pid file while running and removes it when it stops.
    expect(existsSync(join(kept, 'pg', 'postmaster.pid')), demo.output()).toBe(false);
  }, 90_000);

  it('a demo killed with SIGKILL leaves its folder and database; the next demo stops that server and removes the folder, saying so', async () => {
    const killed = runCli(['demo'], {});
    const dir = await waitFor('the store folder', () => storeDir(killed.output()), 60_000);
    // Killed once its hub is up, so its embedded PostgreSQL runs.
    const server = await waitFor('its embedded PostgreSQL', () => livePostmaster(join(dir, 'pg')), 60_000);
    const exited = exitOf(killed);
    killed.child.kill('SIGKILL');
    await exited;
    expect(existsSync(dir)).toBe(true);
    expect(livePostmaster(join(dir, 'pg'))?.pid).toBe(server.pid);

    const next = runCli(['demo'], {});
    try {
      await waitFor('the clean-up line', () => /cleaned up \d+ earlier demo folder\(s\)/.test(next.output()) || undefined, 60_000);
      expect(next.output()).toContain(dir);
      expect(existsSync(dir)).toBe(false);
      expect(processGone(server.pid)).toBe(true);
    } finally {
      const done = exitOf(next);
      next.child.kill('SIGINT');
      await done;
    }
    expect(existsSync(storeDir(next.output()) as string)).toBe(false);
  }, 120_000);

  it('refuses a bad option with 2 and says why', async () => {
    const demo = runCli(['demo', '--timeout', 'soon'], {});
    expect(await exitOf(demo)).toBe(2);
    expect(demo.output()).toMatch(/--timeout must be a number of seconds/);
  });
});
