import type { CarrierCode } from './carriers.ts';

/** Normalised shipment status (docs/contract.md §3.4). */
export const SHIPMENT_STATUSES = [
  'PENDING',
  'INFO_RECEIVED',
  'IN_TRANSIT',
  'OUT_FOR_DELIVERY',
  'AVAILABLE_FOR_PICKUP',
  'FAILED_ATTEMPT',
  'DELIVERED',
  'EXCEPTION',
  'RETURNING_TO_SENDER',
  'RETURNED_TO_SENDER',
  'EXPIRED',
] as const;
export type ShipmentStatus = (typeof SHIPMENT_STATUSES)[number];

/** Before the carrier has the parcel in hand: no status from one of these follows a physical scan. */
export const PRE_PICKUP_STATUSES: ReadonlySet<ShipmentStatus> = new Set(['PENDING', 'INFO_RECEIVED']);

/** Statuses after which the carrier has nothing more to say about the parcel. */
export const FINAL_SHIPMENT_STATUSES: ReadonlySet<ShipmentStatus> = new Set(['DELIVERED', 'RETURNED_TO_SENDER']);

/** Carrier-neutral reasons for exceptions and failed attempts. */
export type SubStatus =
  | 'ADDRESS_ISSUE'
  | 'RECIPIENT_NOT_AVAILABLE'
  | 'REFUSED'
  | 'CUSTOMS'
  | 'DAMAGED'
  | 'LOST'
  | 'DELAYED'
  | 'WEATHER'
  | 'HELD'
  | 'CANCELLED'
  | 'UNKNOWN';

export interface Checkpoint {
  /** ISO 8601 UTC. */
  checkpointTime: string;
  city?: string;
  postalCode?: string;
  countryCode?: string;
  countryName?: string;
  message: string;
  status: ShipmentStatus;
  subStatus?: SubStatus;
  /** The carrier's own code and text, kept verbatim. */
  raw: { code: string; description: string };
}

/**
 * What one carrier said about one tracking number at one moment, already normalised.
 * Parsers produce it; the state machine compares it with what it already knew.
 */
export interface CarrierSnapshot {
  carrier: CarrierCode;
  trackingNumber: string;
  status: ShipmentStatus;
  subStatus?: SubStatus;
  /** Short English text for display. */
  message: string;
  estimatedDeliveryDate?: string;
  /** The carrier's own last-change time (newest event or its update stamp), never our poll time. */
  lastUpdatedAt?: string;
  /** Oldest first. */
  checkpoints: Checkpoint[];
}

/** Result of asking a provider about one number. */
export type TrackResult =
  | { kind: 'found'; snapshot: CarrierSnapshot }
  | { kind: 'not_found'; message: string }
  | { kind: 'error'; retryable: boolean; message: string; retryAfterMs?: number };
