import { createPrivateKey, X509Certificate } from 'node:crypto';
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
  if (body.notificationAuth) {
    let token: URL;
    try {
      token = new URL(body.notificationAuth.tokenUrl);
    } catch {
      return 'notificationAuth.tokenUrl: is not a URL';
    }
    if (token.protocol !== 'https:' && token.protocol !== 'http:') return 'notificationAuth.tokenUrl: must be http(s)';
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
