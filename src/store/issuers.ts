import { sql } from 'kysely';
import { LRUCache } from 'lru-cache';
import { ISSUER_ID } from '../domain/track-request.ts';
import type { Db } from './db.ts';
import { openStoredSecret, SecretUnreadable, secretBoxOf, secretContext } from './secret-box.ts';

export interface Issuer {
  issuerId: string;
  name: string;
  notificationBaseUrl: string;
  jwks: { keys: Record<string, unknown>[] };
  webhookSecrets: string[];
  /** How notifications are signed: HMAC with the webhook secrets (v1), or ed25519 (v1a). Left as it is when undefined on write. */
  notificationSigning?: NotificationSigning;
  /**
   * The ed25519 secret key (`whsk_…`) signing v1a beside any webhook secrets; null when none. Stored
   * sealed, never shown (its public key is). Left as it is when undefined on write.
   */
  notificationSigningPrivateKey?: string | null;
  notificationAuth: { tokenUrl: string; clientId: string; clientSecret: string } | null;
  maxOperationsPerNotification: number;
  autoTrackShipment: boolean;
  enabled: boolean;
  /** Moves on with every write that disables the issuer or changes its keys: tokens granted before are then refused. */
  tokenEpoch: number;
  createdAt: string;
  updatedAt: string;
  /** Client certificate presented to the issuer's endpoint (mTLS); left as it is when undefined on write. */
  notificationTls?: NotificationTls | null;
  /** True when its stored secrets cannot be opened with this master key (they read as absent). */
  secretsUnreadable?: boolean;
  /** Set when the endpoint answered 410 Gone; a write of the issuer clears it. */
  endpointDisabledAt?: string | null;
  endpointDisabledReason?: string | null;
}

export type NotificationSigning = 'hmac' | 'ed25519';
export const NOTIFICATION_SIGNINGS = ['hmac', 'ed25519'] as const satisfies readonly NotificationSigning[];

export interface NotificationTls {
  certificatePem: string;
  privateKeyPem: string;
  caPem?: string;
}

type IssuerWrite = Omit<Issuer, 'createdAt' | 'updatedAt' | 'endpointDisabledAt' | 'endpointDisabledReason' | 'tokenEpoch'>;

/**
 * The row as the hub uses it: secrets opened. Webhook secrets, the OAuth client secret and the mTLS
 * private key are stored sealed (src/store/secret-box.ts), each bound to this issuer and field.
 */
function fromRow(db: Db, r: {
  issuer_id: string;
  name: string;
  notification_base_url: string;
  jwks: unknown;
  webhook_secrets: unknown;
  notification_auth: unknown;
  max_operations_per_notification: number;
  auto_track_shipment: boolean;
  enabled: boolean;
  token_epoch: number;
  created_at: Date;
  updated_at: Date;
  notification_tls?: unknown;
  notification_signing?: string;
  notification_signing_key?: string | null;
  endpoint_disabled_at?: Date | null;
  endpoint_disabled_reason?: string | null;
}): Issuer {
  // Secrets sealed under another master key (a hub that kept the old key after a rotation wrote them)
  // read as absent, so the issuer can still be read, and repaired by a PUT that gives them again.
  let opened: Pick<Issuer, 'webhookSecrets' | 'notificationAuth' | 'notificationTls' | 'notificationSigningPrivateKey'>;
  let secretsUnreadable = false;
  try {
    opened = {
      webhookSecrets: (r.webhook_secrets as string[]).map((s) => openStoredSecret(db, s, secretContext('issuers', r.issuer_id, 'webhook_secrets'))),
      notificationAuth: openAuth(db, r.issuer_id, r.notification_auth as Issuer['notificationAuth']),
      notificationTls: openTls(db, r.issuer_id, r.notification_tls as NotificationTls | null),
      notificationSigningPrivateKey: openSigningKey(db, r.issuer_id, r.notification_signing_key),
    };
  } catch (err) {
    if (!(err instanceof SecretUnreadable)) throw err;
    opened = { webhookSecrets: [], notificationAuth: null, notificationTls: null, notificationSigningPrivateKey: null };
    secretsUnreadable = true;
  }
  return {
    issuerId: r.issuer_id,
    name: r.name,
    notificationBaseUrl: r.notification_base_url,
    jwks: r.jwks as Issuer['jwks'],
    notificationSigning: r.notification_signing === 'ed25519' ? 'ed25519' : 'hmac',
    ...opened,
    ...(secretsUnreadable ? { secretsUnreadable } : {}),
    maxOperationsPerNotification: r.max_operations_per_notification,
    autoTrackShipment: r.auto_track_shipment,
    enabled: r.enabled,
    tokenEpoch: r.token_epoch,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
    endpointDisabledAt: r.endpoint_disabled_at ? new Date(r.endpoint_disabled_at).toISOString() : null,
    endpointDisabledReason: r.endpoint_disabled_reason ?? null,
  };
}

