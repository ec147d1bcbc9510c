import type { Command } from 'commander';
import type { MasterKey } from '../store/secret-box.ts';
import { type CliHelpers, fail } from './common.ts';

// What the command runs (the store, the key files) is imported inside its action: registering it stays
// light, so `trackhub --help` does not load the hub.



const ROTATE_HELP = `
Re-encrypts every stored secret (issuers' webhook secrets (whsec_), the ed25519 private keys that sign
their notifications (whsk_), OAuth client secrets, mTLS private keys, the hub's token signing key) under a
new master key, in one transaction: all move to the new key, or none.

The current key is TRACKHUB_SECRET_KEY, or else {data folder}/secret.key. The new key is read from
--new-key-file, or generated and written to {data folder}/secret.key.new (mode 0600). No key is printed.

After it:
  - with the key file: secret.key holds the new key and secret.key.previous-<old key id> the old one (backups taken
    before the rotation need it; delete it when they are gone);
  - with TRACKHUB_SECRET_KEY: set it to the new key on every instance.
Instances running on the store keep the old key until they restart: restart them all right after (or
run the command while they are stopped).`;

/** `trackhub secrets rotate-key`. Registered on the program by main.ts. */
export function registerSecretCommands(program: Command, cli: CliHelpers): void {
  const secrets = program.command('secrets').description('Manage the master key that encrypts stored secrets');
  secrets
    .command('rotate-key')
    .description('Re-encrypt every stored secret under a new master key')
    .option('--new-key-file <file>', 'the new key (32 bytes in base64, e.g. from openssl rand -base64 32); generated when not given')
    .addHelpText('after', ROTATE_HELP)
    .action(async (opts: { newKeyFile?: string }) => {
      const { existsSync, linkSync, renameSync, rmSync, statSync } = await import('node:fs');
      const { join, resolve } = await import('node:path');
      const { MasterKey: Key } = await import('../store/secret-box.ts');
      const { keyFilePath, readKeyFile, rotateSecrets, SecretKeyError, storeKeyId, writeKeyFileOnce } = await import('../store/secrets.ts');
      const config = cli.config();
      const keyFile = keyFilePath(config.dataDir);
      const guard = <T>(fn: () => T): T => {
        try {
          return fn();
        } catch (err) {
          if (err instanceof SecretKeyError) fail(err.message);
          throw err;
        }
      };

      let current: { key: MasterKey; source: string };
      if (config.secretKey) current = { key: config.secretKey, source: 'TRACKHUB_SECRET_KEY' };
      else if (existsSync(keyFile)) current = { key: guard(() => readKeyFile(keyFile)), source: keyFile };
      else fail(`no master key to rotate: TRACKHUB_SECRET_KEY is not set and ${keyFile} does not exist`);

      // The new key is on disk before the store moves to it: a crash after the commit never loses it.
      let next: MasterKey;
      let nextFile: string;
      let generated = false;
      if (opts.newKeyFile) {
        nextFile = resolve(opts.newKeyFile);
        // A key file is one line: anything else (a device, a big file) is refused before it is read, and a
        // file that cannot be read is said so by its error code (exit 2), never with its content.
        const file = nextFile;
        next = guard(() => {
          let stat: import('node:fs').Stats;
          try {
            stat = statSync(file);
          } catch (err) {
            fail(`cannot read --new-key-file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
          }
          if (!stat.isFile() || stat.size > 4096) fail(`--new-key-file ${file} is not a key file (32 bytes in base64, as \`openssl rand -base64 32\` writes)`);
          try {
            return readKeyFile(file);
          } catch (err) {
            if (err instanceof SecretKeyError) throw err;
            fail(`cannot read --new-key-file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
          }
        });
      } else {
        nextFile = join(config.dataDir, 'secret.key.new');
        next = Key.generate();
        if (!writeKeyFileOnce(nextFile, config.dataDir, next)) {
          // Never advise removing it before knowing the store is not under it: opening the store with the
          // current key fails (naming this file) when an earlier rotation committed to the key it holds.
          const storeKey = await cli.withStore((db) => storeKeyId(db)).catch((err: unknown) => {
            if (err instanceof SecretKeyError) fail(err.message);
            throw err;
          });
          fail(`${nextFile} is left from a rotation that did not commit (the store is still under key id ${storeKey ?? 'unknown'}): remove it and run again`);
        }
        generated = true;
      }

      let rows: number;
      try {
        rows = await cli.withStore((db) => rotateSecrets(db, current, next));
      } catch (err) {
        // Nothing changed in the store: the generated key is of no use.
        if (generated) rmSync(nextFile, { force: true });
        if (err instanceof SecretKeyError) fail(err.message);
        throw err;
      }

      const lines = [`re-encrypted the secrets of ${rows} stored rows under the new master key (key id ${next.id})`];
      if (current.source === keyFile) {
        // The hub reads this file at start: it now holds the new key; the old one stays beside it.
        // Named by the old key's id: a second rotation must not delete the key of older backups.
        const previous = `${keyFile}.previous-${current.key.id}`;
        if (!existsSync(previous)) linkSync(keyFile, previous);
        if (generated) renameSync(nextFile, keyFile);
        else {
          const temp = `${keyFile}.rotating`;
          rmSync(temp, { force: true });
          writeKeyFileOnce(temp, config.dataDir, next);
          renameSync(temp, keyFile);
        }
        lines.push(
          `${keyFile} now holds the new key; the old one is in ${previous} (backups taken before now need it: delete it once they are gone)`,
          'next: restart every hub instance on this store; instances on other machines need a copy of the new key file (or TRACKHUB_SECRET_KEY set to it)',
        );
      } else {
        lines.push(
          `the new key is in ${nextFile}`,
          `next: set TRACKHUB_SECRET_KEY to the content of ${nextFile} on every hub instance and restart them (until then they cannot read the stored secrets); then keep that file where you keep secrets, not on this disk`,
        );
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
