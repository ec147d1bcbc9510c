/**
 * The flooding production site of bench/limits.ts, in a process of its own: `connections` loops posting
 * 1,000-event batches to the Site API for `ms` milliseconds, never waiting for Retry-After. Prints one
 * JSON line, `{"accepted":N,"refused":N}`, when done.
 *
 * A process of its own so that building and sending the flood (hundreds of 130 KB bodies a second) does
 * not run on the event loop that times the other tenant's requests: before, the measuring process did both,
 * and part of the "slowed" latency it printed was its own.
 *
 *   node --import tsx bench/flood/site-flood.ts <baseUrl> <siteId> <apiKey> <connections> <ms> <idPrefix>
 */
import { Pool } from 'undici';

const [base, site, apiKey, connectionsArg, msArg, prefix] = process.argv.slice(2);
const connections = Number(connectionsArg);
const until = performance.now() + Number(msArg);

function batch(id: string): string {
  return JSON.stringify({
    events: Array.from({ length: 1000 }, (_, i) => ({ eventId: `${id}-${i}`, issuerId: 'FLOODBANK1', cardId: `card-${id}-${i}`, type: 'CARD_SHIPPED', occurredAt: '2026-05-01T10:00:00Z' })),
  });
}

const pool = new Pool(base, { connections });
let accepted = 0;
let refused = 0;
await Promise.all(
  Array.from({ length: connections }, async (_, c) => {
    let n = 0;
    let body = batch(`${prefix}-${c}-${n}`);
    while (performance.now() < until) {
      const res = await pool.request({ method: 'POST', path: `/sites/v1/production-sites/${site}/events`, headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body });
      const answer = (await res.body.json()) as { accepted?: number };
      if (res.statusCode === 202) {
        accepted += answer.accepted ?? 0;
        body = batch(`${prefix}-${c}-${++n}`);
      } else if (res.statusCode === 429) refused++;
      else throw new Error(`flood: ${res.statusCode} ${JSON.stringify(answer)}`);
    }
  }),
);
await pool.close();
process.stdout.write(`${JSON.stringify({ accepted, refused })}\n`);
