import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { type OperatorWebhookConfig, operatorWebhookConfig } from './alerts/config.ts';
import { PROVIDER_NAMES, type ProviderConfig, type ProviderName } from './carriers/provider.ts';
import { DEFAULT_ROUTES, PROVIDERS } from './carriers/registry.ts';
import { bool, ConfigError, duration, type Env, fail, MAX_TIMER_MS, parseDuration, positiveNumber, str, unknownVariables, wholeNumber } from './config-env.ts';
import { type CarrierCode, isCarrierCode } from './domain/carriers.ts';
import type { HubPolicy } from './operations/context.ts';
import { parseRateLimit } from './polling/rate-limit.ts';
import { EMBEDDED_DEFAULT_URL, embeddedFolder } from './store/embedded.ts';
import { MasterKey } from './store/secret-box.ts';

export { ConfigError, parseDuration };

export type Role = 'api' | 'worker' | 'all';

export interface Config {
  databaseUrl: string;
  host: string;
  port: number;
  role: Role;
  /** A worker-only process's port for /healthz, /readyz and /metrics (TRACKHUB_OPS_PORT); none: it listens on nothing. */
  opsPort?: number;
  adminToken?: string;
  publicUrl: string;
  allowPrivateTargets: boolean;
  retryScheduleMs: number[];
  pollMinIntervalMs: number;
  pollMaxIntervalMs: number;
  notFoundAfterMs: number;
  /** "Unknown" answers a carrier must give, spread over the not-found window, before TRACKING_NUMBER_NOT_FOUND (TRACKHUB_NOT_FOUND_ANSWERS). */
  notFoundAnswers: number;
  /** While a parcel's carrier pushes its scans, polling is a safety net at this pace (TRACKHUB_PUSH_SAFETY_POLL). */
  pushSafetyIntervalMs: number;
  expireAfterMs: number;
  productionTimeoutMs: number;
  returnTimeoutMs: number;
  sandbox: boolean;
  /** Sandbox time runs this many times faster than real time (scripted parcels only). */
  sandboxSpeed: number;
  metricsToken?: string;
  tls?: { cert: string; key: string; ca?: string };
  logLevel: string;
  /** Requests per second each issuer may make to the Issuer API (token bucket, burst of one second). */
  issuerRateLimit: number;
  /** Events each production site may send to the Site API: a bucket of `count` refilled over `perMs` (TRACKHUB_SITE_RATE_LIMIT). */
  siteRateLimit: { count: number; perMs: number };
  /** Token endpoint requests per client address, and tokens issued per issuer (TRACKHUB_TOKEN_RATE_LIMIT_IP, …_ISSUER). */
  tokenRateLimitPerIp: { count: number; perMs: number };
  tokenRateLimitPerIssuer: { count: number; perMs: number };
  /** Failed admin authentications one client address may make per window before it gets 429 (TRACKHUB_ADMIN_AUTH_FAILURES). */
  adminAuthFailures: { count: number; perMs: number };
  /** Connection limits of the HTTP server (TRACKHUB_HEADERS_TIMEOUT, …_REQUEST_TIMEOUT, …_KEEP_ALIVE_TIMEOUT, …_IDLE_TIMEOUT, …_MAX_CONNECTIONS). */
  connections: { headersTimeoutMs: number; requestTimeoutMs: number; keepAliveTimeoutMs: number; idleTimeoutMs: number; max: number; maxPerAddress: number };
  /**
   * Reverse proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges): behind them the
   * client's address, which the per-address budgets key on, is the nearest one they did not add. Empty:
   * the header is ignored and the peer's address counts.
   */
  trustedProxies: string[];
  /** TRACKHUB_ variables set but read by nothing (a typo?), with the nearest known name: warned about at start. */
  unknownVariables: { name: string; nearest?: string }[];
  /** Lease a worker holds on a claimed row before another worker may take it over. */
  leaseMs: number;
  /** Time allowed for one whole notification attempt (15 s by the contract; shorter in tests). */
  deliveryTimeoutMs: number;
  carriers: Record<ProviderName, ProviderConfig & { explicitBaseUrl: boolean }>;
  /** Providers asked for each carrier code, in order of preference; TRACKHUB_CARRIER_ROUTES over DEFAULT_ROUTES. */
  carrierRoutes: Record<CarrierCode, ProviderName[]>;
  /** Folder of the site inboxes (`{dataDir}/inbox/{siteId}/`); TRACKHUB_DATA_DIR. */
  dataDir: string;
  /** Master key of the secrets stored sealed (TRACKHUB_SECRET_KEY); without it, `{dataDir}/secret.key`. */
  secretKey?: MasterKey;
  /** How often workers look into the inboxes; TRACKHUB_INBOX_SCAN_INTERVAL. */
  inboxScanIntervalMs: number;
  /** How long a dropped file must go unmodified before it is read (a stalled upload is not read half-way); TRACKHUB_INBOX_SETTLE. */
  inboxSettleMs: number;
  /** Finished operations, their notifications and attempts are removed this long after they finished; TRACKHUB_RETENTION. */
  retentionMs: number;
  /** Where workers send operator alert events, signed (TRACKHUB_OPERATOR_WEBHOOK_*); none: not sent. */
  operatorWebhook?: OperatorWebhookConfig;
}

