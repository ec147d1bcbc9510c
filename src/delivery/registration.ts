import { createPrivateKey, X509Certificate } from 'node:crypto';
import { AUTHENTICATE_INSTEAD } from '../domain/issuer-checks.ts';
import { hasUnprintable } from '../domain/text.ts';
import type { NotificationTls } from '../store/issuers.ts';
import { checkTargetHost } from './ssrf.ts';

/**
 * Registration-time checks of where an issuer's notifications go: the notification URL and the token
 * URL pass the SSRF guard (unless private targets are allowed), and a client certificate parses and
 * matches its key. Returns the first problem, naming the field.
 */
export async function checkDeliveryTargets(
  body: { notificationBaseUrl: string; notificationAuth?: { tokenUrl: string } | null; notificationTls?: NotificationTls | null },
  allowPrivateTargets: boolean,
): Promise<string | undefined> {
  const baseProblem = credentialsInUrl('notificationBaseUrl', body.notificationBaseUrl);
  if (baseProblem) return baseProblem;
  if (body.notificationAuth) {
    let token: URL;
    try {
      token = new URL(body.notificationAuth.tokenUrl);
    } catch {
      return 'notificationAuth.tokenUrl: is not a URL';
    }
    if (token.protocol !== 'https:' && token.protocol !== 'http:') return 'notificationAuth.tokenUrl: must be http(s)';
    if (hasUnprintable(body.notificationAuth.tokenUrl)) return 'notificationAuth.tokenUrl: must not hold control, invisible or bidirectional formatting characters, or line separators';
    const tokenProblem = credentialsInUrl('notificationAuth.tokenUrl', body.notificationAuth.tokenUrl);
    if (tokenProblem) return tokenProblem;
  }
  if (body.notificationTls) {
    const problem = checkTls(body.notificationTls);
    if (problem) return problem;
  }
  if (allowPrivateTargets) return undefined;
  const urlProblem = await checkTargetHost(body.notificationBaseUrl);
  if (urlProblem) return urlProblem;
  if (body.notificationAuth) {
    const tokenProblem = await checkTargetHost(body.notificationAuth.tokenUrl);
    if (tokenProblem) return tokenProblem.replace('notificationBaseUrl', 'notificationAuth.tokenUrl');
  }
  return undefined;
}

/** Parameter names that name a credential (`client_secret`, `password`, `pwd`, `api_key`, `access_token`, `private_key`…). */
const CREDENTIAL_PARAM = /secret|passw|^pwd$|^pass$|token|api[-_]?key|^key$|private|credential|signature|^sig$|^auth$|^code$/i;

/**
 * A URL is stored and shown (Admin API, console, logs) like any other setting, so it must not carry a
 * credential: neither in its userinfo nor in a query parameter named for one. Credentials go in the
 * fields sealed at rest (notificationAuth.clientSecret). The refusal names the field, never the value.
 */
function credentialsInUrl(field: string, value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined; // the schema and the SSRF guard say what is wrong with it
  }
  // What to do instead: the token URL's credentials are the OAuth client's; the notification URL's
  // caller proves itself with OAuth (notificationAuth) or a client certificate (notificationTls), and
  // every notification is signed with the webhook secret.
  const instead = field === 'notificationBaseUrl' ? AUTHENTICATE_INSTEAD : 'put the client credentials in notificationAuth.clientId and clientSecret';
  if (url.username || url.password) return `${field}: must not carry credentials (user:password@); ${instead}`;
  // A fragment is never sent, so a legitimate URL has no use for one; a secret pasted there would be stored.
  if (url.hash) return `${field}: must not carry a fragment (#…); ${instead}`;
  for (const name of url.searchParams.keys()) {
    if (CREDENTIAL_PARAM.test(name)) return `${field}: must not carry a credential in its query (${shown(name)}); ${instead}`;
  }
  // `name=value` pairs in the path (`/;client_secret=…`, `/client_secret=…`) carry credentials just as well.
  for (const segment of decodeURIComponentSafe(url.pathname).split(/[/;]/)) {
    const name = segment.split('=')[0];
    if (segment.includes('=') && CREDENTIAL_PARAM.test(name)) return `${field}: must not carry a credential in its path (${shown(name)}); ${instead}`;
  }
  return undefined;
}

const shown = (name: string) => name.slice(0, 40).replace(/[^\w.-]/g, '?');

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function checkTls(tls: NotificationTls): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(tls.certificatePem);
  } catch {
    return 'notificationTls.certificatePem: is not a PEM certificate';
  }
  try {
    // The error never quotes the key: only whether it parses and matches.
    if (!cert.checkPrivateKey(createPrivateKey(tls.privateKeyPem))) return 'notificationTls.privateKeyPem: does not match the certificate';
  } catch {
    return 'notificationTls.privateKeyPem: is not a PEM private key';
  }
  if (tls.caPem) {
    try {
      new X509Certificate(tls.caPem);
    } catch {
      return 'notificationTls.caPem: is not a PEM certificate';
    }
  }
  return undefined;
}
