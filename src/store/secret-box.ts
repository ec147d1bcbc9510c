import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';

/**
 * Secrets at rest: envelope encryption with AES-256-GCM from node:crypto (no library needed: GCM is the
 * authenticated mode made for this, and node:crypto is OpenSSL's).
 *
 * Every stored secret gets a data key of its own (32 random bytes). The value is sealed with the data
 * key, and the data key is wrapped (sealed) with the master key (`TRACKHUB_SECRET_KEY`, or the key file
 * the hub generated). Both seals authenticate a context, `table/row/field` (e.g.
 * `issuers/BANK000001/notification_auth.clientSecret`), as additional data: a sealed value copied into
 * another issuer's row, or into another field, does not open. A fresh data key and IV per value means a
 * GCM nonce is never reused under one key, however many values are written.
 *
 * Stored form: `thsb1.<master key id>.<wrapped data key>.<sealed value>` (base64url; wrapped = IV 12 |
 * encrypted key 32 | tag 16; sealed = IV 12 | ciphertext | tag 16). The `thsb1.` prefix is the format's
 * version: it tells sealed values from the plaintext ones rows held before encryption existed (sealed on
 * the next start). The key id (a keyed hash of the master key, not the key) names which key sealed a
 * value, for the error when another key is given.
 */

const VERSION = 'thsb1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const MASTER_KEY_BYTES = 32;
const SEALED = /^thsb1\.([0-9a-f]{16})\.([A-Za-z0-9_-]{80})\.([A-Za-z0-9_-]{38,})$/;
/** 32 bytes in standard base64: 43 characters and one `=`. */
const KEY_BASE64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** The master key. Never printed: it shows as [redacted] in logs, JSON and console.log. */
export class MasterKey {
  readonly #bytes: Buffer;
  /** A keyed hash of the key (8 bytes, hex): names the key without revealing it. */
  readonly id: string;

  private constructor(bytes: Buffer) {
    this.#bytes = bytes;
    this.id = createHmac('sha256', bytes).update('trackhub master key id').digest('hex').slice(0, 16);
  }

  static generate(): MasterKey {
    return new MasterKey(randomBytes(MASTER_KEY_BYTES));
  }

  /** A key written as base64 (surrounding whitespace ignored); undefined unless it is exactly 32 bytes. */
  static parse(text: string): MasterKey | undefined {
    const trimmed = text.trim();
    return KEY_BASE64.test(trimmed) ? new MasterKey(Buffer.from(trimmed, 'base64')) : undefined;
  }

  /** The key as written to a key file: the only way out of this object. */
  toBase64(): string {
    return this.#bytes.toString('base64');
  }

  equals(other: MasterKey): boolean {
    return this.#bytes.equals(other.#bytes);
  }

  /** For SecretBox only. */
  bytes(): Buffer {
    return this.#bytes;
  }

  toJSON(): string {
    return '[redacted]';
  }

  toString(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return 'MasterKey [redacted]';
  }
}

/** A stored secret that does not open: sealed under another master key, copied from another row, or altered. */
export class SecretUnreadable extends Error {
  constructor(
    readonly context: string,
    readonly keyId: string,
  ) {
    super(`the stored secret ${context} does not open with the master key (sealed under key id ${keyId})`);
  }
}

/** A secret was to be written or read through a store whose secrets were never unlocked (a wiring bug). */
export class SecretsLocked extends Error {
  constructor() {
    super('stored secrets are locked: the store was opened without its master key (unlockSecrets)');
  }
}

export function isSealed(value: string): boolean {
  return SEALED.test(value);
}

/** The context a secret is bound to: `table/row/field`. */
export function secretContext(table: string, row: string, field: string): string {
  return `${table}/${row}/${field}`;
}

function seal(key: Buffer, plain: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  return Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

/** Throws when the tag does not verify (wrong key, wrong context, altered bytes). */
function unseal(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  const iv = sealed.subarray(0, IV_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
}

export class SecretBox {
  constructor(readonly key: MasterKey) {}

  /** Seals `plain` for `context` under a fresh data key. */
  seal(plain: string, context: string): string {
    const aad = Buffer.from(`${VERSION}\0${context}`);
    const dataKey = randomBytes(MASTER_KEY_BYTES);
    try {
      const wrapped = seal(this.key.bytes(), dataKey, aad);
      const sealed = seal(dataKey, Buffer.from(plain, 'utf8'), aad);
      return `${VERSION}.${this.key.id}.${wrapped.toString('base64url')}.${sealed.toString('base64url')}`;
    } finally {
      dataKey.fill(0);
    }
  }

  /** The secret `stored` holds for `context`; a plaintext value (a row from before encryption) as it is. */
  open(stored: string, context: string): string {
    const m = SEALED.exec(stored);
    if (!m) return stored;
    const aad = Buffer.from(`${VERSION}\0${context}`);
    let dataKey: Buffer | undefined;
    try {
      dataKey = unseal(this.key.bytes(), Buffer.from(m[2], 'base64url'), aad);
      return unseal(dataKey, Buffer.from(m[3], 'base64url'), aad).toString('utf8');
    } catch {
      throw new SecretUnreadable(context, m[1]);
    } finally {
      dataKey?.fill(0);
    }
  }

  /** Seals a plaintext value; leaves a sealed one as it is (so sealing rows on start is idempotent). */
  sealIfPlain(value: string, context: string): string {
    return isSealed(value) ? value : this.seal(value, context);
  }
}

/** The key id a sealed value names, or undefined for plaintext. */
export function sealedKeyId(stored: string): string | undefined {
  return SEALED.exec(stored)?.[1];
}

// Which box serves which store handle. Functions of src/store take a Db; the box travels with it, set
// once when the hub (or a command) unlocks the store's secrets, so no call site can forget to pass it.
const boxes = new WeakMap<object, SecretBox>();

export function useSecretBox(db: object, box: SecretBox): void {
  boxes.set(db, box);
}

export function secretBoxOf(db: object): SecretBox {
  const box = boxes.get(db);
  if (!box) throw new SecretsLocked();
  return box;
}

/** Opens a stored value; a plaintext one needs no box (so reading old rows never depends on the wiring). */
export function openStoredSecret(db: object, stored: string, context: string): string {
  return isSealed(stored) ? secretBoxOf(db).open(stored, context) : stored;
}