/**
 * At most 15 s, the contract's bound on an issuer's answer. A stopping worker lets its sends run for up to
 * this long and records them; beyond the drain a stop allows, cut sends would go out twice.
 */
function deliveryTimeout(env: Env): number {
  const ms = duration(env, 'TRACKHUB_DELIVERY_TIMEOUT', '15s');
  if (ms > 15_000) fail('TRACKHUB_DELIVERY_TIMEOUT', `${str(env, 'TRACKHUB_DELIVERY_TIMEOUT')} is above 15s, the longest an issuer may take to answer`);
  return ms;
}

/**
 * A worker-only process serves /healthz, /readyz and /metrics on this port when given (it has no API to
 * serve them on; TRACKHUB_PORT is, for a worker, where the API and an in-process sandbox are reached).
 */
function workerOpsPort(env: Env, role: string): number | undefined {
  const raw = str(env, 'TRACKHUB_OPS_PORT');
  if (raw === undefined) return undefined;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) fail('TRACKHUB_OPS_PORT', `"${raw}" is not a port number`);
  if (role !== 'worker') fail('TRACKHUB_OPS_PORT', 'is for TRACKHUB_ROLE=worker: the api and all roles serve /healthz, /readyz and /metrics on TRACKHUB_PORT');
  return port;
}

/** At least a day: a value like `400s` or `400m` (meant as days) would purge what the hub just finished. */
function retention(env: Env): number {
  const ms = duration(env, 'TRACKHUB_RETENTION', '400d', undefined, '400d, 90d, 8760h');
  if (ms < 86_400_000) fail('TRACKHUB_RETENTION', `"${str(env, 'TRACKHUB_RETENTION')}" is shorter than a day (finished operations are kept this long; e.g. 400d, 90d)`);
  return ms;
}

function rateLimit(env: Env, name: string): { count: number; perMs: number } | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  return parseRateLimit(raw, parseDuration) ?? fail(name, `"${raw}" is not a rate (a count from 1 to 1000000000, a slash and a duration up to 366d, e.g. 1400/10s or 60/1h)`);
}

/** A `count/window` budget (e.g. `10000/5s`): a burst of `count`, refilled evenly over the window. */
function budget(env: Env, name: string, fallback: string, minCount = 1, why = 'one request'): { count: number; perMs: number } {
  const raw = str(env, name, fallback) as string;
  const parsed = parseRateLimit(raw, parseDuration) ?? fail(name, `"${raw}" is not a rate (use e.g. 10000/5s or 60/1m)`);
  if (parsed.count < minCount) fail(name, `"${raw}" must allow at least ${why} per window`);
  return parsed;
}

function connectionLimits(env: Env): Config['connections'] {
  const headersTimeoutMs = duration(env, 'TRACKHUB_HEADERS_TIMEOUT', '10s', MAX_TIMER_MS);
  const requestTimeoutMs = duration(env, 'TRACKHUB_REQUEST_TIMEOUT', '60s', MAX_TIMER_MS);
  if (headersTimeoutMs > requestTimeoutMs) fail('TRACKHUB_HEADERS_TIMEOUT', 'must not be above TRACKHUB_REQUEST_TIMEOUT');
  const maxConnections = connectionCount(env, 'TRACKHUB_MAX_CONNECTIONS', 1000);
  // 100 by default, or the global cap when that is lower: never a default above what could ever be reached.
  const perAddress = connectionCount(env, 'TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS', Math.min(100, maxConnections));
  // Given above the global cap it could never act: say so rather than let an operator believe it does.
  if (perAddress > maxConnections) {
    fail('TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS', `${perAddress} is above TRACKHUB_MAX_CONNECTIONS (${maxConnections}): it would never act`);
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: duration(env, 'TRACKHUB_KEEP_ALIVE_TIMEOUT', '72s', MAX_TIMER_MS),
    idleTimeoutMs: duration(env, 'TRACKHUB_IDLE_TIMEOUT', '30s', MAX_TIMER_MS),
    max: maxConnections,
    maxPerAddress: perAddress,
  };
}

