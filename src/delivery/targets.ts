import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { Agent, buildConnector, request } from 'undici';
import { type HttpClient, readCapped } from '../net/http-client.ts';
import { ClientCredentialsToken } from '../net/oauth-client.ts';
import type { Db } from '../store/db.ts';
import { loadDeliverySettings, type NotificationTls } from '../store/issuers.ts';
import { signingKeyOf } from './signing.ts';
import { BlockedTargetError, guardedLookup, isPrivateAddress } from './ssrf.ts';
import { EndpointThrottle } from './throttle.ts';

/** Everything the dispatcher needs to reach one issuer, rebuilt when the issuer's record changes. */
export interface IssuerTarget {
  issuerId: string;
  url: string;
  secrets: string[];
  /** The ed25519 key signing v1a beside the secrets, or none (src/delivery/signing.ts). */
  signingKey?: KeyObject | null;
  maxOperations: number;
  /** False while the issuer is disabled or its endpoint answered 410: its notifications wait. */
  sending: boolean;
  agent: Agent;
  token?: ClientCredentialsToken;
  throttle: EndpointThrottle;
  /** What the agent and token were built from; a change means new ones. */
  connectionKey: string;
}

export interface TargetOptions {
  allowPrivateTargets: boolean;
  timeoutMs: number;
  perIssuerConcurrency: number;
  /** An issuer whose stored secrets cannot be opened: it gets no target, its notifications wait. */
  onUnreadable?: (issuerId: string, err: unknown) => void;
}

/**
 * An undici agent for one issuer: its own connection pool (a slow issuer's sockets never hold up
 * another's), its client certificate when it has one, the SSRF guard in the connector, no redirects.
 */
export function issuerAgent(tls: NotificationTls | null, o: TargetOptions): Agent {
  const tlsOptions = tls ? { cert: tls.certificatePem, key: tls.privateKeyPem, ...(tls.caPem ? { ca: tls.caPem } : {}) } : {};
  const connector = buildConnector({
    ...tlsOptions,
    timeout: o.timeoutMs,
    ...(o.allowPrivateTargets ? {} : { lookup: guardedLookup }),
  } as buildConnector.BuildOptions);
  const connect: buildConnector.connector = (opts, callback) => {
    // A literal address never goes through DNS, so it is judged here.
    const host = opts.hostname.replace(/^\[|\]$/g, '');
    if (!o.allowPrivateTargets && isIP(host) && isPrivateAddress(host)) {
      callback(new BlockedTargetError(`${host} is a private address (SSRF guard)`), null);
      return;
    }
    connector(opts, callback);
  };
  return new Agent({
    connect,
    connections: o.perIssuerConcurrency,
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
    maxRedirections: 0,
  } as Agent.Options);
}

/** Loads every issuer's delivery settings, reusing agents, tokens and throttles whose inputs did not change. */
export async function loadTargets(db: Db, previous: Map<string, IssuerTarget>, o: TargetOptions): Promise<Map<string, IssuerTarget>> {
  // Secrets come opened (they are sealed in the store); the key below compares opened values.
  const rows = await loadDeliverySettings(db, o.onUnreadable);
  const next = new Map<string, IssuerTarget>();
  for (const r of rows) {
    const auth = r.notificationAuth;
    const tls = r.notificationTls;
    const connectionKey = JSON.stringify([auth, tls]);
    const old = previous.get(r.issuerId);
    const reuse = old && old.connectionKey === connectionKey;
    const agent = reuse ? old.agent : issuerAgent(tls, o);
    if (old && !reuse) void old.agent.close().catch(() => {});
    next.set(r.issuerId, {
      issuerId: r.issuerId,
      url: `${r.notificationBaseUrl.replace(/\/+$/, '')}/notifications/d1/v2/issuers/${encodeURIComponent(r.issuerId)}/cards`,
      secrets: r.webhookSecrets,
      signingKey: r.signingKey ? signingKeyOf(r.signingKey) : null,
      maxOperations: r.maxOperationsPerNotification,
      sending: r.enabled && r.endpointDisabledAt === null,
      agent,
      token: reuse ? old.token : auth ? new ClientCredentialsToken(agentHttp(agent, o.timeoutMs), auth.tokenUrl, auth.clientId, auth.clientSecret, 'basic') : undefined,
      throttle: old?.throttle ?? new EndpointThrottle(o.perIssuerConcurrency),
      connectionKey,
    });
  }
  for (const [id, old] of previous) if (!next.has(id)) void old.agent.close().catch(() => {});
  return next;
}

/** An OAuth token answer is a few hundred bytes; an issuer's token server gets no more than this read. */
const MAX_TOKEN_ANSWER_BYTES = 64 * 1024;

/** The carriers' HttpClient shape over an issuer's agent: the token request gets the same guard and certificate. */
function agentHttp(agent: Agent, timeoutMs: number): HttpClient {
  return async (url, init) => {
    const res = await request(url, { method: init.method, headers: init.headers, body: init.body, dispatcher: agent, signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.statusCode, headers: res.headers as Record<string, string | string[] | undefined>, body: await readCapped(res.body, MAX_TOKEN_ANSWER_BYTES) };
  };
}
