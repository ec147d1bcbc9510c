import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAccessTokenKey } from '../src/auth/tokens.ts';
import { newSigningKeyPair } from '../src/delivery/signing.ts';
import { migrate, type OpenedStore, openStore } from '../src/store/db.ts';
import { getIssuer, upsertIssuer } from '../src/store/issuers.ts';
import { MasterKey } from '../src/store/secret-box.ts';
import { KEY_MISMATCH, openSecrets, unlockSecrets } from '../src/store/secrets.ts';
import { freshDatabase, STORE_KINDS, tempDir } from './helpers/stores.ts';

const ROOT = join(import.meta.dirname, '..');
const WEBHOOK_SECRET = `whsec_${Buffer.from('rotation-webhook-secret-0123456789').toString('base64')}`;
const CLIENT_SECRET = 'rotation-client-secret-0f1e2d3c4b5a';
/** An ed25519 notification signing key (whsk_): re-sealed by a rotation like every other secret. */
const SIGNING_KEY = newSigningKeyPair().secretKey;

/**
 * The real `trackhub` command, run from the sources (tsx) rather than from dist/, so the test needs no
 * build. A ceiling only bounds a hang.
 */
function trackhub(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, TRACKHUB_SECRET_KEY: '', TRACKHUB_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const ceiling = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(ceiling);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('trackhub secrets rotate-key --help', () => {
  it('says what it does, where the keys come from and what to do next', async () => {
    const help = await trackhub(['secrets', 'rotate-key', '--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--new-key-file <file>');
    expect(help.stdout).toMatch(/one transaction/);
    expect(help.stdout).toMatch(/TRACKHUB_SECRET_KEY, or else \{data folder\}\/secret\.key/);
    expect(help.stdout).toMatch(/restart/);
  });
});

describe.each(STORE_KINDS)('trackhub secrets rotate-key on %s', (kind) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** A store whose secrets were sealed with the key the hub generated into `dataDir`. */
  async function storeWithSecrets() {
    const database = await freshDatabase(kind);
    const dataDir = join(tempDir('trackhub-rotate'), 'data');
    const store = await openStore(database.url);
    cleanups.push(async () => {
      await store.close();
      await database.drop();
    });
    await migrate(store.db);
    await openSecrets(store.db, { dataDir }, () => {});
    await upsertIssuer(store.db, {
      issuerId: 'ISSUER_ROT', name: 'Rotating bank', notificationBaseUrl: 'https://bank.example', jwks: { keys: [] }, webhookSecrets: [WEBHOOK_SECRET],
      notificationAuth: { tokenUrl: 'https://bank.example/t', clientId: 'hub', clientSecret: CLIENT_SECRET }, maxOperationsPerNotification: 1, autoTrackShipment: false, enabled: true,
      notificationSigningPrivateKey: SIGNING_KEY,
    });
    const tokenKey = await loadAccessTokenKey(store.db);
    const env = { TRACKHUB_DATABASE_URL: database.url, TRACKHUB_DATA_DIR: dataDir };
    return { url: database.url, dataDir, keyFile: join(dataDir, 'secret.key'), tokenKey, env };
  }

  /** Opens the store anew (a restarted hub) with `key` and reads the secrets back. */
  async function readBack(url: string, key: MasterKey) {
    const store: OpenedStore = await openStore(url);
    try {
      await unlockSecrets(store.db, { key, source: 'TRACKHUB_SECRET_KEY' });
      return { issuer: await getIssuer(store.db, 'ISSUER_ROT'), tokenKey: await loadAccessTokenKey(store.db) };
    } finally {
      await store.close();
    }
  }

  it('with the key file: re-encrypts everything under a generated key, which replaces the file; the old key no longer opens the store', async () => {
    const s = await storeWithSecrets();
    const oldKey = readFileSync(s.keyFile, 'utf8').trim();
    const rotated = await trackhub(['secrets', 'rotate-key'], s.env);
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    const newKey = readFileSync(s.keyFile, 'utf8').trim();
    expect(newKey).not.toBe(oldKey);
    expect(statSync(s.keyFile).mode & 0o777).toBe(0o600);
    // The old key is kept under its own id, so a second rotation never deletes the key of older backups.
    const previous = readdirSync(s.dataDir).filter((n) => n.startsWith('secret.key.previous-'));
    expect(previous).toEqual([`secret.key.previous-${(MasterKey.parse(oldKey) as MasterKey).id}`]);
    expect(readFileSync(join(s.dataDir, previous[0]), 'utf8').trim()).toBe(oldKey);
    expect(existsSync(join(s.dataDir, 'secret.key.new'))).toBe(false);
    // What to do next, and no key.
    expect(rotated.stdout).toMatch(/re-encrypted the secrets of \d+ stored rows/);
    expect(rotated.stdout).toMatch(/next: restart every hub instance/);
    for (const key of [oldKey, newKey]) expect(rotated.stdout + rotated.stderr).not.toContain(key);

    const after = await readBack(s.url, MasterKey.parse(newKey) as MasterKey);
    expect(after.issuer).toMatchObject({ webhookSecrets: [WEBHOOK_SECRET], notificationAuth: { clientSecret: CLIENT_SECRET }, notificationSigningPrivateKey: SIGNING_KEY });
    expect(after.tokenKey).toEqual(s.tokenKey); // access tokens already issued stay valid
    await expect(readBack(s.url, MasterKey.parse(oldKey) as MasterKey)).rejects.toThrow(KEY_MISMATCH);
  });

  it('a rotation that committed but stopped before swapping its key file: never told to delete the only key, told to move it', async () => {
    const s = await storeWithSecrets();
    const oldKey = readFileSync(s.keyFile, 'utf8').trim();
    // As a run cut off after its commit leaves it: the store under the key in secret.key.new.
    const pending = MasterKey.generate();
    writeFileSync(join(s.dataDir, 'secret.key.new'), `${pending.toBase64()}\n`, { mode: 0o600 });
    await trackhub(['secrets', 'rotate-key', '--new-key-file', join(s.dataDir, 'secret.key.new')], s.env);
    writeFileSync(s.keyFile, `${oldKey}\n`, { mode: 0o600 }); // the swap that did not happen
    const again = await trackhub(['secrets', 'rotate-key'], s.env);
    expect(again.code, again.stderr).toBe(2);
    expect(again.stderr).toMatch(/secret\.key\.new holds the store's key \(a rotation stopped before its key file was swapped\)/);
    expect(again.stderr).toMatch(/move .*secret\.key\.new to .*secret\.key; do not delete it/);
    expect(existsSync(join(s.dataDir, 'secret.key.new'))).toBe(true);
    // A hub starting with the old key file says the same.
    await expect(readBack(s.url, MasterKey.parse(oldKey) as MasterKey)).rejects.toThrow(KEY_MISMATCH);
  });

  it('with TRACKHUB_SECRET_KEY and --new-key-file: moves the store to that key and says to set the variable', async () => {
    const s = await storeWithSecrets();
    const current = readFileSync(s.keyFile, 'utf8').trim();
    const next = MasterKey.generate();
    const nextFile = join(s.dataDir, 'next.key');
    writeFileSync(nextFile, `${next.toBase64()}\n`, { mode: 0o600 });
    const rotated = await trackhub(['secrets', 'rotate-key', '--new-key-file', nextFile], { ...s.env, TRACKHUB_SECRET_KEY: current });
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain(`set TRACKHUB_SECRET_KEY to the content of ${nextFile}`);
    expect(rotated.stdout + rotated.stderr).not.toContain(next.toBase64());
    expect(readFileSync(s.keyFile, 'utf8').trim()).toBe(current); // the variable is the key here; the file is left alone
    expect((await readBack(s.url, next)).issuer).toMatchObject({ webhookSecrets: [WEBHOOK_SECRET] });
  });

  it('with a key that is not the store\'s: refused in one line, nothing changed, no key file left behind', async () => {
    const s = await storeWithSecrets();
    const current = MasterKey.parse(readFileSync(s.keyFile, 'utf8')) as MasterKey;
    const refused = await trackhub(['secrets', 'rotate-key'], { ...s.env, TRACKHUB_SECRET_KEY: MasterKey.generate().toBase64() });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain(KEY_MISMATCH);
    expect(existsSync(join(s.dataDir, 'secret.key.new'))).toBe(false);
    expect((await readBack(s.url, current)).issuer).toMatchObject({ webhookSecrets: [WEBHOOK_SECRET] });
  });
});
