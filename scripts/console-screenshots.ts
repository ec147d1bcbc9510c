/**
 * `npm run screenshots`: a screenshot of each console view into docs/console/, from a real hub with real
 * traffic. It starts the hub in this process (embedded store in a private temporary folder, sandbox carriers
 * sped up), two issuer back-ends (one answering 200, one failing, so dead letters exist), two production
 * sites; tracks cards through every sandbox story of five carriers, reports CARD_SHIPPED from the sites, drops
 * an inbox file with a bad line; waits for the parcels to move; then opens each view in Debian's Chromium
 * (TRACKHUB_CHROMIUM to use another) at 1280×800, and the overview and a card timeline at phone width.
 *
 *   npm run screenshots            # writes docs/console/*.png
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenProvider, TrackhubClient } from '@trackhub/issuer';
import { exportJWK, generateKeyPair } from 'jose';
import { sql } from 'kysely';
import { chromium } from 'playwright-core';
import { PACKAGE_ROOT } from '../src/assets.ts';
import { loadConfig } from '../src/config.ts';
import type { CarrierCode } from '../src/domain/carriers.ts';
import { startHub } from '../src/hub.ts';
import { createLogger } from '../src/logger.ts';
import { sandboxNumbers } from '../src/sandbox/numbers.ts';

const OUT = join(PACKAGE_ROOT, 'docs', 'console');
const CHROMIUM = process.env.TRACKHUB_CHROMIUM ?? '/usr/bin/chromium';
const CARRIERS: CarrierCode[] = ['fedex', 'ups', 'dhl', 'la-poste-colissimo', 'usps-iv-api'];
const SETTLE_SECONDS = Number(process.env.SCREENSHOT_SETTLE_SECONDS ?? 45);

function receiver(status: number): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(status, { 'content-type': 'application/json' }).end(status < 300 ? '{}' : '{"error":"the bank back-end is down"}'));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

async function call(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method, headers: { ...headers, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${new URL(url).pathname}: ${res.status} ${JSON.stringify(data)}`);
  return data;
}

/** A port free now: the hub's public URL (its tokens' audience) must name the port it listens on. */
async function freePort(): Promise<number> {
  const probe = createTcpServer();
  await new Promise<void>((ok) => probe.listen(0, '127.0.0.1', ok));
  const { port } = probe.address() as AddressInfo;
  await new Promise((ok) => probe.close(ok));
  return port;
}

