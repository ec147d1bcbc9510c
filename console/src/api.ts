// The console's only way to the hub: same-origin calls to the Admin API with the operator's admin token.
// The token lives in this tab's sessionStorage only (gone when the tab closes), never in a URL or cookie.

const TOKEN_KEY = 'trackhub.adminToken';

/** An Admin API refusal: the HTTP status and the contract's error body (`error`, `message`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function storedToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function storeToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Fired when the hub refuses the token (401): the shell signs out and says why. */
export const SIGNED_OUT_EVENT = 'trackhub:signed-out';

function errorOf(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown; errorMessage?: unknown; errorCode?: unknown };
    // The contract's body is {errorCode, error}: error is the message, so errorCode is read first.
    const code = String(body.errorCode ?? body.error ?? `HTTP_${status}`);
    const message = String(body.message ?? body.errorMessage ?? body.error ?? `HTTP ${status}`);
    return new ApiError(status, code, message);
  } catch {
    return new ApiError(status, `HTTP_${status}`, `the hub answered HTTP ${status}`);
  }
}

/**
 * How often a read the hub answered 503 with a short Retry-After (busy: its reads are capped; 2 s) is tried
 * again. A read stopped by the statement timeout answers 30 s: not retried, the view shows its message.
 */
const BUSY_RETRIES = 3;
const MAX_BUSY_WAIT_S = 10;

function wait(seconds: number, signal?: AbortSignal): Promise<void> {
  return new Promise((ok, ko) => {
    const onAbort = () => {
      clearTimeout(timer);
      ko(new DOMException('aborted', 'AbortError'));
    };
    // The listener goes with the wait: a view's signal lives on, and would gather one per retry.
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      ok();
    }, seconds * 1000);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** One Admin API call; JSON in and out. Throws ApiError on any refusal, a network error as ApiError(0). */
export async function api<T>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal; token?: string } = {}): Promise<T> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { authorization: `Bearer ${init.token ?? storedToken()}` };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  for (let attempt = 0; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: init.signal });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ApiError(0, 'NETWORK', 'the hub could not be reached');
    }
    const text = await res.text();
    if (res.ok) return (text ? JSON.parse(text) : {}) as T;
    const error = errorOf(res.status, text);
    if (res.status === 401 && init.token === undefined) window.dispatchEvent(new CustomEvent(SIGNED_OUT_EVENT, { detail: error.message }));
    // A busy hub (its heavy reads run a few at a time) says when to come back: a read waits and asks again,
    // rather than showing an empty figure. Writes are never repeated here.
    const retryAfter = Number(res.headers.get('retry-after'));
    if (method === 'GET' && res.status === 503 && attempt < BUSY_RETRIES && retryAfter > 0 && retryAfter <= MAX_BUSY_WAIT_S) {
      await wait(retryAfter, init.signal);
      continue;
    }
    throw error;
  }
}

/** A query string from the set values only: `qs({ q: 'x', limit: 50, cursor: undefined })` → `?q=x&limit=50`. */
export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** A path segment from outside input (a card id, an issuer id), encoded so it stays one segment. */
export const seg = encodeURIComponent;
