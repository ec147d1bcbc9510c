import type { Checkpoint, ShipmentStatus } from '../../domain/shipment.ts';
import { nonEmpty, objects, oldestFirst } from '../parse-util.ts';
import { toUtcIso } from '../time.ts';

/**
 * One stage of `shipment.timeline[]` (La Poste Suivi v2): five steps, taken in charge, on the way, arrived
 * at the delivery site, being prepared for delivery, delivered. Only a reached stage has a `date`, and the
 * stage is where La Poste gives a country (events have none).
 */
export interface LaPosteStage {
  id?: number;
  shortLabel?: string;
  longLabel?: string;
  date?: string;
  country?: string;
  status?: boolean;
  type?: number;
}

/** La Poste sends five stages; anything past this many is not a timeline we know, and is not read. */
const MAX_STAGES = 20;

/**
 * Adds the timeline to the checkpoints read from `event[]` (oldest first), without saying anything twice:
 * - a stage with no `date` is skipped: it has no time to be placed at, and its step is told by events;
 * - a stage whose `status` is `false` is skipped: not reached (the only value seen is `true`; the meaning of
 *   `type` is not documented where we could read it, so it is not used);
 * - a dated stage at the same instant as an event is that event: the event keeps its code and text and
 *   gains the stage's country when it has none;
 * - a dated stage no event covers becomes a checkpoint of its own, with its country. Events decide the
 *   status: the stage takes the status of the event before it (IN_TRANSIT when none is: a dated stage means
 *   La Poste holds the parcel), so a summary line never moves a parcel on or back by itself.
 */
export function withTimeline(events: Checkpoint[], timeline: unknown, zoneCountry: string): Checkpoint[] {
  const merged = [...events];
  const added: Checkpoint[] = [];
  for (const stage of objects<LaPosteStage>(timeline).slice(0, MAX_STAGES)) {
    if (stage.status === false) continue;
    const time = toUtcIso(nonEmpty(stage.date), { countryCode: zoneCountry });
    if (!time) continue;
    const given = nonEmpty(stage.country);
    const countryCode = given && /^[A-Za-z]{2}$/.test(given) ? given.toUpperCase() : undefined;
    const same = merged.findIndex((c) => c.checkpointTime === time);
    if (same >= 0) {
      if (countryCode && !merged[same].countryCode) merged[same] = { ...merged[same], countryCode };
      continue;
    }
    const label = nonEmpty(stage.longLabel) ?? nonEmpty(stage.shortLabel) ?? '';
    const before = events.filter((c) => c.checkpointTime <= time).at(-1);
    const status: ShipmentStatus = before?.status ?? 'IN_TRANSIT';
    const id = typeof stage.id === 'number' && Number.isInteger(stage.id) ? String(stage.id) : '?';
    added.push({ checkpointTime: time, ...(countryCode ? { countryCode } : {}), message: label, status, raw: { code: `timeline-${id}`, description: label } });
  }
  return oldestFirst([...merged, ...added], 'oldest-first');
}
