import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Db } from './db.ts';
import { isSealed, MasterKey, SecretBox, type SecretUnreadable, sealedKeyId, secretContext, useSecretBox } from './secret-box.ts';

/** The hub_secrets row whose sealed value proves a master key is the store's. */
const KEY_CHECK = 'secret_key_check';
const KEY_CHECK_VALUE = 'trackhub master key check';
/** Taken by every transaction that seals or re-seals the store's secrets (migrations use 7314002). */
const SECRETS_LOCK = 7314003;

export const SECRET_KEY_FILE = 'secret.key';

/** A one-line refusal to start (or to run a command) about the master key. */
export class SecretKeyError extends Error {}

export const KEY_MISMATCH = "TRACKHUB_SECRET_KEY does not match the key this store's secrets were encrypted with";

export interface KeySource {
  /** TRACKHUB_SECRET_KEY, parsed by config.ts. */
  configured?: MasterKey;
  /** The hub's data folder: `{dataDir}/secret.key` holds the key when none is configured. */
  dataDir: string;
}

export interface ResolvedKey {
  key: MasterKey;
  /** Where it came from, for messages: `TRACKHUB_SECRET_KEY` or the key file's path. */
  source: string;
}

export function keyFilePath(dataDir: string): string {
  return join(dataDir, SECRET_KEY_FILE);
}

/** Reads a key file; a file that does not hold a key is an error naming the file (never quoting it). */
export function readKeyFile(path: string): MasterKey {
  const key = MasterKey.parse(readFileSync(path, 'utf8'));
  if (!key) throw new SecretKeyError(`${path} does not hold a master key (32 bytes in base64, as \`openssl rand -base64 32\` writes)`);
  return key;
}

/**
 * Writes `key` to `path` (mode 0600, its folder made 0700 when missing) unless the file exists; returns
 * false when it did (another instance won the race, or the file was there). The key is written to a
 * temporary name, flushed to disk, then linked into place: a crash never leaves a half-written key file,
 * and of two processes only one creates it.
 */
export function writeKeyFileOnce(path: string, dir: string, key: MasterKey): boolean {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${SECRET_KEY_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`);
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, `${key.toBase64()}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(temp);
  }
}

/** The id of the master key the store's secrets are sealed under ('plain' before any is sealed), if any. */
export async function storeKeyId(db: Db): Promise<string | undefined> {
  const row = await db.selectFrom('hub_secrets').select('value').where('name', '=', KEY_CHECK).executeTakeFirst();
  return row ? (sealedKeyId(row.value) ?? 'plain') : undefined;
}

/**
 * The master key: TRACKHUB_SECRET_KEY, else `{dataDir}/secret.key`, else a new key written there (and
 * `notice` says so once, naming the file, never the key). A store whose secrets are already sealed gets no
 * new key: that would be another key than theirs, so the caller is told to give the right one instead.
 */
export async function resolveMasterKey(db: Db, source: KeySource, notice: (message: string) => void): Promise<ResolvedKey> {
  if (source.configured) return { key: source.configured, source: 'TRACKHUB_SECRET_KEY' };
  const path = keyFilePath(source.dataDir);
  try {
    return { key: readKeyFile(path), source: path };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof SecretKeyError) throw err;
      throw new SecretKeyError(`cannot read the master key file ${path}: ${(err as Error).message}`);
    }
  }
  if (await storeKeyId(db)) {
    throw new SecretKeyError(
      `TRACKHUB_SECRET_KEY is not set and ${path} does not exist, but this store's secrets are encrypted: give this instance the key the others use (TRACKHUB_SECRET_KEY, or their key file)`,
    );
  }
  const created = writeKeyFileOnce(path, source.dataDir, MasterKey.generate());
  if (created) notice(`generated the master key for stored secrets in ${path} (mode 0600): back it up; every instance sharing this store needs the same key (TRACKHUB_SECRET_KEY or this file)`);
  return { key: readKeyFile(path), source: path };
}

/** Every stored secret, by where it lives: what sealing on start and key rotation walk over. */
interface IssuerSecrets {
  issuer_id: string;
  webhook_secrets: unknown;
  notification_auth: unknown;
  notification_tls: unknown;
  notification_signing_key: string | null;
}

type Transform = (value: string, context: string) => string;

/** Applies `transform` to every stored secret in `tx`; returns how many rows changed. */
async function transformSecrets(tx: Db, transform: Transform): Promise<number> {
  let changed = 0;
  const issuers = (await tx
    .selectFrom('issuers')
    .select(['issuer_id', 'webhook_secrets', 'notification_auth', 'notification_tls', 'notification_signing_key'])
    .orderBy('issuer_id')
    .forUpdate()
    .execute()) as IssuerSecrets[];
  for (const r of issuers) {
    const sealed = sealIssuerSecrets(r, transform);
    if (!sealed) continue;
    await tx
      .updateTable('issuers')
      .set({
        webhook_secrets: JSON.stringify(sealed.webhook_secrets),
        notification_auth: sealed.notification_auth === null ? null : JSON.stringify(sealed.notification_auth),
        notification_tls: sealed.notification_tls === null ? null : JSON.stringify(sealed.notification_tls),
        notification_signing_key: sealed.notification_signing_key,
      } as never)
      .where('issuer_id', '=', r.issuer_id)
      .execute();
    changed++;
  }
  const hubSecrets = await tx.selectFrom('hub_secrets').select(['name', 'value']).orderBy('name').forUpdate().execute();
  for (const r of hubSecrets) {
    const value = transform(r.value, secretContext('hub_secrets', r.name, 'value'));
    if (value === r.value) continue;
    await tx.updateTable('hub_secrets').set({ value }).where('name', '=', r.name).execute();
    changed++;
  }
  return changed;
}

