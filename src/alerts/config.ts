import { duration, type Env, fail, str, wholeNumber } from '../config-env.ts';
import type { OperatorTarget } from './sender.ts';

/**
 * TRACKHUB_OPERATOR_WEBHOOK_*: where operator alert events go and how they are signed. Messages never
 * quote the URL (it may hold credentials) nor the secret.
 */

export interface OperatorWebhookConfig {
  target: OperatorTarget;
  timeoutMs: number;
  intervalMs: number;
  stuckThreshold: number;
}

const URL_VAR = 'TRACKHUB_OPERATOR_WEBHOOK_URL';
const SECRET_VAR = 'TRACKHUB_OPERATOR_WEBHOOK_SECRET';
/** The Standard Webhooks bounds on a symmetric secret. */
const SECRET_BYTES = { min: 24, max: 64 };
const MAX_TIMEOUT_MS = 30_000;

export function operatorWebhookConfig(env: Env): OperatorWebhookConfig | undefined {
  const raw = str(env, URL_VAR);
  const secret = str(env, SECRET_VAR);
  // Read even when off, so that they are known settings (not warned about as typos).
  const timeoutMs = duration(env, 'TRACKHUB_OPERATOR_WEBHOOK_TIMEOUT', '10s');
  const intervalMs = duration(env, 'TRACKHUB_OPERATOR_ALERT_INTERVAL', '1m');
  const stuckThreshold = wholeNumber(env, 'TRACKHUB_OPERATOR_STUCK_THRESHOLD', 50, 0, 1_000_000_000);
  if (raw === undefined) {
    if (secret !== undefined) fail(SECRET_VAR, `is set but ${URL_VAR} is not: set both, or neither`);
    return undefined;
  }
  if (timeoutMs > MAX_TIMEOUT_MS) fail('TRACKHUB_OPERATOR_WEBHOOK_TIMEOUT', 'must be at most 30s');
  const target = targetOf(raw);
  if (secret === undefined) fail(SECRET_VAR, `is required with ${URL_VAR}: events are signed (a Standard Webhooks secret, whsec_ and base64 of 24 to 64 random bytes, e.g. "whsec_$(openssl rand -base64 32)")`);
  const body = secret.slice(6);
  const bytes = Buffer.from(body, 'base64');
  if (!secret.startsWith('whsec_') || !/^[A-Za-z0-9+/]+={0,2}$/.test(body) || bytes.length < SECRET_BYTES.min || bytes.length > SECRET_BYTES.max) {
    fail(SECRET_VAR, 'is not a Standard Webhooks secret: whsec_ followed by base64 of 24 to 64 random bytes (e.g. "whsec_$(openssl rand -base64 32)")');
  }
  return { target: { ...target, secret }, timeoutMs, intervalMs, stuckThreshold };
}

/** The URL without its credentials (sent as Basic authorization instead), and what logs may show of it. */
function targetOf(raw: string): Omit<OperatorTarget, 'secret'> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail(URL_VAR, 'is not a URL (e.g. https://alerts.example/trackhub)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(URL_VAR, 'must be an http(s) URL');
  const user = decoded(url.username);
  const password = decoded(url.password);
  url.username = '';
  url.password = '';
  return {
    url: url.toString(),
    shown: url.origin,
    ...(user || password ? { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } : {}),
  };
}

function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    fail(URL_VAR, 'holds a user or password that is not percent-encoded right');
  }
}
