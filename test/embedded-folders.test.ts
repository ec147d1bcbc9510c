import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EmbeddedStoreError, prepareParent, serviceAccount } from '../src/store/embedded-folders.ts';
import { tempDir } from './helpers/stores.ts';

/**
 * The folders around the embedded store: made level by level 0700, handed to the server's account when
 * the hub runs as root (PostgreSQL refuses root), and checked before anything is made.
 */
describe('embedded store folders', () => {
  const base = tempDir('trackhub-folders');
  chmodSync(base, 0o711); // a folder others may pass through, like most homes of a working copy
  const account = serviceAccount(); // as root: the postgres account; otherwise none

  it('makes every missing level 0700, and as root hands each one to the server account', () => {
    const folder = join(base, 'state', 'hub', 'pg');
    prepareParent(folder, account);
    for (const dir of [join(base, 'state'), join(base, 'state', 'hub')]) {
      const st = statSync(dir);
      expect((st.mode & 0o777).toString(8), dir).toBe('700');
      expect(st.uid, dir).toBe(account ? account.uid : process.getuid?.());
    }
    expect(existsSync(folder)).toBe(false); // the store's own folder is initdb's to make
  });

  it('hands over an empty parent closed to the account, but refuses one holding other files', () => {
    const empty = join(base, 'empty');
    mkdirSync(empty, { mode: 0o700 });
    prepareParent(join(empty, 'pg'), account);
    expect(statSync(empty).uid).toBe(account ? account.uid : process.getuid?.());

    const busy = join(base, 'busy');
    mkdirSync(busy, { mode: 0o700 });
    writeFileSync(join(busy, 'notes.txt'), 'not the store');
    if (account) {
      expect(() => prepareParent(join(busy, 'pg'), account)).toThrow(/cannot enter .*busy, which holds other files/);
      expect(statSync(busy).uid).toBe(0);
    } else {
      prepareParent(join(busy, 'pg'), account); // the hub's own user needs no hand-over
      expect(statSync(busy).uid).toBe(process.getuid?.());
    }
  });

  it('refuses a path through a file, or where nothing can be made, with one clear line and nothing left behind', () => {
    const file = join(base, 'a-file');
    writeFileSync(file, 'x');
    const before = readdirSync(base).sort();
    expect(() => prepareParent(join(file, 'sub', 'pg'), account)).toThrow(EmbeddedStoreError);
    expect(() => prepareParent(join(file, 'sub', 'pg'), account)).toThrow(/a-file is not a folder/);
    // /proc refuses new folders (ENOENT on mkdir): Node's recursive mkdir spun there forever, so the call
    // runs in a child process. It must come back with the error; a spin would only meet the ceiling,
    // which bounds a hang and is no speed requirement.
    const module = pathToFileURL(join(import.meta.dirname, '../src/store/embedded-folders.ts')).href;
    const script = `
      const { EmbeddedStoreError, prepareParent, serviceAccount } = await import(${JSON.stringify(module)});
      try { prepareParent('/proc/trackhub-no-such/x/pg', serviceAccount()); console.log('no error'); }
      catch (err) { console.log((err instanceof EmbeddedStoreError ? 'EmbeddedStoreError' : 'other') + ': ' + err.message); }`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(child.error, child.stderr).toBeUndefined(); // not killed at the ceiling
    expect(child.status, child.stderr).toBe(0);
    expect(child.stdout).toMatch(/^EmbeddedStoreError: .*cannot make \/proc\/trackhub-no-such/);
    expect(() => prepareParent('/proc/trackhub-no-such/x/pg', account)).toThrow(/cannot make \/proc\/trackhub-no-such/);
    expect(readdirSync(base).sort()).toEqual(before); // nothing was made beside the file
  });
});
