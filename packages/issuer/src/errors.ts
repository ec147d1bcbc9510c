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
    super(`${init.status} ${init.errorCode}: ${init.errorMessage}${init.correlationId ? ` (correlation id ${init.correlationId})` : ''}`);
    this.status = init.status;
    this.errorCode = init.errorCode;
    this.errorMessage = init.errorMessage;
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
