import type { ColumnType, Kysely } from 'kysely';
import type { Database, Db } from './db.ts';

/** The audit log of Admin API writes (`GET /admin/v1/audit`). */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export type AuditTables = {
  admin_audit: {
    id: ColumnType<number, never, never>;
    at: Timestamp;
    token_name: string;
    method: string;
    route: string;
    target_id: string | null;
    status: number;
    before: ColumnType<unknown, string | null, string | null>;
    after: ColumnType<unknown, string | null, string | null>;
    correlation_id: string;
  };
};

function tables(db: Db): Kysely<Database & AuditTables> {
  return db.withTables<AuditTables>();
}

export interface AuditEntry {
  tokenName: string;
  method: string;
  route: string;
  targetId: string | null;
  status: number;
  before: unknown;
  after: unknown;
  correlationId: string;
}

export const MASK = '***';

// Field names that hold a secret, wherever they sit: webhookSecret(s), clientSecret, privateKeyPem,
// apiKey / api_key_hash, token, password.
const SECRET_FIELD = /secret|private|api_?key|password|^token$|^token_hash$/i;

/**
 * A copy of `value` with every secret replaced by "***" (an array of secrets by one "***" per element,
 * so the count still shows), for the audit log: it shows that a secret was there or changed, never
 * the secret.
 */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    // A count or a flag under a secret's name (webhookSecretCount, retirePreviousSecret) is no secret.
    const secret = SECRET_FIELD.test(key) && v !== null && v !== undefined && typeof v !== 'number' && typeof v !== 'boolean';
    if (secret) out[key] = Array.isArray(v) ? v.map(() => MASK) : MASK;
    else out[key] = maskSecrets(v);
  }
  return out;
}

/** Writes one entry; `before` and `after` are masked here, so no caller can store a secret by mistake. */
export async function recordAudit(db: Db, e: AuditEntry): Promise<void> {
  const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(maskSecrets(v)));
  await tables(db)
    .insertInto('admin_audit')
    .values({
      token_name: e.tokenName,
      method: e.method,
      route: e.route,
      target_id: e.targetId,
      status: e.status,
      before: json(e.before),
      after: json(e.after),
      correlation_id: e.correlationId,
    })
    .execute();
}

export interface AuditView extends AuditEntry {
  id: number;
  at: string;
}

/** One page, newest first; `afterId` is the id of the last entry of the previous page. */
export async function listAudit(db: Db, q: { tokenName?: string; targetId?: string; afterId?: number; limit: number }): Promise<{ entries: AuditView[]; more: boolean }> {
  let query = tables(db).selectFrom('admin_audit').selectAll().orderBy('id', 'desc').limit(q.limit + 1);
  if (q.tokenName !== undefined) query = query.where('token_name', '=', q.tokenName);
  if (q.targetId !== undefined) query = query.where('target_id', '=', q.targetId);
  if (q.afterId !== undefined) query = query.where('id', '<', q.afterId);
  const rows = await query.execute();
  return {
    more: rows.length > q.limit,
    entries: rows.slice(0, q.limit).map((r) => ({
      id: Number(r.id),
      at: new Date(r.at).toISOString(),
      tokenName: r.token_name,
      method: r.method,
      route: r.route,
      targetId: r.target_id,
      status: r.status,
      before: r.before ?? null,
      after: r.after ?? null,
      correlationId: r.correlation_id,
    })),
  };
}

/** What the audit log records of a production site: its key only as "there is one". */
export async function siteSnapshot(db: Db, siteId: string): Promise<Record<string, unknown> | null> {
  const row = await db.selectFrom('production_sites').selectAll().where('site_id', '=', siteId).executeTakeFirst();
  if (!row) return null;
  return { siteId: row.site_id, name: row.name, carriers: row.carriers, apiKey: row.api_key_hash === null ? null : MASK, updatedAt: new Date(row.updated_at).toISOString() };
}