function openAuth(db: Db, issuerId: string, auth: Issuer['notificationAuth'] | undefined): Issuer['notificationAuth'] {
  if (!auth) return null;
  return { ...auth, clientSecret: openStoredSecret(db, auth.clientSecret, secretContext('issuers', issuerId, 'notification_auth.clientSecret')) };
}

function openTls(db: Db, issuerId: string, tls: NotificationTls | null | undefined): NotificationTls | null {
  if (!tls) return null;
  if (typeof tls.privateKeyPem !== 'string') return tls;
  return { ...tls, privateKeyPem: openStoredSecret(db, tls.privateKeyPem, secretContext('issuers', issuerId, 'notification_tls.privateKeyPem')) };
}

function openSigningKey(db: Db, issuerId: string, sealed: string | null | undefined): string | null {
  return sealed ? openStoredSecret(db, sealed, secretContext('issuers', issuerId, 'notification_signing_key')) : null;
}

export async function getIssuer(db: Db, issuerId: string): Promise<Issuer | undefined> {
  const row = await db.selectFrom('issuers').selectAll().where('issuer_id', '=', issuerId).executeTakeFirst();
  return row ? fromRow(db, row as never) : undefined;
}

export async function listIssuers(db: Db): Promise<Issuer[]> {
  const rows = await db.selectFrom('issuers').selectAll().orderBy('issuer_id').execute();
  return rows.map((r) => fromRow(db, r as never));
}

/** What the dispatcher needs of every issuer to deliver, secrets opened. */
export interface DeliverySettings {
  issuerId: string;
  notificationBaseUrl: string;
  webhookSecrets: string[];
  /** The ed25519 secret key (`whsk_…`) signing v1a, or null. */
  signingKey: string | null;
  notificationAuth: Issuer['notificationAuth'];
  notificationTls: NotificationTls | null;
  maxOperationsPerNotification: number;
  enabled: boolean;
  endpointDisabledAt: Date | null;
}

export async function loadDeliverySettings(db: Db, onUnreadable: (issuerId: string, err: unknown) => void = () => {}): Promise<DeliverySettings[]> {
  const rows = await db
    .selectFrom('issuers')
    .select(['issuer_id', 'notification_base_url', 'webhook_secrets', 'notification_auth', 'notification_tls', 'notification_signing_key', 'max_operations_per_notification', 'enabled', 'endpoint_disabled_at'])
    .execute();
  const settings: DeliverySettings[] = [];
  for (const r of rows) {
    // One issuer whose secrets cannot be opened (sealed under another master key, say) is left out, so
    // its notifications wait; it must not stop delivery to every other issuer.
    try {
      settings.push({
        issuerId: r.issuer_id,
        notificationBaseUrl: r.notification_base_url,
        webhookSecrets: (r.webhook_secrets as unknown as string[]).map((s) => openStoredSecret(db, s, secretContext('issuers', r.issuer_id, 'webhook_secrets'))),
        signingKey: openSigningKey(db, r.issuer_id, r.notification_signing_key),
        notificationAuth: openAuth(db, r.issuer_id, r.notification_auth as unknown as Issuer['notificationAuth']),
        notificationTls: openTls(db, r.issuer_id, r.notification_tls as unknown as NotificationTls | null),
        maxOperationsPerNotification: r.max_operations_per_notification,
        enabled: r.enabled,
        endpointDisabledAt: r.endpoint_disabled_at,
      });
    } catch (err) {
      onUnreadable(r.issuer_id, err);
    }
  }
  return settings;
}

