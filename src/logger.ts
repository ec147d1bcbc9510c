import pino, { type Logger } from 'pino';

/**
 * Fields of an error that quote the values of a failed statement: PostgreSQL's `detail`, `where`
 * (e.g. "unnamed portal parameter $2 = '…'", or the JSON text up to a bad character, secrets and all),
 * `hint` and `internalQuery`, and the parameters or query text a driver or a caller may attach.
 */
const QUOTING_FIELDS = new Set(['detail', 'where', 'hint', 'internalQuery', 'internalPosition', 'position', 'query', 'parameters', 'params', 'values', 'bindings', 'sql']);

/** PostgreSQL's class 22 (data exception): its message may quote the offending value ("…: \"value\""). */
function isDataException(e: Record<string, unknown>): boolean {
  return typeof e.code === 'string' && /^22[0-9A-Z]{3}$/.test(e.code) && typeof e.severity === 'string';
}

function withoutQuotes(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '"[value]"');
}

function scrub(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (!QUOTING_FIELDS.has(key)) out[key] = scrub(v, depth + 1);
  if (isDataException(out) && typeof out.message === 'string') {
    const message = out.message;
    out.message = withoutQuotes(message);
    if (typeof out.stack === 'string') out.stack = out.stack.split(message).join(out.message as string);
  }
  return out;
}

/**
 * An error as the hub logs it, wherever it is logged: pino's standard form (type, message, stack, own
 * fields) without what may quote the values of a failed query. Secrets are values too (a webhook secret,
 * a private key in a statement's parameters), and redaction by path cannot know every field a store
 * error carries, so the fields that quote values are left out, and a data exception's message loses its
 * quoted value. Used as the `err` serializer of every logger, and by the HTTP error handler.
 */
export function errorForLog(err: unknown): unknown {
  return scrub(pino.stdSerializers.err(err as Error), 0);
}

/**
 * JSON logs on stdout. Secrets are redacted by path as a second line of defence; the first is never
 * logging request bodies or headers at all, nor the values of a failed query (`errorForLog`).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'trackhub' },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: errorForLog, error: errorForLog },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-api-key"]',
          '*.clientSecret',
          '*.webhookSecret',
          '*.apiKey',
          '*.password',
          '*.assertion',
          '*.access_token',
          '*.privateKeyPem',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
