import { sql } from 'kysely';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessToken, putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { launchChromium, signedIn } from './helpers/console.ts';
import { issuerKey } from './helpers/issuer.ts';

// What a new operator trips over, checked in a real Chromium against a real hub: figures in words that
// agree (ms under a second, plurals, a failing endpoint said so), charts whose every series shows and whose
// hours can be read as a table, focus that follows an action, tables a keyboard can scroll on a phone.
const A = 'ISSUER_UX1';
const B = 'ISSUER_UX2';
const MIN = 60_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

describe('web console: a new operator’s first pass', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  const op: Record<string, string> = {};

  beforeAll(async () => {
    t = await testApp('embedded');
    const key = await issuerKey();
    await putIssuer(t.app, A, key, { name: 'Failing Bank' });
    await putIssuer(t.app, B, key, { name: 'Quick Bank' });
    const track = async (issuerId: string, card: string, body: object) => {
      const token = await accessToken(t.app, issuerId, key);
      const res = await t.app.inject({ method: 'POST', url: `/banking/v1/issuers/${issuerId}/physicalCards/${card}/track`, headers: { authorization: `Bearer ${token}` }, payload: body });
      expect(res.statusCode, res.body).toBe(202);
      return res.json().operationId as string;
    };
    op.production = await track(A, 'DEMOBANK01', { trackingType: 'PRODUCTION' });
    op.shipment = await track(A, 'DEMOBANK01', { trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber: '771234567890' });
    op.quick = await track(B, 'QUICKCARD1', { trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber: '771234567891' });
    const db = t.store.db;
    // Every notification as sent: its sequence number and the statuses it carried.
    const sent = (seq: number, status: string, shipmentStatus?: string) =>
      JSON.stringify({ sequenceNumber: seq, status, details: { trackingType: 'SHIPMENT', ...(shipmentStatus ? { shipment: { status: shipmentStatus } } : {}) } });
    // A's notifications all died (the endpoint is neither throttled nor disabled); B's were delivered in 188 ms.
    await sql`update outbox set state = 'dead', attempts = 8, last_error = 'HTTP 503', payload = ${sent(1, 'PENDING', 'IN_TRANSIT')} where issuer_id = ${A}`.execute(db);
    // Three more of A's updates died: one to replay from the card, one from the list, one by the issuer replay.
    for (const seq of [2, 3, 4]) {
      await sql`insert into outbox (id, issuer_id, operation_id, sequence_number, correlation_id, payload, state, attempts, last_error)
        values (${`msg_ux_${seq}`}, ${A}, ${op.shipment}, ${seq}, ${`corr_ux_${seq}`}, ${sent(seq, 'PENDING', 'IN_TRANSIT')}, 'dead', 8, 'HTTP 503')`.execute(db);
    }
    await sql`update outbox set state = 'delivered', attempts = 1, created_at = ${ago(30 * MIN)}::timestamptz,
      delivered_at = ${ago(30 * MIN)}::timestamptz + interval '188 milliseconds' where issuer_id = ${B}`.execute(db);
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('says figures in words that agree: ms under a second, a failing endpoint, plurals', async () => {
    const { page, problems } = await signedIn(browser, base, { hash: '#/notifications' });
    const quick = page.locator(`tr[data-issuer="${B}"]`);
    await quick.waitFor();
    // 188 ms, as the percentile's log-scale buckets read it (within 2.2 %): in ms, never "0 s".
    expect(await quick.locator('td').nth(3).textContent()).toMatch(/^(18[4-9]|19[0-2]) ms$/);
    expect(await quick.locator('td').nth(8).textContent()).toBe('ok');
    const failing = page.locator(`tr[data-issuer="${A}"]`);
    expect(await failing.locator('td').nth(8).textContent()).toBe('failing: 4 dead');
    // Figures' headers sit over their figures.
    expect(await page.locator('th.num').allTextContents()).toEqual(expect.arrayContaining(['Created', 'Latency p50', 'Dead now']));

    await page.goto(`${base}/console#/issuers`);
    await page.locator(`tr[data-issuer="${A}"]`).waitFor();
    const text = (await page.locator('#content').textContent()) ?? '';
    expect(text).toContain('2 issuers');
    expect(text).toContain('1 signing key for its own requests');
    expect(text).not.toMatch(/\(s\)/);

    await page.goto(`${base}/console#/stuck?pendingHours=1`);
    await page.locator('h3#pending').waitFor();
    expect(await page.locator('h3#pending').textContent()).toBe('Notifications pending longer than 1 hour');

    await page.goto(`${base}/console#/overview`);
    await page.locator('figure.bars figcaption').first().waitFor();
    expect(await page.locator('figure.bars figcaption').first().textContent()).toMatch(/^Shipment funnel \(2 shipments opened in the window\)$/);
    expect(await page.locator('table caption:has-text("per carrier") + thead th').allTextContents()).toEqual(['Carrier', 'Delivered', 'p50', 'p90']);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('overview charts: bars for both, every series of an hour readable as a table by keyboard', async () => {
    const { page, problems } = await signedIn(browser, base, { hash: '#/overview' });
    const opened = page.locator('figure.chart[aria-label^="Operations opened"]');
    await opened.locator('canvas').first().waitFor();
    // The disclosure opens from the keyboard and lists the hour with both types' counts (none hidden by the other).
    await opened.locator('details summary').focus();
    await page.keyboard.press('Enter');
    const rows = opened.locator('details tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await opened.locator('details thead th').allTextContents()).toEqual(['Hour (UTC)', 'PRODUCTION', 'SHIPMENT']);
    const hour = `${new Date().toISOString().slice(0, 13).replace('T', ' ')}:00:00 UTC`;
    expect(await rows.first().locator('td').allTextContents()).toEqual([hour, '1', '2']);
    const finished = page.locator('figure.chart[aria-label^="Operations finished"]');
    expect(await finished.locator('details summary').textContent()).toBe('Figures as a table');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('moves focus to what an action answered: search results, a replayed row, the confirmation, the result', async () => {
    const { page, problems } = await signedIn(browser, base, { hash: '#/search' });
    const active = () => page.evaluate(() => `${document.activeElement?.tagName}#${document.activeElement?.id}.${document.activeElement?.className}`);
    await page.locator('#search-q').fill('DEMOBANK');
    await page.keyboard.press('Enter');
    await page.locator('#search-count').waitFor();
    await page.waitForFunction(() => document.activeElement?.id === 'search-count');
    expect(await page.locator('#search-count').textContent()).toContain('1 match');
    // The same text again searches again and focus lands on the answer again.
    await page.locator('#search-q').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.id === 'search-count');

    // A card's dead update replayed from the card page: focus goes to the replay's answer, and it says what it carried.
    await page.goto(`${base}/console#/card/${A}/DEMOBANK01`);
    const block = page.locator('.notification[data-id="msg_ux_2"]');
    await block.waitFor();
    expect(await block.locator('.carried').textContent()).toBe('carried PENDING, shipment IN_TRANSIT');
    await block.locator('button.replay-button').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.classList.contains('replay-note') === true);
    expect(await active()).toContain('replay-note');

    // A dead letter replayed from the list: focus goes to the row's status note.
    await page.goto(`${base}/console#/notifications?issuer=${A}&state=dead`);
    const row = page.locator('tr[data-id="msg_ux_3"]');
    await row.waitFor();
    expect(await row.locator('.carried').textContent()).toBe('carried #3 PENDING, shipment IN_TRANSIT');
    await row.locator('button.replay-one').focus();
    await page.keyboard.press('Enter');
    await row.locator('.badge:has-text("pending")').waitFor();
    expect(await page.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('data-id'))).toBe('msg_ux_3');
    expect(await active()).toContain('row-note');

    // The issuer replay: Preview moves focus to the confirmation, Confirm to the result.
    await page.locator('form.replay-form button[type=submit]').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.id === 'replay-confirm-title');
    await page.locator('section.confirm button.danger').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.id === 'replay-result');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('at phone width: tables are named regions a keyboard scrolls, the nav wraps, short ids stay whole', async () => {
    const { page, problems } = await signedIn(browser, base, { width: 390, height: 800, hash: `#/notifications?issuer=${A}` });
    const wrap = page.locator('.table-wrap', { has: page.locator('caption:has-text("Per issuer")') });
    await wrap.locator('tr[data-issuer]').first().waitFor();
    expect(await wrap.getAttribute('tabindex')).toBe('0');
    expect(await wrap.evaluate((el) => [el.tagName, el.getAttribute('aria-label')?.startsWith('Per issuer')])).toEqual(['SECTION', true]);
    // The table is wider than the phone: the arrow keys scroll it once it has focus.
    expect(await wrap.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true);
    await wrap.focus();
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction(() => (document.activeElement as HTMLElement | null)?.scrollLeft !== 0);
    // Every view's tab is in sight: the nav bar wraps instead of scrolling.
    expect(await page.locator('nav#tabs').evaluate((el) => [el.scrollWidth <= el.clientWidth, el.getBoundingClientRect().height > 50])).toEqual([true, true]);
    // An issuer id in a table is one piece, never split across lines.
    const id = page.locator(`tr[data-issuer="${A}"] td .mono`);
    expect(await id.evaluate((el) => el.getClientRects().length)).toBe(1);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('/docs draws in Chromium with no CSP violation or script error, and points to the console and the integration guide', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    const res = await page.goto(`${base}/docs/`);
    const csp = res?.headers()['content-security-policy'] ?? '';
    // Inline styles on /docs only: scripts stay this origin's.
    expect(csp).toMatch(/style-src 'self' 'unsafe-inline';/);
    expect(csp).toMatch(/script-src 'self' ?;/);
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    await page.locator('.swagger-ui .info').waitFor();
    const info = (await page.locator('.swagger-ui .info').textContent()) ?? '';
    expect(info).toContain('/console');
    expect(info).toContain('docs/integration.md');
    await page.locator('.opblock').first().click();
    await page.waitForTimeout(300);
    expect(problems).toEqual([]);
    await page.close();
  });
});
