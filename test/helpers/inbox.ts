import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { createLogger } from '../../src/logger.ts';
import type { Db } from '../../src/store/db.ts';

/** The inbox folder of a site (docs/contract.md §4). */
export const inboxOf = (dataDir: string, siteId: string) => join(dataDir, 'inbox', siteId);

/** Registers a production site (no API key, no carriers); its inbox folder is left to the test or the first scan. */
export async function registerSite(db: Db, siteId: string): Promise<void> {
  await db.insertInto('production_sites').values({ site_id: siteId, name: siteId, api_key_hash: null, carriers: '[]' }).execute();
}

/** The event ids the store holds for a site, in order. */
export async function siteEventIds(db: Db, siteId: string): Promise<string[]> {
  return (await sql<{ event_id: string }>`select event_id from site_events where site_id = ${siteId} order by event_id`.execute(db)).rows.map((r) => r.event_id);
}

/** The `<name>.report.json` the inbox wrote beside a finished file. */
export function readReport(dataDir: string, siteId: string, folder: 'done' | 'rejected', name: string) {
  return JSON.parse(readFileSync(join(inboxOf(dataDir, siteId), folder, `${name}.report.json`), 'utf8'));
}

export interface LogEntry {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A logger whose every line (parsed) is handed to `sink`: for tests that read what the inbox logs. */
export function capturingLogger(level: string, sink: (entry: LogEntry) => void): Logger {
  return createLogger(level, { write: (line: string) => sink(JSON.parse(line)) });
}
