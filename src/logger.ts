import pino, { type Logger } from 'pino';

/**
 * JSON logs on stdout. Secrets are redacted by path as a second line of defence; the first is never
 * logging request bodies or headers at all.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'trackhub' },
      timestamp: pino.stdTimeFunctions.isoTime,
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
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
