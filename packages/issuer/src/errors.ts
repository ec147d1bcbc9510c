/**
 * The errors the SDK throws. Each carries what a caller needs to decide what to do next (retry, fix
 * the request, fix the configuration) and never a secret: no token, key or signature is ever put in a
 * message.
 */

/** A refusal or failure answered by the hub's Issuer API (the contract's `{ errorCode, error }` body). */
export class TrackhubApiError extends Error {
  override readonly name: string = 'TrackhubApiError';
  /** The HTTP status the hub answered. */
  readonly status: number;
  /** The contract's code (`FIELD_INVALID_FORMAT`, `NOT_FOUND`, `RATE_LIMITED`…), or `UNEXPECTED_RESPONSE` when the body was not one. */
  readonly errorCode: string;
  /** The hub's own words about what was wrong (e.g. which field). */
  readonly errorMessage: string;
  /** The `x-correlation-id` of the request: quote it to the hub's operators, it is in their logs. */
  readonly correlationId: string | undefined;
  /** Seconds the hub asked to wait (`Retry-After`), when it said. */
  readonly retryAfterSeconds: number | undefined;

  constructor(init: { status: number; errorCode: string; errorMessage: string; correlationId?: string; retryAfterSeconds?: number }) {
    // The code and the words come from the answer: escaped and cut, so a hostile or broken hub (or a proxy) cannot flood or forge log lines.
    const errorCode = quoteText(init.errorCode, 64);
    const errorMessage = quoteText(init.errorMessage);
    super(`${init.status} ${errorCode}: ${errorMessage}${init.correlationId ? ` (correlation id ${quoteText(init.correlationId, 64)})` : ''}`);
    this.status = init.status;
    this.errorCode = errorCode;
    this.errorMessage = errorMessage;
    this.correlationId = init.correlationId;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }

  /** True when the same request may succeed later unchanged (rate limited, hub or store away). */
  get retryable(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

/**
 * The token endpoint refused the assertion or failed: `errorCode` is the OAuth2 `error`
 * (`invalid_grant`, `invalid_request`, `slow_down`, `temporarily_unavailable`…) and `errorMessage` its
 * `error_description`, which names the rule that failed.
 */
export class TrackhubTokenError extends TrackhubApiError {
  override readonly name: string = 'TrackhubTokenError';
}

export type WebhookVerificationReason =
  | 'missing_header'
  | 'invalid_webhook_id'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_in_future'
  | 'invalid_signature_header'
  | 'no_matching_signature'
  | 'invalid_body';

/** A notification that must not be trusted (or cannot be read); `reason` says which check failed. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(
    readonly reason: WebhookVerificationReason,
    message: string,
  ) {
    super(`${reason}: ${message}`);
  }
}

/**
 * The hub could not be reached or did not answer in time (`timedOut`): the message names the URL
 * (never a token). `cause` holds fetch's own error only when it cannot quote the request (a time-out,
 * or a connection failure with its error code); otherwise there is none: fetch's refusal of a header
 * quotes the header's value, a token included, and util.inspect(err) prints a cause.
 */
export class TrackhubNetworkError extends Error {
  override readonly name = 'TrackhubNetworkError';
  readonly retryable = true;
  constructor(
    readonly url: string,
    readonly timedOut: boolean,
    cause: unknown,
  ) {
    const code = (cause as { cause?: { code?: unknown } })?.cause?.code;
    // undici wraps a connection failure as 'fetch failed' around the socket's error (its code, addresses);
    // its invalid-argument errors are about the request the caller built, so they are not kept either.
    const connection = (cause as Error)?.message === 'fetch failed' && typeof code === 'string' && code !== 'UND_ERR_INVALID_ARG';
    const why = timedOut ? 'no answer in time (timeoutMs)' : connection ? quoteText(code, 64) : (cause as Error)?.message === 'fetch failed' ? 'fetch failed' : 'the request could not be sent';
    super(`could not reach the hub at ${url}: ${why}`, timedOut || connection ? { cause } : undefined);
  }
}

const CONTROL = new RegExp('[\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]', 'g');

/** Text from the hub put into a message: control characters escaped (no forged log lines) and cut short. */
export function quoteText(text: string, max = 300): string {
  // A character class of control characters, built from a string (a regex literal of them reads as a mistake).
  const escaped = text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}

/** A catch-up stopped part-way: `cursor` is where to start again (items already applied come back as duplicates). */
export class SyncError extends Error {
  override readonly name = 'SyncError';
  constructor(
    readonly cursor: string | undefined,
    cause: unknown,
  ) {
    super(`catch-up stopped: ${(cause as Error)?.message ?? String(cause)}; resume from the cursor this error carries`, { cause });
  }
}
