/** What every answer of the hub must satisfy, whatever was sent. */
import { ERROR_STATUS } from '../../src/domain/errors.ts';
import { type AssertionKind, provenBy } from './credentials.ts';
import type { FuzzRequest } from './generate.ts';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /**
   * The hub cut the connection while a body far over its limit was still being sent: its 413 (sent
   * before the body ended) never reached the client, so status 413 stands for it and there is no body
   * or header of the hub's to check.
   */
  cutOff?: boolean;
}

export interface Finding {
  /** A short name of the broken rule: the failure's signature with the route and status. */
  check: string;
  detail: string;
  /** A failure of the HTTP layer in front of every route (headers, the router): one signature for all routes. */
  anyRoute?: boolean;
}

export const TOKEN_ROUTE = 'POST /authz/v1/oauth2/token';
const OAUTH_ERRORS = new Set(['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope']);
const CORRELATION_ID = /^[A-Za-z0-9_-]{1,64}$/;

const header = (a: Answer, name: string) => {
  const v = a.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

function parseObject(body: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(body);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The path segment after `/{name}/`, decoded as the router would, or undefined. */
function segmentAfter(path: string, name: string): string | undefined {
  const parts = path.split('?')[0].split('/');
  const i = parts.indexOf(name);
  if (i < 0 || i + 1 >= parts.length) return undefined;
  try {
    return decodeURIComponent(parts[i + 1]);
  } catch {
    return undefined;
  }
}

function errorBodyProblem(req: FuzzRequest, a: Answer): string | undefined {
  const type = header(a, 'content-type') ?? '';
  if (!/^application\/json/i.test(type)) return `content-type ${JSON.stringify(type)} is not application/json`;
  const body = parseObject(a.body);
  if (!body) return 'body is not a JSON object';
  const keys = Object.keys(body).sort();
  if (req.route === TOKEN_ROUTE) {
    // slow_down (RFC 8628 §3.5) is how the token endpoint says its request budget is spent.
    const known = typeof body.error === 'string' && (OAUTH_ERRORS.has(body.error) || (a.status === 429 && body.error === 'slow_down'));
    if (!known) return `"error" is not an OAuth error code (RFC 6749 §5.2): ${JSON.stringify(body.error)}`;
    if (body.error_description !== undefined && typeof body.error_description !== 'string') return 'error_description is not a string';
    const extra = keys.filter((k) => k !== 'error' && k !== 'error_description');
    if (extra.length) return `fields beyond error and error_description: ${extra.join(', ')}`;
    return undefined;
  }
  if (keys.join(',') !== 'error,errorCode') return `fields ${JSON.stringify(keys)}, not exactly errorCode and error`;
  if (typeof body.error !== 'string') return '"error" is not a string';
  const code = body.errorCode as keyof typeof ERROR_STATUS;
  if (typeof code !== 'string' || !(code in ERROR_STATUS)) return `errorCode ${JSON.stringify(code)} is not one of the contract's codes`;
  if (ERROR_STATUS[code] !== a.status) return `errorCode ${code} goes with HTTP ${ERROR_STATUS[code]}, not ${a.status}`;
  return undefined;
}

/** A 2xx for a credential that proves nothing, or proves someone other than the path names. */
function credentialProblem(req: FuzzRequest, a: Answer): string | undefined {
  if (a.status < 200 || a.status >= 300) return undefined;
  if (req.route === TOKEN_ROUTE && req.assertion && req.method === 'POST' && req.path.startsWith('/authz/')) {
    return provenBy.assertion(req.assertion as AssertionKind) ? undefined : `a token was issued for a "${req.assertion}" assertion`;
  }
  if (!req.auth) return undefined;
  switch (req.auth.scheme) {
    case 'bearer': {
      const proven = provenBy.bearer(req.auth.kind);
      const pathIssuer = segmentAfter(req.path, 'issuers');
      if (!req.path.startsWith('/banking/')) return undefined;
      return proven !== undefined && proven === pathIssuer ? undefined : `a "${req.auth.kind}" access token was accepted on issuer ${JSON.stringify(pathIssuer)}`;
    }
    case 'admin':
      if (!req.path.startsWith('/admin/')) return undefined;
      return provenBy.admin(req.auth.kind) ? undefined : `a "${req.auth.kind}" admin token was accepted`;
    case 'siteKey': {
      if (!req.path.startsWith('/sites/')) return undefined;
      const proven = provenBy.siteKey(req.auth.kind);
      const pathSite = segmentAfter(req.path, 'production-sites');
      return proven !== undefined && proven === pathSite ? undefined : `a "${req.auth.kind}" API key was accepted on site ${JSON.stringify(pathSite)}`;
    }
  }
}

/**
 * The console's reads shed load by design (src/http/console-reads.ts): a read finding the instance's
 * console slots taken, or running past its statement timeout, is answered 503 with Retry-After in the
 * contract's body. Concurrent generated reads on a loaded box meet that; it is not a failure.
 */
function consoleReadShed(req: FuzzRequest, a: Answer): boolean {
  if (a.status !== 503 || req.method !== 'GET' || !req.path.startsWith('/admin/') || !header(a, 'retry-after')) return false;
  return /"errorCode":"SERVICE_UNAVAILABLE"/.test(a.body) && /console reads are running|was stopped; ask for a shorter window/.test(a.body);
}

export function check(req: FuzzRequest, a: Answer, secrets: string[]): Finding[] {
  const findings: Finding[] = [];
  if (a.status >= 500 && !consoleReadShed(req, a)) findings.push({ check: '5xx', detail: `HTTP ${a.status}: ${a.body.slice(0, 300)}` });
  if (a.cutOff) return findings;
  if (a.status >= 400 && req.method !== 'HEAD') {
    const problem = errorBodyProblem(req, a);
    // The router's and the HTTP parser's own refusals (431, a malformed URL) come before any route.
    if (problem) findings.push({ check: 'error body shape', detail: `${problem}: ${a.body.slice(0, 300)}`, anyRoute: a.status === 431 });
  }
  if (a.status === 429 && !header(a, 'retry-after')) findings.push({ check: '429 without Retry-After', detail: a.body.slice(0, 200) });
  const credential = credentialProblem(req, a);
  if (credential) findings.push({ check: 'bad credential accepted', detail: credential });
  // Access tokens carry a jti, so a token the endpoint issues is never one the fuzzer already holds.
  const leaked = secrets.find((s) => s.length >= 16 && a.body.includes(s));
  if (leaked) findings.push({ check: 'secret in response', detail: `the response carries a secret the fuzzer holds (${leaked.slice(0, 6)}…)` });
  // Every answer echoes a valid x-correlation-id, or carries one the hub made. Headers too large are
  // refused by the HTTP parser before any header is read: that answer can only carry a new one.
  const sentId = req.headers['x-correlation-id'];
  const gotId = header(a, 'x-correlation-id');
  const headersUnread = a.status === 400 && a.body.includes('the request headers are too large');
  if (a.status >= 400 && !headersUnread && sentId !== undefined && CORRELATION_ID.test(sentId) && gotId !== sentId) {
    findings.push({ check: 'x-correlation-id not echoed', detail: `sent ${sentId}, got ${JSON.stringify(gotId)}`, anyRoute: true });
  } else if (a.status >= 400 && (gotId === undefined || !CORRELATION_ID.test(gotId))) {
    findings.push({ check: 'error without x-correlation-id', detail: `x-correlation-id: ${JSON.stringify(gotId)}`, anyRoute: true });
  }
  return findings;
}
