import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CarrierCode } from '../domain/carriers.ts';
import type { TrackResult } from '../domain/shipment.ts';
import type { Shape } from './parse-util.ts';

/**
 * Carrier pushes (webhooks): what every provider's reader (`<provider>/push.ts`) is. Each reader checks the request came from the carrier, with the
 * secret shared with it (`TRACKHUB_CARRIER_<PROVIDER>_WEBHOOK_SECRET`), and turns the body into events for
 * the same parsers that read polled answers, so a pushed scan and a polled one become the same checkpoint.
 */

export type Headers = Record<string, string | string[] | undefined>;

export interface PushEvent {
  trackingNumber: string;
  /** The event read as the given carrier's data (one provider serves several carrier codes). */
  read: (carrier: CarrierCode) => TrackResult;
}

export interface PushReader {
  /** Where the secret travels, for messages and docs. */
  header: string;
  /** Checks the request came from the carrier; `rawBody` is the bytes exactly as sent. */
  verify: (headers: Headers, rawBody: Buffer, secret: string) => boolean;
  /**
   * The types of the fields the parsers read. The route checks a body against it (`shapeError`) before
   * `events`, so a signed body of the right envelope but wrong inner types is refused as bad input
   * instead of reaching the parsers.
   */
  shape: Shape;
  /** The events of a body that fits `shape`, or undefined when it is not this provider's push envelope. */
  events: (body: unknown) => PushEvent[] | undefined;
}

/** One header's value (the first, when sent twice). */
export function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Constant-time comparison of two strings of any length. */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** base64(HMAC-SHA256(body, secret)): AfterShip's `aftership-hmac-sha256` and FedEx's `fdx-signature`. */
export function bodyHmac(rawBody: Buffer | string, secret: string): string {
  return createHmac('sha256', secret).update(rawBody).digest('base64');
}
