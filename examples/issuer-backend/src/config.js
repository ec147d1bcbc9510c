import { TokenProvider, TrackhubClient } from '@trackhub/issuer';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * The back-end's settings, from the environment. ISSUER_FILE is the JSON `trackhub issuers add
 * --generate-key` prints (issuerId, privateJwk, webhookSecret or notificationPublicKey); each variable
 * below overrides its part of it.
 *
 *   HUB_URL             the hub (default http://127.0.0.1:8080)
 *   ISSUER_ID           10 of [A-Za-z0-9_-]
 *   ISSUER_KEY_FILE     the issuer's private key: a JWK (JSON) or PKCS#8 PEM file; its `kid`, or ISSUER_KEY_ID
 *   WEBHOOK_SECRETS     whsec_… secrets notifications are signed with, comma separated (two during a rotation)
 *   WEBHOOK_PUBLIC_KEYS whpk_… keys, for an issuer whose notifications are signed with ed25519
 *   HOST, PORT          where notifications are received (default 127.0.0.1:9999)
 */
export function readConfig(env = process.env) {
  // Files named from where npm was started (`npm start -w examples/issuer-backend` runs in this folder).
  const path = (name) => resolve(env.INIT_CWD ?? process.cwd(), name);
  const file = env.ISSUER_FILE ? parseJson(readFileSync(path(env.ISSUER_FILE), 'utf8'), 'ISSUER_FILE') : {};
  const list = (v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);
  let privateKey = file.privateJwk;
  if (env.ISSUER_KEY_FILE) {
    const text = readFileSync(path(env.ISSUER_KEY_FILE), 'utf8');
    privateKey = text.trimStart().startsWith('{') ? parseJson(text, 'ISSUER_KEY_FILE') : text;
  }
  const config = {
    hubUrl: (env.HUB_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''),
    issuerId: env.ISSUER_ID ?? file.issuerId,
    privateKey,
    keyId: env.ISSUER_KEY_ID ?? (typeof privateKey === 'object' ? privateKey?.kid : undefined),
    secrets: list(env.WEBHOOK_SECRETS) ?? (file.webhookSecret ? [file.webhookSecret] : []),
    publicKeys: list(env.WEBHOOK_PUBLIC_KEYS) ?? (file.notificationPublicKey ? [file.notificationPublicKey] : []),
    host: env.HOST ?? '127.0.0.1',
    port: Number(env.PORT ?? 9999),
  };
  if (!/^[A-Za-z0-9_-]{10}$/.test(config.issuerId ?? '')) throw new Error('ISSUER_ID (or ISSUER_FILE) must give the issuer id: 10 of [A-Za-z0-9_-]');
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65_535) throw new Error('PORT must be a port number');
  return config;
}

/**
 * JSON.parse without its message: V8's quotes the text around the error, and these files hold the
 * issuer's private key and webhook secret, so a typo would print the start of a secret.
 */
function parseJson(text, name) {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${name} is not valid JSON`);
  }
}

/** The SDK client for the calls to the hub (track, trackingStatus, catch-up), signing with the issuer's key. */
export function clientFor(config) {
  if (!config.privateKey || !config.keyId) throw new Error('ISSUER_KEY_FILE and its kid (or ISSUER_KEY_ID), or ISSUER_FILE, must give the issuer key');
  const tokens = new TokenProvider({ hubUrl: config.hubUrl, issuerId: config.issuerId, keyId: config.keyId, privateKey: config.privateKey });
  return new TrackhubClient({ hubUrl: config.hubUrl, issuerId: config.issuerId, tokens });
}

/** readConfig for a command: a setting missing or wrong is one line on stderr and exit 2, not a stack trace. */
export function configOrExit(env = process.env) {
  try {
    return readConfig(env);
  } catch (err) {
    console.error(`issuer-backend: ${err.message}`);
    process.exit(2);
  }
}
