/** The closed set of error codes the Issuer, Site and Admin APIs answer with (docs/contract.md §2.4). */
export const ERROR_STATUS = {
  FIELD_INVALID_FORMAT: 400,
  FIELD_INVALID_VALUE: 400,
  PARSING_ERROR: 400,
  AUTHORIZER_UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  /** The state changed since the caller looked (an issuer replay whose preview count no longer holds). */
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** An expected failure with a contract error code; the HTTP layer turns it into `{errorCode, error}`. */
export class ApiError extends Error {
  constructor(
    readonly errorCode: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
  get statusCode(): number {
    return ERROR_STATUS[this.errorCode];
  }
}

export type Result<T> = { ok: true; value: T } | { ok: false; errorCode: ErrorCode; error: string };
