import { createHash, randomBytes } from 'node:crypto';
import type { ColumnType, Kysely } from 'kysely';
import { type Database, type Db, isUniqueViolation } from './db.ts';

/**
 * Named operator tokens (`trackhub admin-tokens`, `/admin/v1/admin-tokens`). Each has a scope:
 * `read` (every GET of the Admin API), `operate` (read, and replays), `admin` (everything).
 */
export const ADMIN_SCOPES = ['read', 'operate', 'admin'] as const;
export type AdminScope = (typeof ADMIN_SCOPES)[number];

export function isAdminScope(value: string): value is AdminScope {
  return (ADMIN_SCOPES as readonly string[]).includes(value);
}

/** True when a token of scope `held` may do what `needed` allows. */
export function scopeCovers(held: AdminScope, needed: AdminScope): boolean {
  return ADMIN_SCOPES.indexOf(held) >= ADMIN_SCOPES.indexOf(needed);
}

/** A token's name: what the audit log records as "who". */
export const ADMIN_TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const ADMIN_TOKEN_NAME_RULE = '1 to 64 of [A-Za-z0-9_.-], starting with a letter or digit';

/** The name the bootstrap token (TRACKHUB_ADMIN_TOKEN) acts under; no stored token may take it. */
export const ENV_TOKEN_NAME = 'env';

/** What the hub generates: `tha_` and 256 random bits in base64url (43 characters). */
export const ADMIN_TOKEN_FORMAT = /^tha_[A-Za-z0-9_-]{43}$/;

export function newAdminToken(): string {
  return `tha_${randomBytes(32).toString('base64url')}`;
}

/**
 * SHA-256, not bcrypt or argon2: those slow down guessing a low-entropy password, but a token here is
 * 256 random bits, so a plain hash already makes guessing it from the stored value hopeless, and a fast
 * hash keeps a lookup by hash (an index probe) cheap on every admin request.
 */
export function hashAdminToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export type AdminTokenTables = {
  admin_tokens: {
    name: string;
    token_hash: string;
    scope: string;
    created_at: Timestamp;
    last_used_at: Timestamp | null;
    revoked_at: Timestamp | null;
  };
};

function tables(db: Db): Kysely<Database & AdminTokenTables> {
  return db.withTables<AdminTokenTables>();
}

export class AdminTokenNameTaken extends Error {
  constructor(name: string) {
    super(`name: ${name} is already the name of a token (revoked names are not reused)`);
  }
}

export interface AdminTokenView {
  name: string;
  scope: AdminScope;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

/** Creates a token and returns it: the only time it is seen, the store keeps its hash. */
export async function createAdminToken(db: Db, name: string, scope: AdminScope): Promise<AdminTokenView & { token: string }> {
  if (name === ENV_TOKEN_NAME) throw new AdminTokenNameTaken(name);
  const token = newAdminToken();
  try {
    const row = await tables(db)
      .insertInto('admin_tokens')
      .values({ name, scope, token_hash: hashAdminToken(token) })
      .returning(['created_at'])
      .executeTakeFirstOrThrow();
    return { name, scope, createdAt: iso(row.created_at) as string, lastUsedAt: null, revokedAt: null, token };
  } catch (err) {
    if (isUniqueViolation(err, 'admin_tokens_pkey')) throw new AdminTokenNameTaken(name);
    throw err;
  }
}

/** Every token, active first then revoked, each by name; never the token or its hash. */
export async function listAdminTokens(db: Db): Promise<AdminTokenView[]> {
  const rows = await tables(db)
    .selectFrom('admin_tokens')
    .select(['name', 'scope', 'created_at', 'last_used_at', 'revoked_at'])
    .orderBy((eb) => eb('revoked_at', 'is not', null))
    .orderBy('name')
    .execute();
  return rows.map((r) => ({ name: r.name, scope: r.scope as AdminScope, createdAt: iso(r.created_at) as string, lastUsedAt: iso(r.last_used_at), revokedAt: iso(r.revoked_at) }));
}

export async function getAdminToken(db: Db, name: string): Promise<AdminTokenView | undefined> {
  return (await listAdminTokens(db)).find((t) => t.name === name);
}

/** Revokes an active token; false when there is none of that name (or it was revoked already). */
export async function revokeAdminToken(db: Db, name: string): Promise<boolean> {
  const res = await tables(db).updateTable('admin_tokens').set({ revoked_at: new Date() }).where('name', '=', name).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/**
 * The active token with this hash, marked as used now: the lookup and the `last used` time are one
 * statement. Callers cache the answer briefly, so `last used` is exact to within that cache's TTL.
 */
export async function useAdminToken(db: Db, tokenHash: string): Promise<{ name: string; scope: AdminScope } | undefined> {
  const row = await tables(db)
    .updateTable('admin_tokens')
    .set({ last_used_at: new Date() })
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .returning(['name', 'scope'])
    .executeTakeFirst();
  return row && { name: row.name, scope: row.scope as AdminScope };
}
