import type { Logger } from 'pino';
import type { CarrierCode } from '../domain/carriers.ts';
import type { Timeouts } from '../domain/operation.ts';
import type { PollBounds } from '../domain/schedule.ts';
import type { Db } from '../store/db.ts';

/** What the use cases need from the world, passed in so tests choose what is real. */
export interface HubContext {
  db: Db;
  log: Logger;
  now: () => Date;
  policy: Timeouts & PollBounds & { leaseMs: number };
  /** Ranked carrier candidates for a tracking number; empty when no rule fits. */
  detect: (trackingNumber: string, hints: { countryCode?: string; siteCarriers?: CarrierCode[] }) => CarrierCode[];
  trackingUrl: (carrier: CarrierCode, trackingNumber: string) => string;
  /** Wakes the local dispatcher after a commit, so notifications leave without waiting for its next poll. */
  kickDelivery: () => void;
  /** Wakes the local poller (a new SHIPMENT wants its first poll now). */
  kickPolling: () => void;
  /** Connections for claims, whose commits need not wait for the disk (OpenedStore.relaxed); else db. */
  relaxedDb?: Db;
}
