import { Option } from 'commander';
import { fail } from './common.ts';

/**
 * Admin commands on a hub running anywhere, through its Admin API: `--url <hubUrl>` (or TRACKHUB_URL) and
 * the token in TRACKHUB_ADMIN_TOKEN (the hub's bootstrap token or a named one from `trackhub admin-tokens
 * create`). Without a URL the commands open the store directly, as before.
 */

const HUB_URL_ENV = 'TRACKHUB_URL';
const ADMIN_TOKEN_ENV = 'TRACKHUB_ADMIN_TOKEN';

/** The `--url <hubUrl>` option every admin command takes. */
export function hubUrlOption(): Option {
  return new Option('--url <hubUrl>', `act on the hub at this URL through its Admin API, with the token in ${ADMIN_TOKEN_ENV}, instead of opening the store`).env(HUB_URL_ENV);
}

/** A hub's answer can take this long before the command gives up. */
const REQUEST_TIMEOUT_MS = 30_000;

export class HubClient {
  private readonly base: string;

  constructor(
    hubUrl: string,
    // Kept out of every message: only the Authorization header carries it.
    private readonly token: string,
  ) {
    this.base = hubUrl.replace(/\/+$/, '');
  }

  /**
   * Sends one Admin API request and returns its JSON body. A 4xx ends the command with the hub's error
   * (exit 2), unless its status is in `allow` (then the body is returned with the status); a 5xx or no
   * answer ends it with exit 1.
   */
  async request<T>(method: string, path: string, body?: unknown, allow: number[] = []): Promise<{ status: number; body: T }> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        redirect: 'error',
      });
    } catch (err) {
      fail(`could not reach the hub at ${this.base}: ${fetchFailure(err, [this.token])}`, 1);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.ok || allow.includes(res.status)) {
      if (parsed === undefined) fail(`the hub at ${this.base} answered ${res.status} with a body that is not JSON (is --url the hub's address?)`, 1);
      return { status: res.status, body: parsed as T };
    }
    const { errorCode, error } = (parsed ?? {}) as { errorCode?: unknown; error?: unknown };
    const what = typeof error === 'string' ? `${typeof errorCode === 'string' ? `${errorCode}: ` : ''}${error}` : `${text.slice(0, 200) || 'no error text'}`;
    if (res.status >= 400 && res.status < 500) fail(`the hub refused (${res.status}) ${what}`, 2);
    fail(`the hub answered ${res.status}: ${what}`, 1);
  }
}

/** The client for `--url`, or undefined when the command works on the store. Refuses a URL that is no http(s) URL and a missing token. */
export function hubClientFor(hubUrl: string | undefined): HubClient | undefined {
  if (hubUrl === undefined || hubUrl === '') return undefined;
  let url: URL;
  try {
    url = new URL(hubUrl);
  } catch {
    fail(`--url (or ${HUB_URL_ENV}) must be the hub's http(s) URL, e.g. http://127.0.0.1:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`--url (or ${HUB_URL_ENV}) must be the hub's http(s) URL, e.g. http://127.0.0.1:8080`);
  if (url.username || url.password) fail(`--url must not carry credentials: put the admin token in ${ADMIN_TOKEN_ENV}`);
  const token = process.env[ADMIN_TOKEN_ENV]?.trim();
  if (!token) fail(`--url needs an admin token in ${ADMIN_TOKEN_ENV}: the hub's bootstrap token, or one from \`trackhub admin-tokens create\` on the hub's store`);
  const problem = headerValueProblem(ADMIN_TOKEN_ENV, token);
  if (problem) fail(problem);
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) process.stderr.write(`trackhub: warning: the admin token goes to ${url.host} over plain http\n`);
  return new HubClient(url.toString(), token);
}

/**
 * Why a token cannot go in a request header, without quoting it: fetch refuses a header value with a
 * control character, and its error message quotes the whole value (the token, printed on the terminal).
 * A token is printable ASCII without spaces, so anything else (a pasted line break, say) is refused here.
 */
export function headerValueProblem(name: string, value: string): string | undefined {
  if (/^[\x21-\x7e]+$/.test(value)) return undefined;
  return `${name} holds a character no token has (a control character such as a pasted line break, a space inside it, or a non-ASCII character): set it to the token alone; it is not printed`;
}

/**
 * Why a fetch failed, in words that cannot hold a header value: the connection error's code
 * (ECONNREFUSED, ENOTFOUND, CERT_HAS_EXPIRED…) or a timeout, never fetch's own message, which quotes a
 * refused header (a token) whole. A cause's message is used only if it holds none of `secrets`.
 */
export function fetchFailure(err: unknown, secrets: string[]): string {
  if ((err as Error).name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string' && /^[A-Z][A-Z0-9_]{1,63}$/.test(cause.code)) return cause.code;
  const message = cause?.message;
  if (typeof message === 'string' && message.length <= 200 && !secrets.some((s) => s !== '' && message.includes(s))) return message;
  return 'the request could not be sent';
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Every item of a paginated Admin API list (`{ <key>: [...], nextCursor }`), page after page, up to `max`. */
export async function* listPages<T>(client: HubClient, path: string, key: string, query: Record<string, string | undefined>, max = Number.POSITIVE_INFINITY): AsyncGenerator<T> {
  let cursor: string | undefined;
  let left = max;
  while (left > 0) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
    params.set('limit', String(Math.min(left, 500)));
    if (cursor) params.set('cursor', cursor);
    const { body } = await client.request<Record<string, unknown>>('GET', `${path}?${params}`);
    const items = (body[key] ?? []) as T[];
    for (const item of items) yield item;
    left -= items.length;
    cursor = typeof body.nextCursor === 'string' ? body.nextCursor : undefined;
    if (!cursor || items.length === 0) return;
  }
}
