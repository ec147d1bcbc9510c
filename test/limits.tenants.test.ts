import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSink } from '../src/cli/sites.ts';
import type { SiteEventInput } from '../src/sites/events.ts';
import { ADMIN_TOKEN, readyIssuer, type TestApp, testApp } from './helpers/app.ts';
import { waitFor } from './helpers/processes.ts';
import { STORE_KINDS } from './helpers/stores.ts';

/** Events per second a site may send here, and its burst (TRACKHUB_SITE_RATE_LIMIT=2000/1s). */
const RATE = 2000;
const BURST = 2000;
const FLOOD_CONNECTIONS = 4;
const TRACKS = 100;

function events(prefix: string, n: number): SiteEventInput[] {
  return Array.from({ length: n }, (_, i) => ({ eventId: `${prefix}-${i}`, issuerId: 'FLOODBANK1', cardId: `card-${prefix}-${i}`, type: 'CARD_SHIPPED', occurredAt: '2026-05-01T10:00:00Z' }));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const figures = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p99: percentile(sorted, 99) };
};

describe.each(STORE_KINDS)('one tenant does not slow another on %s', (kind) => {
  let t: TestApp;
  let base: string;
  let token: string;
  const siteKeys: Record<string, string> = {};

  beforeAll(async () => {
    t = await testApp(kind, { TRACKHUB_SITE_RATE_LIMIT: `${BURST}/1s` });
    token = (await readyIssuer(t.app, 'QUIETBANK1')).token;
    for (const siteId of ['FLOOD-SITE', 'IMPORT-SITE']) {
      const res = await t.app.inject({ method: 'PUT', url: `/admin/v1/production-sites/${siteId}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: siteId } });
      siteKeys[siteId] = res.json().apiKey;
    }
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => t?.close());

  it(`holds a site flooding the Site API on ${FLOOD_CONNECTIONS} connections to its event budget while another issuer's track requests all succeed`, async () => {
    const issuerPool = new Pool(base, { connections: 1 });
    const floodPool = new Pool(base, { connections: FLOOD_CONNECTIONS });
    try {
      let card = 0;
      const trackOnce = async (): Promise<{ status: number; ms: number }> => {
        const started = performance.now();
        const res = await issuerPool.request({
          method: 'POST',
          path: `/banking/v1/issuers/QUIETBANK1/physicalCards/card-${kind}-${card++}/track`,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ trackingType: 'PRODUCTION' }),
        });
        await res.body.dump();
        return { status: res.statusCode, ms: performance.now() - started };
      };
      const trackMany = async (n: number) => {
        const answers: { status: number; ms: number }[] = [];
        for (let i = 0; i < n; i++) answers.push(await trackOnce());
        return answers;
      };

      await trackMany(20); // warm-up
      const baseline = await trackMany(TRACKS);

      // The flood: each connection posts 1,000-event batches as fast as it is answered, never waiting
      // for Retry-After (an attacker would not); a refused batch is sent again as it was.
      let stop = false;
      let accepted = 0;
      let refused = 0;
      const floodStarted = performance.now();
      const flooders = Array.from({ length: FLOOD_CONNECTIONS }, async (_, c) => {
        let n = 0;
        let body = JSON.stringify({ events: events(`flood-${c}-${n}`, 1000) });
        while (!stop) {
          const res = await floodPool.request({
            method: 'POST',
            path: '/sites/v1/production-sites/FLOOD-SITE/events',
            headers: { 'x-api-key': siteKeys['FLOOD-SITE'], 'content-type': 'application/json' },
            body,
          });
          const answer = (await res.body.json()) as { accepted?: number; errorCode?: string };
          if (res.statusCode === 202) {
            accepted += answer.accepted ?? 0;
            body = JSON.stringify({ events: events(`flood-${c}-${++n}`, 1000) });
          } else if (res.statusCode === 429 && answer.errorCode === 'RATE_LIMITED' && Number(res.headers['retry-after']) >= 1) refused++;
          else throw new Error(`flood answered ${res.statusCode}: ${JSON.stringify(answer)}`);
        }
      });
      const flooding = Promise.all(flooders);
      let during: { status: number; ms: number }[] = [];
      try {
        await waitFor('the flooding site to be refused', () => (refused > 0 ? true : undefined), 30_000, 10);
        during = await trackMany(TRACKS);
      } finally {
        stop = true;
        await flooding;
      }
      const floodSeconds = (performance.now() - floodStarted) / 1000;

      expect(refused).toBeGreaterThan(0);
      // Accepted within the budget: the burst plus the rate over the whole flood (an upper bound
      // whatever the machine's speed).
      expect(accepted).toBeGreaterThan(0);
      expect(accepted).toBeLessThanOrEqual(BURST + RATE * floodSeconds);
      expect(baseline.every((a) => a.status === 202)).toBe(true);
      expect(during.every((a) => a.status === 202)).toBe(true);

      const before = figures(baseline.map((a) => a.ms));
      const flood = figures(during.map((a) => a.ms));
      console.log(
        `[limits on ${kind}] the flooding site: ${accepted} events accepted in ${floodSeconds.toFixed(1)} s (${Math.round(accepted / floodSeconds)}/s; budget ${RATE}/s + ${BURST}), ${refused} batches refused with 429\n` +
          `[limits on ${kind}] the other issuer's track latency, ${TRACKS} requests each: alone median ${before.median.toFixed(1)} ms, p99 ${before.p99.toFixed(1)} ms; ` +
          `during the flood median ${flood.median.toFixed(1)} ms (x${(flood.median / before.median).toFixed(2)}), p99 ${flood.p99.toFixed(1)} ms (x${(flood.p99 / before.p99).toFixed(2)})`,
      );
    } finally {
      await issuerPool.close();
      await floodPool.close();
    }
  });

  it('sites import --url waits out a 429 for as long as Retry-After says and sends the batch again', async () => {
    const sink = httpSink(base, 'IMPORT-SITE', siteKeys['IMPORT-SITE']);
    let total = 0;
    // 5,000 events at 2,000 per second with a burst of 2,000: the third batch is refused at least once.
    for (let n = 0; n < 5; n++) {
      const chunk = { rejected: [], endLine: (n + 1) * 1000, lines: Array.from({ length: 1000 }, (_, i) => n * 1000 + i + 2) };
      const counts = await sink(events(`import-${n}`, 1000), chunk);
      expect(chunk.rejected).toEqual([]);
      total += counts.accepted;
    }
    expect(total).toBe(5000);
  });
});