/** The issuer row's secret fields after `transform`, or undefined when nothing changed. */
function sealIssuerSecrets(r: IssuerSecrets, transform: Transform) {
  let changed = false;
  const apply = (value: string, field: string) => {
    const next = transform(value, secretContext('issuers', r.issuer_id, field));
    if (next !== value) changed = true;
    return next;
  };
  const webhook_secrets = ((r.webhook_secrets as string[] | null) ?? []).map((s) => apply(s, 'webhook_secrets'));
  const auth = r.notification_auth as { clientSecret?: string } | null;
  const notification_auth = auth && typeof auth.clientSecret === 'string' ? { ...auth, clientSecret: apply(auth.clientSecret, 'notification_auth.clientSecret') } : auth;
  const tls = r.notification_tls as { privateKeyPem?: string } | null;
  const notification_tls = tls && typeof tls.privateKeyPem === 'string' ? { ...tls, privateKeyPem: apply(tls.privateKeyPem, 'notification_tls.privateKeyPem') } : tls;
  const notification_signing_key = r.notification_signing_key === null ? null : apply(r.notification_signing_key, 'notification_signing_key');
  return changed ? { webhook_secrets, notification_auth, notification_tls, notification_signing_key } : undefined;
}

/** Checks the key against the store's check value (creating it on a new store); a mismatch is a refusal. */
async function checkKey(tx: Db, box: SecretBox, source: string): Promise<void> {
  const context = secretContext('hub_secrets', KEY_CHECK, 'value');
  await tx
    .insertInto('hub_secrets')
    .values({ name: KEY_CHECK, value: box.seal(KEY_CHECK_VALUE, context) })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await tx.selectFrom('hub_secrets').select('value').where('name', '=', KEY_CHECK).executeTakeFirstOrThrow();
  let opened: string | undefined;
  try {
    opened = isSealed(row.value) ? box.open(row.value, context) : undefined;
  } catch {
    opened = undefined;
  }
  if (opened !== KEY_CHECK_VALUE) {
    const storeKey = sealedKeyId(row.value);
    const from = source === 'TRACKHUB_SECRET_KEY' ? '' : `; the key was read from ${source}`;
    throw new SecretKeyError(`${KEY_MISMATCH} (store key id ${storeKey ?? 'unknown'}, given key id ${box.key.id}${from})${pendingRotationHint(source, storeKey)}`);
  }
}

/**
 * A rotation that committed in the store but stopped before its key file was swapped leaves the store's
 * key in `secret.key.new`: say so, since that file is then the only copy of the key the store is under.
 */
function pendingRotationHint(source: string, storeKeyId: string | undefined): string {
  if (source === 'TRACKHUB_SECRET_KEY' || !storeKeyId) return '';
  try {
    const pending = readKeyFile(`${source}.new`);
    if (pending.id === storeKeyId) return `; ${source}.new holds the store's key (a rotation stopped before its key file was swapped): keep ${source} as ${source}.previous-<its key id> and move ${source}.new to ${source}; do not delete it`;
  } catch {
    // no such file, or not a key: nothing to add
  }
  return '';
}

/**
 * Unlocks the store's secrets with `key`: refuses a key that is not the store's, seals what rows still
 * hold in plaintext (rows from before encryption; idempotent), and makes the box serve this Db handle.
 * Instances starting together serialise on an advisory lock, so the check value is created once.
 */
export async function unlockSecrets(db: Db, resolved: ResolvedKey): Promise<{ sealed: number; box: SecretBox }> {
  const box = new SecretBox(resolved.key);
  const sealed = await db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(${SECRETS_LOCK})`.execute(tx);
    await checkKey(tx, box, resolved.source);
    return transformSecrets(tx, (value, context) => box.sealIfPlain(value, context));
  });
  useSecretBox(db, box);
  return { sealed, box };
}

/** Resolves the master key and unlocks the store's secrets: what the hub and every command do after migrating. */
export async function openSecrets(db: Db, source: KeySource, notice: (message: string) => void): Promise<{ sealed: number; box: SecretBox }> {
  return unlockSecrets(db, await resolveMasterKey(db, source, notice));
}

/**
 * Re-seals every stored secret (and the check value) under `next`, in one transaction: either every
 * secret moves to the new key or none does. The current key must open the check value first.
 */
export async function rotateSecrets(db: Db, current: ResolvedKey, next: MasterKey): Promise<number> {
  if (current.key.equals(next)) throw new SecretKeyError('the new master key is the current one');
  const from = new SecretBox(current.key);
  const to = new SecretBox(next);
  return db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(${SECRETS_LOCK})`.execute(tx);
    await checkKey(tx, from, current.source);
    try {
      return await transformSecrets(tx, (value, context) => to.seal(from.open(value, context), context));
    } catch (err) {
      const unreadable = err as SecretUnreadable;
      if (unreadable.context) throw new SecretKeyError(`${unreadable.message}: nothing was changed`);
      throw err;
    }
  });
}