/** Past this a cap is no cap: a process runs out of file descriptors long before. */
const MAX_CONNECTION_CAP = 1_000_000;

function connectionCount(env: Env, name: string, fallback: number): number {
  const raw = str(env, name, String(fallback)) as string;
  if (!/^\d{1,12}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_CONNECTION_CAP) {
    fail(name, `"${raw.slice(0, 40)}" is not a whole number of connections from 1 to ${MAX_CONNECTION_CAP.toLocaleString('en')}`);
  }
  return Number(raw);
}

/** `TRACKHUB_TRUSTED_PROXIES`: comma-separated IPv4/IPv6 addresses or CIDR ranges. */
function trustedProxies(env: Env): string[] {
  const raw = str(env, 'TRACKHUB_TRUSTED_PROXIES', '') as string;
  const list = raw.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of list) {
    const [address, bits, extra] = p.split('/');
    const family = isIP(address);
    const maxBits = family === 4 ? 32 : 128;
    // /0 (every address) is refused: trusting anyone's X-Forwarded-For would let every client pick its address.
    const bitsOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) >= 1 && Number(bits) <= maxBits);
    if (family === 0 || !bitsOk || extra !== undefined) fail('TRACKHUB_TRUSTED_PROXIES', `"${p.slice(0, 60)}" is not an IP address or CIDR range (e.g. 10.0.0.0/8,fd00::/8)`);
  }
  return list;
}

/** A master key: 32 bytes in base64. The message never quotes the value (it is a secret). */
function secretKey(env: Env, name: string): MasterKey | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  return MasterKey.parse(raw) ?? fail(name, 'is not a master key: give 32 random bytes in base64 (44 characters, e.g. from openssl rand -base64 32)');
}

