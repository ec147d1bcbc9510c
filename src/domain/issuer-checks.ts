/** Checks of an issuer's registration that need no I/O: the Admin API and `trackhub issuers add` run the same ones. */

/** A JWKS may only hold EC P-256 public keys with a kid: a private key here would be a leak. */
export function checkJwks(jwks: { keys: Record<string, unknown>[] }): string | undefined {
  if (jwks.keys.length === 0) return 'jwks.keys: at least one key is required';
  const kids = new Set<string>();
  for (const [i, k] of jwks.keys.entries()) {
    if (k.kty !== 'EC' || k.crv !== 'P-256') return `jwks.keys[${i}]: must be an EC P-256 key (ES256)`;
    if (typeof k.x !== 'string' || typeof k.y !== 'string') return `jwks.keys[${i}]: x and y are required`;
    if ('d' in k) return `jwks.keys[${i}]: holds private key material (d); send the public key only`;
    if (typeof k.kid !== 'string' || k.kid === '') return `jwks.keys[${i}]: kid is required`;
    if (kids.has(k.kid)) return `jwks.keys[${i}]: kid ${k.kid} is repeated`;
    kids.add(k.kid);
  }
  return undefined;
}

export function checkNotificationUrl(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'notificationBaseUrl: is not a URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'notificationBaseUrl: must be http(s)';
  if (hasUnprintable(raw)) return 'notificationBaseUrl: must not hold control characters, line separators or bidirectional overrides';
  if (url.username || url.password) return `notificationBaseUrl: must not carry credentials (user:password@); ${AUTHENTICATE_INSTEAD}`;
  if (url.search || url.hash) return `notificationBaseUrl: must not carry a query or fragment; ${AUTHENTICATE_INSTEAD}`;
  return undefined;
}

/** What a notification URL's credentials should be instead. */
export const AUTHENTICATE_INSTEAD =
  'authenticate the hub with notificationAuth (OAuth2 client credentials) or notificationTls (mTLS); every notification is also signed with the webhook secret';

/**
 * A URL is stored, listed by the CLI and shown in the console: a control character, a line separator or
 * a bidirectional override in it could drive an operator's terminal or disguise the address.
 */
export function hasUnprintable(text: string): boolean {
  return UNPRINTABLE.test(text);
}

/**
 * Text from outside as it may reach a terminal: the same characters shown as \u escapes, so it cannot
 * move the cursor, recolour the screen, or make a line read backwards (the CLI prints through this).
 */
export function escapeUnprintable(text: string): string {
  return text.replace(UNPRINTABLE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** C0 and C1 control characters, line and paragraph separators, bidirectional overrides and isolates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE.source, 'g');

/**
 * Plain http:// would carry the signed notifications and the OAuth client secret in clear: refused for
 * the notification URL and the token URL, unless private targets are allowed (a sandbox, a test bench).
 */
export function checkCleartextUrls(body: { notificationBaseUrl: string; notificationAuth?: { tokenUrl: string } | null }, allowPrivateTargets: boolean): string | undefined {
  if (allowPrivateTargets) return undefined;
  const plain = (raw: string) => {
    try {
      return new URL(raw).protocol === 'http:';
    } catch {
      return false; // not a URL at all: the URL checks name that
    }
  };
  const why = 'must be https (http:// only with TRACKHUB_ALLOW_PRIVATE_TARGETS)';
  if (plain(body.notificationBaseUrl)) return `notificationBaseUrl: ${why}`;
  if (body.notificationAuth && plain(body.notificationAuth.tokenUrl)) return `notificationAuth.tokenUrl: ${why}`;
  return undefined;
}
