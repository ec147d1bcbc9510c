import { sql } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/delivery/dispatcher.ts';
import { createLogger } from '../src/logger.ts';
import { createAdminToken } from '../src/store/admin-tokens.ts';
import { accessToken, putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { launchChromium, signedIn } from './helpers/console.ts';
import { faultReceiver } from './helpers/faults.ts';
import { issuerKey } from './helpers/issuer.ts';

// The console's Search, card timeline and Stuck views in a real Chromium against a real listening hub:
// cards tracked through the Banking API, carrier checkpoints and a dead notification with its attempts
// written into the store as the poller and the dispatcher leave them, a dispatcher delivering replays to a
// local receiver.
const A = 'ISSUER_SRC';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
// Markup that would run if any view wrote a value from the hub as HTML.
const IMG = (n: number) => `<img src=x onerror="window.__xss=${n}">`;
const XSS_CARD = `${IMG(1)}`;
const XSS_DESCRIPTION = `</script>${IMG(2)}`;
const XSS_ERROR = `</script>${IMG(3)}`;
const escapeRe = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('web console: search, card timeline, stuck parcels', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let receiver: Awaited<ReturnType<typeof faultReceiver>>;
  let dispatcher: Dispatcher | undefined;
  let deadId: string;
  const op: Record<string, string> = {};

  beforeAll(async () => {
    t = await testApp('embedded', { TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true' });
    receiver = await faultReceiver(() => ({ status: 204 }));
    const key = await issuerKey();
    await putIssuer(t.app, A, key, { notificationBaseUrl: receiver.url });
    const token = await accessToken(t.app, A, key);
    const track = async (card: string, body: object) => {
      const res = await t.app.inject({ method: 'POST', url: `/banking/v1/issuers/${A}/physicalCards/${card}/track`, headers: { authorization: `Bearer ${token}` }, payload: body });
      expect(res.statusCode, res.body).toBe(202);
      return res.json().operationId as string;
    };
    op.production = await track('CARD_SRC_1', { trackingType: 'PRODUCTION' });
    op.shipment = await track('CARD_SRC_1', { trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber: '771234567890' });
    op.xss = await track('CARD_SRC_X', { trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber: '779999999999' });
    const db = t.store.db;
    // The shipment: asked 5 days ago, three carrier checkpoints, the last 4 days ago: stuck at 3 days.
    const checkpoints = [
      { checkpointTime: ago(5 * DAY), city: 'Memphis', countryCode: 'US', message: 'Picked up', status: 'INFO_RECEIVED', raw: { code: 'PU', description: 'Picked up' } },
      { checkpointTime: ago(4.5 * DAY), city: 'Paris', postalCode: '75001', countryName: 'France', message: 'In transit', status: 'IN_TRANSIT', raw: { code: 'IT', description: XSS_DESCRIPTION } },
      { checkpointTime: ago(4 * DAY), city: 'Lyon', countryCode: 'FR', message: 'At hub', status: 'IN_TRANSIT', raw: { code: 'AR', description: 'Arrived at hub' } },
    ];
    const shipment = {
      carrier: 'fedex', trackingNumber: '771234567890', trackingUrl: 'https://www.fedex.com/fedextrack/?trknbrs=771234567890', status: 'IN_TRANSIT',
      message: 'At hub', lastUpdatedAt: ago(4 * DAY), estimatedDeliveryDate: ago(-DAY), checkpoints,
    };
    await sql`update operations set created_at = ${ago(5 * DAY)}::timestamptz, state = jsonb_set(state, '{shipment}', ${JSON.stringify(shipment)}::jsonb)
      where operation_id = ${op.shipment}`.execute(db);
    // A carrier link that is not a web address is never made a link.
    // Its carrier's own words hold a bidi override, a zero-width space and an escape: shown, not obeyed.
    const odd = { ...shipment, trackingNumber: '779999999999', trackingUrl: 'javascript:window.__xss=4', status: 'INFO_RECEIVED', message: 'Label for \u202Eexe.txt\u200B\u001b[31m', checkpoints: [] };
    await sql`update operations set state = jsonb_set(state, '{shipment}', ${JSON.stringify(odd)}::jsonb) where operation_id = ${op.xss}`.execute(db);
    // An operation under a card id no API would take (written straight into the store).
    await sql`update operations set card_id = ${XSS_CARD} where operation_id = ${op.production}`.execute(db);
    // The shipment's first notification died after two attempts, as the dispatcher records them.
    const first = await sql<{ id: string }>`select id from outbox where operation_id = ${op.shipment} order by sequence_number limit 1`.execute(db);
    deadId = first.rows[0]?.id as string;
    expect(deadId).toBeTruthy();
    await sql`update outbox set state = 'dead', attempts = 2, last_error = ${XSS_ERROR}, next_attempt_at = now() where id = ${deadId}`.execute(db);
    await sql`insert into delivery_attempts (notification_id, attempt, attempted_at, http_status, error, latency_ms) values
      (${deadId}, 1, ${ago(3 * HOUR)}::timestamptz, 503, 'HTTP 503 Service Unavailable', 31),
      (${deadId}, 2, ${ago(2 * HOUR)}::timestamptz, null, ${XSS_ERROR}, 15004)`.execute(db);
    // CARD_SRC_X's notification waits (pending) for 2 hours: over the 1-hour default.
    await sql`update outbox set created_at = ${ago(2 * HOUR)}::timestamptz where operation_id = ${op.xss}`.execute(db);
    // A site reported CARD_SRC_X shipped 3 days ago; the carrier never scanned it.
    await sql`insert into site_events (site_id, event_id, issuer_id, card_id, type, occurred_at) values ('SITE_SRC', 'ev-src-1', ${A}, 'CARD_SRC_X', 'CARD_SHIPPED', ${ago(3 * DAY)}::timestamptz)`.execute(db);
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await dispatcher?.stop();
    await browser?.close();
    await receiver?.close();
    await t?.close();
  });

  /** Each row's cells' text, one space between cells and within them. */
  const rows = (page: Page, selector: string) =>
    page.locator(selector).evaluateAll((els) => els.map((e) => [...e.querySelectorAll('td')].map((td) => (td.textContent ?? '').replace(/\s+/g, ' ').trim()).join(' ')));
  const noSideways = (page: Page, width: number) => page.evaluate((w) => document.documentElement.scrollWidth <= w, width);

  it('finds a card by tracking number and by the start of its id, with what matched, as a link', async () => {
    const { page, problems } = await signedIn(browser, base, { hash: '#/search' });
    await page.waitForSelector('#search-hint');
    expect(await page.locator('#search-hint').textContent()).toContain('Type what you have');
    await page.fill('#search-q', 'CA');
    await page.press('#search-q', 'Enter');
    await page.waitForSelector('#search-hint:has-text("at least 3 characters")');
    expect(page.url()).toContain('#/search?q=CA');

    await page.fill('#search-q', '771234567890');
    await page.press('#search-q', 'Enter');
    await page.waitForSelector('tr.search-match');
    expect(await rows(page, 'tr.search-match')).toEqual([`CARD_SRC_1 ${A} tracking number ${op.shipment}`]);
    expect(await page.locator('tr.search-match a').getAttribute('href')).toBe(`#/card/${A}/CARD_SRC_1`);

    // The search is a link: opened afresh, the URL alone runs it.
    const { page: linked } = await signedIn(browser, base, { hash: '#/search?q=CARD_SRC' });
    await linked.waitForSelector('tr.search-match');
    expect(await rows(linked, 'tr.search-match')).toEqual([`CARD_SRC_1 ${A} card id (start) —`, `CARD_SRC_X ${A} card id (start) —`]);
    expect(await linked.inputValue('#search-q')).toBe('CARD_SRC');
    await linked.click('tr.search-match a:has-text("CARD_SRC_1")');
    await linked.waitForSelector('article.operation');
    expect(linked.url()).toContain(`#/card/${A}/CARD_SRC_1`);
    expect(problems).toEqual([]);
    await page.close();
    await linked.close();
  });

  it('shows a card timeline: checkpoints in time order, the carrier link, notifications with their attempts', async () => {
    const { page, problems } = await signedIn(browser, base, { hash: `#/card/${A}/CARD_SRC_1` });
    await page.waitForSelector('article.operation');
    const ship = page.locator(`article.operation[data-operation="${op.shipment}"]`);
    expect(await ship.locator('h3').textContent()).toMatch(/^SHIPMENT\s+\S+\s+open$/);
    expect(await ship.locator('.tracking-number').textContent()).toBe('771234567890');
    expect(await ship.locator('a.tracking-link').getAttribute('href')).toBe('https://www.fedex.com/fedextrack/?trknbrs=771234567890');
    const checkpoints = await rows(page, `article.operation[data-operation="${op.shipment}"] tr.checkpoint`);
    expect(checkpoints.map((c) => c.split(' UTC ')[1])).toEqual(['INFO_RECEIVED PU Picked up Memphis, US', `IN_TRANSIT IT ${XSS_DESCRIPTION} Paris, 75001, France`, 'IN_TRANSIT AR Arrived at hub Lyon, FR']);
    const times = await ship.locator('tr.checkpoint time').evaluateAll((els) => els.map((e) => e.getAttribute('datetime') ?? ''));
    expect([...times].sort()).toEqual(times);
    const dead = ship.locator(`.notification[data-id="${deadId}"]`);
    expect(await dead.getAttribute('data-state')).toBe('dead');
    expect(await dead.locator('.last-error').textContent()).toBe(`Last error: ${XSS_ERROR}`);
    expect(await rows(page, `.notification[data-id="${deadId}"] tr.attempt`)).toEqual([
      expect.stringMatching(/^1 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC HTTP 503 \(refused\) HTTP 503 Service Unavailable 31 ms$/),
      expect.stringMatching(new RegExp(`^2 .* UTC no answer ${escapeRe(XSS_ERROR)} 15004 ms$`)),
    ]);
    // The other card's carrier link is no web address: shown as text only.
    await page.goto(`${base}/console#/card/${A}/CARD_SRC_X`);
    await page.waitForSelector(`article.operation[data-operation="${op.xss}"]`);
    // Only this card's operations: the previous card's answer is not shown while this one loads.
    expect(await page.locator('article.operation').count()).toBe(1);
    expect(await page.locator('a.tracking-link').count()).toBe(0);
    expect(await page.locator('article.operation').innerText()).toContain('Label for ⟨U+202E⟩exe.txt⟨U+200B⟩⟨U+001B⟩[31m');
    expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
    expect(problems).toEqual([]);
    await page.close();
  });

  it('lists the stuck parcel and the late notification, each linking to its card, thresholds in the URL', async () => {
    const { page, problems } = await signedIn(browser, base, { hash: '#/stuck' });
    await page.waitForSelector('tr.stuck-no-scan');
    expect(await rows(page, 'tr.stuck-no-scan')).toEqual([expect.stringMatching(new RegExp(`^CARD_SRC_1 ${A} IN_TRANSIT fedex 771234567890 `))]);
    expect(await page.locator('tr.stuck-no-scan a').getAttribute('href')).toBe(`#/card/${A}/CARD_SRC_1`);
    expect(await rows(page, 'tr.stuck-site')).toEqual([expect.stringMatching(new RegExp(`^CARD_SRC_X ${A} SITE_SRC .* UTC INFO_RECEIVED fedex 779999999999$`))]);
    expect(await page.locator('tr.stuck-site a').getAttribute('href')).toBe(`#/card/${A}/CARD_SRC_X`);
    expect(await rows(page, 'tr.stuck-pending')).toEqual([expect.stringMatching(new RegExp(`^CARD_SRC_X ${A} \\S+ .* UTC 0 —$`))]);
    expect(await page.locator('.stat:has-text("No carrier scan for 3 d") .stat-value').textContent()).toBe('1');
    // A longer threshold: the 4-day-quiet parcel drops out; the thresholds are the URL's.
    await page.fill('#stuck-scanDays', '5');
    await page.click('#stuck-form button[type=submit]');
    await page.waitForSelector('.stat:has-text("No carrier scan for 5 d")');
    expect(page.url()).toContain('#/stuck?scanDays=5&siteDays=2&pendingHours=1');
    expect(await page.locator('tr.stuck-no-scan').count()).toBe(0);
    await page.goto(`${base}/console#/stuck?scanDays=1&pendingHours=1`);
    await page.click(`tr.stuck-no-scan a:has-text("CARD_SRC_1")`);
    await page.waitForSelector('article.operation');
    // A threshold the API refuses is explained, not a blank page.
    await page.goto(`${base}/console#/stuck?scanDays=0`);
    await page.waitForSelector('.view p.error');
    expect(await page.locator('.view p.error').textContent()).toContain('scanDays');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows a card id holding markup as text, and runs nothing', async () => {
    const { page, problems } = await signedIn(browser, base, { hash: `#/search?q=${encodeURIComponent('<img src=x')}` });
    await page.waitForSelector('tr.search-match');
    expect(await page.locator('tr.search-match a').textContent()).toBe(XSS_CARD);
    expect(await page.locator('img').count()).toBe(0);
    await page.click('tr.search-match a');
    // The timeline would refuse such an id (400): the console checks it first and says so, the id kept out of the heading.
    await page.waitForSelector('.view p.error:has-text("not a valid card id")');
    expect(await page.locator('#view-title').textContent()).toBe('Not a valid card id');
    expect(await page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
    expect(problems).toEqual([]);
    await page.close();
  });

  it('fits a phone screen: no sideways scrolling of the page on any of the three views', async () => {
    for (const hash of ['#/search?q=CARD_SRC', `#/card/${A}/CARD_SRC_1`, '#/stuck']) {
      const { page, problems } = await signedIn(browser, base, { width: 390, height: 844, hash });
      await page.waitForSelector('tr.search-match, article.operation, tr.stuck-no-scan');
      expect(await noSideways(page, 390), hash).toBe(true);
      expect(problems).toEqual([]);
      await page.close();
    }
  });

  it('explains a replay refused to a read-only token', async () => {
    const reader = await createAdminToken(t.store.db, 'console-reader', 'read');
    const { page, problems } = await signedIn(browser, base, { token: reader.token, hash: `#/card/${A}/CARD_SRC_1` });
    await page.click(`.notification[data-id="${deadId}"] button.replay-button`);
    await page.waitForSelector(`.notification[data-id="${deadId}"] p.error:has-text("operate")`);
    expect(await page.locator(`.notification[data-id="${deadId}"]`).getAttribute('data-state')).toBe('dead');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('replays a dead notification from the timeline and shows it pending, then delivered, without reloading the page', async () => {
    const { page, problems } = await signedIn(browser, base, { hash: `#/card/${A}/CARD_SRC_1` });
    await page.waitForSelector(`.notification[data-id="${deadId}"][data-state="dead"]`);
    await page.evaluate(() => {
      (window as { __samePage?: boolean }).__samePage = true;
    });
    await page.click(`.notification[data-id="${deadId}"] button.replay-button`);
    await page.waitForSelector(`.notification[data-id="${deadId}"]:has-text("Replay queued")`);
    await page.waitForSelector(`.notification[data-id="${deadId}"][data-state="pending"]`);
    expect(receiver.hits.filter((h) => h.headers['webhook-id'] === deadId)).toHaveLength(0);
    // A dispatcher now delivers it to the issuer's receiver; the page follows the replayed notification.
    dispatcher = new Dispatcher({ db: t.store.db, log: createLogger('silent'), retryScheduleMs: [50], leaseMs: 10_000, allowPrivateTargets: true, idleWaitMs: 20 });
    dispatcher.start();
    await page.waitForSelector(`.notification[data-id="${deadId}"][data-state="delivered"]`, { timeout: 15_000 });
    expect(receiver.hits.filter((h) => h.headers['webhook-id'] === deadId)).toHaveLength(1);
    expect(await rows(page, `.notification[data-id="${deadId}"] tr.attempt`)).toEqual([
      expect.stringContaining('HTTP 503'),
      expect.stringContaining('no answer'),
      expect.stringMatching(/^3 .* UTC HTTP 204 \(accepted\) — \d+ ms$/),
    ]);
    expect(await page.locator(`.notification[data-id="${deadId}"] button.replay-button`).count()).toBe(0);
    expect(await page.evaluate(() => (window as { __samePage?: boolean }).__samePage)).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });
});