function origin(name: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail(name, `"${raw}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(name, 'must be an http(s) URL');
  return raw.replace(/\/+$/, '');
}

/**
 * `TRACKHUB_CARRIER_ROUTES`, e.g. `nacex=aftership,ups=ups|aftership`: each entry replaces the default
 * route of its code; codes not named keep theirs.
 */
function carrierRoutes(env: Env, name: string): Record<CarrierCode, ProviderName[]> {
  const routes = { ...DEFAULT_ROUTES };
  const raw = str(env, name);
  if (raw === undefined) return routes;
  for (const entry of raw.split(',')) {
    const [code, providers, extra] = entry.split('=').map((part) => part.trim());
    if (!code || providers === undefined || extra !== undefined) fail(name, `"${entry.trim()}" is not code=provider|provider`);
    if (!isCarrierCode(code)) fail(name, `"${code}" is not a carrier code`);
    const list = providers.split('|').map((p) => p.trim());
    for (const p of list) {
      if (!(PROVIDER_NAMES as readonly string[]).includes(p)) fail(name, `"${p}" is not a provider (use ${PROVIDER_NAMES.join(', ')})`);
    }
    if (new Set(list).size !== list.length) fail(name, `"${code}" names a provider twice`);
    routes[code] = list as ProviderName[];
  }
  return routes;
}

/** Reads the environment once, at start-up. Every bad value is reported with its variable's name. */
/** What the use cases are given of the configuration: deadlines, poll bounds and the lease, never a secret. */
export function policyOf(config: Config): HubPolicy {
  const { notFoundAfterMs, notFoundAnswers, expireAfterMs, productionTimeoutMs, returnTimeoutMs, pollMinIntervalMs, pollMaxIntervalMs, pushSafetyIntervalMs, leaseMs } = config;
  return { notFoundAfterMs, notFoundAnswers, expireAfterMs, productionTimeoutMs, returnTimeoutMs, pollMinIntervalMs, pollMaxIntervalMs, pushSafetyIntervalMs, leaseMs };
}

/**
 * `operatorAlerts: false` (the CLI's commands other than `serve`): the TRACKHUB_OPERATOR_* settings are
 * not judged, since nothing sends alerts there; a half-set pair refused would stop, say, `issuers add`.
 */
export function loadConfig(given: Env = process.env, overrides: { sandbox?: boolean; operatorAlerts?: boolean } = {}): Config {
  // Every name the hub reads is noted, so that a TRACKHUB_ variable nothing reads (a typo) can be named.
  const read = new Set<string>();
  const env = new Proxy(given, {
    get: (target, name) => {
      if (typeof name === 'string') read.add(name);
      return target[name as string];
    },
  });
  const databaseUrl = str(env, 'TRACKHUB_DATABASE_URL', EMBEDDED_DEFAULT_URL) as string;
  if (databaseUrl.startsWith('pglite://')) {
    fail('TRACKHUB_DATABASE_URL', 'pglite:// is no longer supported: the embedded store is now a PostgreSQL server the hub runs (embedded://./data/pg)');
  }
  if (!/^(embedded:\/\/.+|postgres(ql)?:\/\/.+)$/.test(databaseUrl)) {
    fail('TRACKHUB_DATABASE_URL', 'must start with embedded:// (a folder) or postgres://');
  }
  if (!databaseUrl.startsWith('embedded://') && !URL.canParse(databaseUrl)) fail('TRACKHUB_DATABASE_URL', 'is not a valid postgres:// URL');
  const host = str(env, 'TRACKHUB_HOST', '127.0.0.1') as string;
  const portRaw = str(env, 'TRACKHUB_PORT', '8080') as string;
  const port = Number(portRaw);
  if (!/^\d+$/.test(portRaw) || port > 65535) fail('TRACKHUB_PORT', `"${portRaw}" is not a port number`);
  const role = str(env, 'TRACKHUB_ROLE', 'all') as string;
  if (role !== 'api' && role !== 'worker' && role !== 'all') fail('TRACKHUB_ROLE', `"${role}" must be api, worker or all`);
  const opsPort = workerOpsPort(env, role);
  const adminToken = str(env, 'TRACKHUB_ADMIN_TOKEN');
  // The bootstrap token opens everything (scope admin): 32 characters at least, e.g. `openssl rand -base64 32`.
  if (adminToken !== undefined && adminToken.trim().length < 32) fail('TRACKHUB_ADMIN_TOKEN', 'must be at least 32 characters, spaces around it not counted (e.g. openssl rand -base64 32)');
  const metricsToken = str(env, 'TRACKHUB_METRICS_TOKEN');
  // It opens the metrics (issuer ids, volumes) to whoever holds it: as long as an admin token.
  // Counted without surrounding spaces: a header value loses them, so a token of spaces could never be sent.
  if (metricsToken !== undefined && metricsToken.trim().length < 32) fail('TRACKHUB_METRICS_TOKEN', 'must be at least 32 characters, spaces around it not counted (e.g. openssl rand -base64 32)');
  // An IPv6 host (`::`, `::1`) is written in brackets in a URL.
  const publicUrl = origin('TRACKHUB_PUBLIC_URL', str(env, 'TRACKHUB_PUBLIC_URL', `http://${host.includes(':') ? `[${host}]` : host}:${port}`) as string);
  // Read even when `--sandbox` decides, so that the variable is known (not warned about as a typo).
  const sandboxSetting = bool(env, 'TRACKHUB_SANDBOX', false);
  const sandbox = overrides.sandbox ?? sandboxSetting;

  const scheduleRaw = str(env, 'TRACKHUB_RETRY_SCHEDULE', '5s,5m,30m,2h,5h,10h,14h,20h,24h') as string;
  const retryScheduleMs = scheduleRaw.split(',').map((part) => {
    const ms = parseDuration(part);
    if (ms === undefined) fail('TRACKHUB_RETRY_SCHEDULE', `"${part.trim()}" is not a duration`);
    return ms;
  });

  const pollMinIntervalMs = duration(env, 'TRACKHUB_POLL_MIN_INTERVAL', '15m');
  const pollMaxIntervalMs = duration(env, 'TRACKHUB_POLL_MAX_INTERVAL', '12h');
  if (pollMaxIntervalMs < pollMinIntervalMs) fail('TRACKHUB_POLL_MAX_INTERVAL', 'must not be below TRACKHUB_POLL_MIN_INTERVAL');

  const cert = str(env, 'TRACKHUB_TLS_CERT');
  const key = str(env, 'TRACKHUB_TLS_KEY');
  if ((cert === undefined) !== (key === undefined)) fail(cert ? 'TRACKHUB_TLS_KEY' : 'TRACKHUB_TLS_CERT', 'TLS needs both a certificate and a key');
  const ca = str(env, 'TRACKHUB_TLS_CA');
  if (ca && !cert) fail('TRACKHUB_TLS_CA', 'needs TRACKHUB_TLS_CERT and TRACKHUB_TLS_KEY');

  const logLevel = str(env, 'TRACKHUB_LOG_LEVEL', 'info') as string;
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    fail('TRACKHUB_LOG_LEVEL', `"${logLevel}" must be one of fatal, error, warn, info, debug, trace, silent`);
  }

  const carriers = {} as Config['carriers'];
  for (const name of PROVIDER_NAMES) {
    const prefix = `TRACKHUB_CARRIER_${name.toUpperCase()}_`;
    const explicit = str(env, `${prefix}BASE_URL`);
    carriers[name] = {
      baseUrl: explicit ? origin(`${prefix}BASE_URL`, explicit) : PROVIDERS[name].productionOrigin,
      explicitBaseUrl: explicit !== undefined,
      clientId: str(env, `${prefix}CLIENT_ID`),
      clientSecret: str(env, `${prefix}CLIENT_SECRET`),
      apiKey: str(env, `${prefix}API_KEY`),
      webhookSecret: str(env, `${prefix}WEBHOOK_SECRET`),
      rateLimit: rateLimit(env, `${prefix}RATE_LIMIT`),
    };
  }

  const config: Config = {
    unknownVariables: [],
    databaseUrl,
    host,
    port,
    role,
    ...(opsPort === undefined ? {} : { opsPort }),
    adminToken,
    publicUrl,
    allowPrivateTargets: bool(env, 'TRACKHUB_ALLOW_PRIVATE_TARGETS', sandbox),
    retryScheduleMs,
    pollMinIntervalMs,
    pollMaxIntervalMs,
    notFoundAfterMs: duration(env, 'TRACKHUB_NOT_FOUND_AFTER', '7d'),
    notFoundAnswers: wholeNumber(env, 'TRACKHUB_NOT_FOUND_ANSWERS', 3, 1, 100),
    pushSafetyIntervalMs: duration(env, 'TRACKHUB_PUSH_SAFETY_POLL', '12h'),
    expireAfterMs: duration(env, 'TRACKHUB_EXPIRE_AFTER', '30d'),
    productionTimeoutMs: duration(env, 'TRACKHUB_PRODUCTION_TIMEOUT', '30d'),
    returnTimeoutMs: duration(env, 'TRACKHUB_RETURN_TIMEOUT', '90d'),
    sandbox,
    sandboxSpeed: positiveNumber(env, 'TRACKHUB_SANDBOX_SPEED', 360),
    metricsToken,
    tls: cert && key ? { cert, key, ca } : undefined,
    logLevel,
    issuerRateLimit: positiveNumber(env, 'TRACKHUB_ISSUER_RATE_LIMIT', 5000),
    siteRateLimit: budget(env, 'TRACKHUB_SITE_RATE_LIMIT', '10000/5s', 1000, 'one full batch (1000 events)'),
    tokenRateLimitPerIp: budget(env, 'TRACKHUB_TOKEN_RATE_LIMIT_IP', '300/1m'),
    tokenRateLimitPerIssuer: budget(env, 'TRACKHUB_TOKEN_RATE_LIMIT_ISSUER', '60/1m'),
    adminAuthFailures: budget(env, 'TRACKHUB_ADMIN_AUTH_FAILURES', '10/5m', 1, 'one failure'),
    connections: connectionLimits(env),
    trustedProxies: trustedProxies(env),
    leaseMs: duration(env, 'TRACKHUB_LEASE', '30s', MAX_TIMER_MS),
    deliveryTimeoutMs: deliveryTimeout(env),
    carriers,
    carrierRoutes: carrierRoutes(env, 'TRACKHUB_CARRIER_ROUTES'),
    dataDir: resolve(str(env, 'TRACKHUB_DATA_DIR') ?? defaultDataDir(databaseUrl)),
    secretKey: secretKey(env, 'TRACKHUB_SECRET_KEY'),
    inboxScanIntervalMs: duration(env, 'TRACKHUB_INBOX_SCAN_INTERVAL', '2s', MAX_TIMER_MS),
    inboxSettleMs: duration(env, 'TRACKHUB_INBOX_SETTLE', '5s', MAX_TIMER_MS),
    retentionMs: retention(env),
    ...(overrides.operatorAlerts === false ? {} : { operatorWebhook: operatorWebhookConfig(env) }),
  };
  config.unknownVariables = unknownVariables(given, read);
  return config;
}

/** The embedded store folder's parent (so `embedded://./data/pg` gives `./data`), else `./data`. */
function defaultDataDir(databaseUrl: string): string {
  const folder = embeddedFolder(databaseUrl);
  return folder ? dirname(folder) : 'data';
}
