import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
    expect(() => prepareParent(join(file, 'sub', 'pg'), account)).toThrow(EmbeddedStoreError);
    expect(() => prepareParent(join(file, 'sub', 'pg'), account)).toThrow(/a-file is not a folder/);
    // /proc refuses new folders (ENOENT on mkdir): Node's recursive mkdir spun there forever.
    const started = Date.now();
    expect(() => prepareParent('/proc/trackhub-no-such/x/pg', account)).toThrow(/cannot make \/proc\/trackhub-no-such/);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(readdirSync(base).sort()).toEqual(['a-file', 'busy', 'empty', 'state']);
  });
});
