import type { Logger } from 'pino';
import { detect, trackingUrl } from '../carriers/index.ts';
import type { CarrierCode } from '../domain/carriers.ts';
import type { Timeouts } from '../domain/deadlines.ts';
import type { PollBounds } from '../domain/schedule.ts';
import type { Db } from '../store/db.ts';

/** What the use cases need from the world, passed in so tests choose what is real. */
export interface HubContext {
  db: Db;
  log: Logger;
  /** The one clock of the use cases, the poller, the dispatcher and the Site API. */
  now: () => Date;
  /** Deadlines, poll bounds and the lease: the policy the use cases need, and nothing else of the configuration. */
  policy: HubPolicy;
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

export type HubPolicy = Timeouts & PollBounds & { leaseMs: number };

/**
 * The one way a HubContext is made, for the hub, the CLI and the tests: what is not given is the real
 * thing (the wall clock, the carriers' detection rules and tracking pages) or nothing to wake.
 */
export function buildContext(o: {
  db: Db;
  relaxedDb?: Db;
  log: Logger;
  policy: HubPolicy;
  now?: () => Date;
  detect?: HubContext['detect'];
  trackingUrl?: HubContext['trackingUrl'];
  kickDelivery?: () => void;
  kickPolling?: () => void;
}): HubContext {
  return {
    db: o.db,
    ...(o.relaxedDb ? { relaxedDb: o.relaxedDb } : {}),
    log: o.log,
    now: o.now ?? (() => new Date()),
    policy: o.policy,
    detect: o.detect ?? detect,
    trackingUrl: o.trackingUrl ?? trackingUrl,
    kickDelivery: o.kickDelivery ?? (() => {}),
    kickPolling: o.kickPolling ?? (() => {}),
  };
}