const dir = mkdtempSync(join(tmpdir(), 'trackhub-screenshots-'));
const adminToken = randomBytes(24).toString('base64url');
const config = loadConfig({
  TRACKHUB_DATABASE_URL: `embedded://${join(dir, 'pg')}`,
  TRACKHUB_DATA_DIR: dir,
  TRACKHUB_HOST: '127.0.0.1',
  TRACKHUB_PORT: String(await freePort()),
  TRACKHUB_ADMIN_TOKEN: adminToken,
  TRACKHUB_SANDBOX: 'true',
  TRACKHUB_SANDBOX_SPEED: '7200',
  TRACKHUB_POLL_MIN_INTERVAL: '500ms',
  TRACKHUB_POLL_MAX_INTERVAL: '2s',
  TRACKHUB_RETRY_SCHEDULE: '1s,1s,2s',
  TRACKHUB_INBOX_SETTLE: '1s',
  TRACKHUB_INBOX_SCAN_INTERVAL: '1s',
  TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true',
  TRACKHUB_LOG_LEVEL: 'error',
});
const hub = await startHub(config, createLogger('error'));
const base = hub.url;
const admin = { authorization: `Bearer ${adminToken}` };
const ok = await receiver(200);
const down = await receiver(503);
try {
  const clients: Record<string, TrackhubClient> = {};
  for (const [issuerId, name, url] of [
    ['NORTHBANK1', 'North Bank', ok.url],
    ['SOUTHBANK1', 'South Bank (back-end down)', down.url],
  ] as const) {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const kid = `${issuerId}-k1`;
    await call(`${base}/admin/v1/issuers/${issuerId}`, 'PUT', admin, { name, notificationBaseUrl: url, jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] }, autoTrackShipment: true });
    const tokens = new TokenProvider({ hubUrl: base, issuerId, keyId: kid, privateKey: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' } });
    clients[issuerId] = new TrackhubClient({ hubUrl: base, issuerId, tokens });
  }
  const sites: Record<string, string> = {};
  for (const [siteId, name] of [
    ['BUREAU-PAR', 'Paris card bureau'],
    ['BUREAU-LON', 'London card bureau'],
  ]) {
    const site = await call(`${base}/admin/v1/production-sites/${siteId}`, 'PUT', admin, { name, carriers: CARRIERS, generateApiKey: true });
    sites[siteId] = String(site.apiKey);
  }

  // Shipments tracked directly: every sandbox story of each carrier, for North Bank; a few for South Bank.
  let n = 0;
  for (const [i, carrier] of CARRIERS.entries()) {
    for (const number of sandboxNumbers(String(4_400_000 + i * 1000), [carrier])) {
      const issuer = n % 6 === 5 ? 'SOUTHBANK1' : 'NORTHBANK1';
      await clients[issuer]?.track(`card-${carrier.slice(0, 5)}-${number.scenario}`, { trackingType: 'SHIPMENT', carrier, trackingNumber: number.trackingNumber });
      n++;
    }
  }
  // Cards produced by the sites: PRODUCTION requests, then the sites' CARD_SHIPPED reports open the shipments.
  const events: Record<string, unknown>[] = [];
  for (let k = 0; k < 12; k++) {
    const siteId = k % 3 === 0 ? 'BUREAU-LON' : 'BUREAU-PAR';
    const cardId = `card-prod-${String(k).padStart(3, '0')}`;
    await clients.NORTHBANK1?.track(cardId, { trackingType: 'PRODUCTION', productionSite: siteId });
    const number = sandboxNumbers(String(5_500_000 + k), ['fedex']).find((s) => s.scenario === (k % 4 === 3 ? 'quiet' : 'delivered'));
    if (k < 10) events.push({ siteId, eventId: `ev-${cardId}`, issuerId: 'NORTHBANK1', cardId, type: 'CARD_SHIPPED', occurredAt: new Date().toISOString(), carrier: 'fedex', trackingNumber: number?.trackingNumber });
  }
  for (const siteId of Object.keys(sites)) {
    const own = events.filter((e) => e.siteId === siteId).map(({ siteId: _s, ...e }) => e);
    await call(`${base}/sites/v1/production-sites/${siteId}/events`, 'POST', { 'x-api-key': sites[siteId] as string }, { events: own });
  }
  // An inbox file from the London bureau with one good line and one the hub rejects.
  const inbox = join(dir, 'inbox', 'BUREAU-LON');
  mkdirSync(inbox, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(inbox, 'shipped-2026-12-06.csv'),
    `eventId,issuerId,cardId,type,occurredAt,carrier,trackingNumber\nev-file-1,NORTHBANK1,card-prod-010,CARD_SHIPPED,${new Date().toISOString()},fedex,${sandboxNumbers('5500010', ['fedex'])[0]?.trackingNumber}\nev-file-2,NORTHBANK1,card-prod-011,CARD_SHIPPED,not-a-time,fedex,123\n`,
    { mode: 0o600 },
  );

  process.stdout.write(`screenshots: ${n} shipments and 12 productions tracked; waiting ${SETTLE_SECONDS} s for the parcels to move\n`);
  await new Promise((r) => setTimeout(r, SETTLE_SECONDS * 1000));

  // This run's parcels are minutes old and the stuck lists count days: the parcels of the 'quiet' story (the
  // carrier goes silent) and the site reports that shipped them are aged 4 days, as if tracked then, so the
  // Stuck view has something to show. (A script's own seeding, like the benchmarks'; the hub never does this.)
  const db = hub.context.db;
  const aged = sql`(select card_id from operations where is_open and tracking_type = 'SHIPMENT' and shipment_status in ('PENDING', 'INFO_RECEIVED'))`;
  await sql`update site_events set received_at = received_at - interval '4 days', occurred_at = occurred_at - interval '4 days' where card_id in ${aged}`.execute(db);
  await sql`update operations set created_at = created_at - interval '4 days',
      state = case when state ? 'shipment' and state -> 'shipment' ? 'lastUpdatedAt'
        then jsonb_set(state, '{shipment,lastUpdatedAt}', to_jsonb(to_char((now() - interval '4 days') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))) else state end
    where card_id in ${aged} and is_open`.execute(db);

  mkdirSync(OUT, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  const shots: [string, string, number][] = [
    ['overview', '#/overview', 1280],
    ['search', '#/search?q=card-fedex', 1280],
    ['card-timeline', '#/card/NORTHBANK1/card-fedex-delivered', 1280],
    ['notifications', '#/notifications', 1280],
    ['carriers', '#/carriers', 1280],
    ['sites', '#/sites', 1280],
    ['site-inbox', '#/sites/BUREAU-LON', 1280],
    ['stuck', '#/stuck', 1280],
    ['issuers', '#/issuers', 1280],
    ['audit', '#/audit', 1280],
    ['overview-phone', '#/overview', 390],
    ['card-timeline-phone', '#/card/NORTHBANK1/card-fedex-delivered', 390],
  ];
  for (const [name, hash, width] of shots) {
    const page = await browser.newPage({ viewport: { width, height: width > 500 ? 800 : 844 } });
    await page.goto(`${base}/console`);
    await page.fill('#token', adminToken);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('nav#tabs');
    await page.evaluate((h) => {
      window.location.hash = h;
    }, hash);
    await page.waitForLoadState('networkidle');
    await page.waitForTimeout(700);
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: width > 500 });
    process.stdout.write(`screenshots: docs/console/${name}.png\n`);
    await page.close();
  }
  await browser.close();
} finally {
  await hub.close();
  for (const r of [ok, down]) {
    r.server.closeAllConnections();
    r.server.close();
  }
  rmSync(dir, { recursive: true, force: true });
}