/** Inserts or replaces an issuer; returns true when it was created. */
export async function upsertIssuer(db: Db, i: IssuerWrite): Promise<boolean> {
  const box = secretBoxOf(db);
  const seal = (value: string, field: string) => box.seal(value, secretContext('issuers', i.issuerId, field));
  const auth = i.notificationAuth ? { ...i.notificationAuth, clientSecret: seal(i.notificationAuth.clientSecret, 'notification_auth.clientSecret') } : null;
  // A TLS record without a key (trusting a CA only) has nothing to seal.
  const key = i.notificationTls?.privateKeyPem;
  const tls = i.notificationTls ? { ...i.notificationTls, ...(typeof key === 'string' ? { privateKeyPem: seal(key, 'notification_tls.privateKeyPem') } : {}) } : null;
  const values = {
    issuer_id: i.issuerId,
    name: i.name,
    notification_base_url: i.notificationBaseUrl,
    jwks: JSON.stringify(i.jwks),
    webhook_secrets: JSON.stringify(i.webhookSecrets.map((secret) => seal(secret, 'webhook_secrets'))),
    notification_auth: auth ? JSON.stringify(auth) : null,
    max_operations_per_notification: i.maxOperationsPerNotification,
    auto_track_shipment: i.autoTrackShipment,
    enabled: i.enabled,
    // A write of the issuer is how an operator re-enables an endpoint that answered 410 Gone.
    endpoint_disabled_at: null,
    endpoint_disabled_reason: null,
    ...(i.notificationTls !== undefined ? { notification_tls: tls ? JSON.stringify(tls) : null } : {}),
    ...(i.notificationSigning !== undefined ? { notification_signing: i.notificationSigning } : {}),
    ...(i.notificationSigningPrivateKey !== undefined
      ? { notification_signing_key: i.notificationSigningPrivateKey === null ? null : seal(i.notificationSigningPrivateKey, 'notification_signing_key') }
      : {}),
  };
  const { issuer_id: _id, ...update } = values;
  const row = await db
    .insertInto('issuers')
    .values(values as never)
    .onConflict((oc) =>
      oc.column('issuer_id').doUpdateSet({
        ...update,
        updated_at: new Date(),
        // Disabled, or other keys (jsonb equality: the same keys in another member order are the same):
        // tokens granted until now are refused from here on, even once it is enabled or re-keyed back.
        token_epoch: sql`case when not excluded.enabled or excluded.jwks is distinct from issuers.jwks then issuers.token_epoch + 1 else issuers.token_epoch end`,
      } as never),
    )
    .returning(['created_at', 'updated_at'])
    .executeTakeFirstOrThrow();
  return new Date(row.created_at).getTime() === new Date(row.updated_at).getTime();
}

/** How long another instance may go on using an issuer record after an admin changed it. */
export const ISSUER_CACHE_TTL_MS = 5_000;

/** How many issuer ids the directory remembers at most; the least recently used go first. */
export const ISSUER_CACHE_MAX_ENTRIES = 10_000;

/**
 * Issuer records as the request path needs them, cached briefly. A change made through this
 * instance's Admin API shows at once (`forget`); one made through another instance within the TTL.
 * Ids come from outside (an assertion's `iss`, a URL), so one that cannot be an issuer id is never
 * looked up nor remembered, and the cache (which remembers unknown ids too, so a flood of one costs
 * one query per TTL) is an LRU with a fixed maximum: `lru-cache`, the maintained LRU most of the npm
 * ecosystem uses, rather than a hand-written eviction order over a Map.
 */
export class IssuerDirectory {
  private readonly cache: LRUCache<string, { issuer: Issuer | undefined; at: number }>;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly db: Db,
    opts: { ttlMs?: number; now?: () => number; maxEntries?: number } = {},
  ) {
    this.ttlMs = opts.ttlMs ?? ISSUER_CACHE_TTL_MS;
    this.now = opts.now ?? Date.now;
    this.cache = new LRUCache({ max: opts.maxEntries ?? ISSUER_CACHE_MAX_ENTRIES });
  }

  async get(issuerId: string): Promise<Issuer | undefined> {
    if (!ISSUER_ID.test(issuerId)) return undefined;
    const hit = this.cache.get(issuerId);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.issuer;
    const issuer = await getIssuer(this.db, issuerId);
    this.cache.set(issuerId, { issuer, at: this.now() });
    return issuer;
  }

  forget(issuerId: string): void {
    this.cache.delete(issuerId);
  }

  /** How many ids are remembered now (never more than the maximum). */
  get size(): number {
    return this.cache.size;
  }
}

export async function issuerExists(db: Db, issuerId: string): Promise<boolean> {
  const exists = await db.selectFrom('issuers').select('issuer_id').where('issuer_id', '=', issuerId).executeTakeFirst();
  return exists !== undefined;
}

/** Of these issuers, those enabled with autoTrackShipment on (site reports open SHIPMENTs for them). */
export async function autoTrackingIssuers(tx: Db, issuerIds: string[]): Promise<string[]> {
  const auto = await sql<{ issuer_id: string }>`
    select issuer_id from issuers where auto_track_shipment and enabled and issuer_id = any(${issuerIds}::text[])`.execute(tx);
  return auto.rows.map((r) => r.issuer_id);
}

/**
 * The issuer's endpoint answered 410 Gone: no more sends to it until an operator PUTs the issuer again
 * (upsertIssuer clears this). A first disabling is kept, with its time.
 */
export async function disableGoneEndpoint(db: Db, issuerId: string): Promise<void> {
  await db.updateTable('issuers').set({ endpoint_disabled_at: sql`now()`, endpoint_disabled_reason: 'HTTP 410 Gone' }).where('issuer_id', '=', issuerId).where('endpoint_disabled_at', 'is', null).execute();
}
