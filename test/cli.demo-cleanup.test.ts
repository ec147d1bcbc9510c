import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanEarlierDemos, postmasterWorkingIn } from '../src/cli/demo-cleanup.ts';
import { tempDir } from './helpers/stores.ts';

/**
 * `trackhub demo` removes the folders of earlier demos that were killed; it may run as root in a
 * temporary folder everyone writes to, so a planted folder must never make it stop another server or
 * remove anything that is not a demo's own folder.
 */
describe('trackhub demo: clean-up of killed demos', () => {
  const uid = process.getuid?.() ?? 0;
  const DEAD = 4_194_305; // above Linux's largest pid: never a live process
  const alive = (pid: number) => pid !== DEAD;

  /** A folder as a killed demo leaves it: 0700, with pg (0700) inside. */
  function demoFolder(parent: string, name: string): string {
    const dir = join(parent, name);
    mkdirSync(join(dir, 'pg'), { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    writeFileSync(join(dir, 'pg', 'PG_VERSION'), '15\n');
    writeFileSync(join(dir, 'master.key'), 'x', { mode: 0o600 });
    return dir;
  }

  function run(parent: string, servers: Record<string, number> = {}, owners = [uid]) {
    const stopped: string[] = [];
    const asked: string[] = [];
    const done = cleanEarlierDemos({
      parent,
      owners,
      alive,
      serverIn: (folder) => {
        asked.push(folder);
        return servers[folder];
      },
      stop: async (folder) => {
        stopped.push(folder);
      },
    });
    return { done, stopped, asked };
  }

  it('removes a killed demo\'s own folder, stopping its server first, and leaves no trace of the move', async () => {
    const parent = tempDir('trackhub-clean');
    const dir = demoFolder(parent, `trackhub-demo-${DEAD}-abcDEF`);
    const { done, stopped } = run(parent, { [join(dir, 'pg')]: 12345 });
    expect(await done).toEqual([dir]);
    expect(stopped).toEqual([join(dir, 'pg')]);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('touches none of: a symlinked pg, a folder of another user, a folder open to others, a live demo, a link to a folder', async () => {
    const parent = tempDir('trackhub-clean');
    // Another PostgreSQL's data folder, which a planted link points at.
    const victim = tempDir('trackhub-victim');
    writeFileSync(join(victim, 'postmaster.pid'), '1\n');
    const linkedPg = join(parent, `trackhub-demo-${DEAD}-link01`);
    mkdirSync(linkedPg, { mode: 0o700 });
    symlinkSync(victim, join(linkedPg, 'pg'));
    const foreign = demoFolder(parent, `trackhub-demo-${DEAD}-other1`);
    if (uid === 0) {
      chownSync(foreign, 65_534, 65_534); // nobody
      chownSync(join(foreign, 'pg'), 65_534, 65_534);
    }
    const open = demoFolder(parent, `trackhub-demo-${DEAD}-open01`);
    chmodSync(open, 0o755);
    const live = demoFolder(parent, `trackhub-demo-${process.ppid}-live01`);
    const target = demoFolder(tempDir('trackhub-elsewhere'), 'kept');
    symlinkSync(target, join(parent, `trackhub-demo-${DEAD}-sym001`));
    const pgFile = join(parent, `trackhub-demo-${DEAD}-file01`);
    mkdirSync(pgFile, { mode: 0o700 });
    writeFileSync(join(pgFile, 'pg'), '');

    const before = readdirSync(parent).sort();
    // Not root: "another user" is a folder of ours that the owners given do not include.
    const { done, stopped, asked } = run(parent, { [join(linkedPg, 'pg')]: 1, [victim]: 1 }, uid === 0 ? [0] : [uid + 1]);
    const removed = await done;
    expect(removed).toEqual([]);
    expect(stopped.filter((f) => f.startsWith(linkedPg) || f.startsWith(victim) || f.startsWith(target))).toEqual([]);
    expect(asked.filter((f) => f.startsWith(linkedPg) || f.startsWith(foreign) || f.startsWith(open) || f.startsWith(live))).toEqual([]);
    for (const d of [linkedPg, foreign, open, live, pgFile]) expect(existsSync(d), d).toBe(true);
    expect(existsSync(join(victim, 'postmaster.pid'))).toBe(true);
    expect(existsSync(join(target, 'pg', 'PG_VERSION'))).toBe(true);
    expect(readdirSync(parent).sort()).toEqual(before);
  });

  it.runIf(process.getuid?.() === 0)('as root, removes a folder of the server\'s account with that account\'s rights only: what it could not delete survives', async () => {
    const parent = tempDir('trackhub-clean');
    const dir = demoFolder(parent, `trackhub-demo-${DEAD}-acct01`);
    chmodSync(parent, 0o755); // the account's child process must reach the folder (the temporary folder is 1777)
    // A root-only folder inside, standing for whatever a link swapped in during the removal would reach.
    const rootOnly = join(dir, 'pg', 'root-only');
    mkdirSync(rootOnly, { mode: 0o700 });
    writeFileSync(join(rootOnly, 'precious'), 'x');
    for (const f of [dir, join(dir, 'pg'), join(dir, 'pg', 'PG_VERSION'), join(dir, 'master.key')]) chownSync(f, 65_534, 65_534);
    const { done } = run(parent, {}, [0, 65_534]);
    // nobody cannot empty root's folder, so the removal fails and the folder is put aside, not forced.
    expect(await done).toEqual([]);
    const left = readdirSync(parent);
    const precious = left.flatMap((name) => (name.startsWith('.trackhub-demo-removing-') ? readdirSync(join(parent, name)).map((n) => join(parent, name, n)) : [join(parent, name)]));
    expect(precious.some((d) => existsSync(join(d, 'pg', 'root-only', 'precious')))).toBe(true);
    // Without the root-only folder, the account's own folder goes entirely.
    const plain = demoFolder(parent, `trackhub-demo-${DEAD}-acct02`);
    for (const f of [plain, join(plain, 'pg'), join(plain, 'pg', 'PG_VERSION'), join(plain, 'master.key')]) chownSync(f, 65_534, 65_534);
    expect(await run(parent, {}, [0, 65_534]).done).toEqual([plain]);
    expect(existsSync(plain)).toBe(false);
  });

  it('finds a server only when its working folder is exactly the folder named, not one reached through a link', () => {
    const here = process.cwd();
    const live = () => ({ pid: process.pid });
    expect(postmasterWorkingIn(here, live)).toBe(process.pid);
    const link = join(tempDir('trackhub-clean'), 'pg');
    symlinkSync(here, link);
    expect(postmasterWorkingIn(link, live)).toBeUndefined();
    expect(postmasterWorkingIn(here, () => undefined)).toBeUndefined();
  });
});
