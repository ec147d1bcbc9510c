import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, readyIssuer, type TestApp, testApp } from './helpers/app.ts';
import { launchChromium, signedIn } from './helpers/console.ts';

// The console's shell in a real headless Chromium against a real listening hub: how it is served, sign-in,
// navigation by keyboard, the overview's charts. Each view has its own console.*.browser.test.ts.
describe('web console: shell', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    t = await testApp('embedded', { TRACKHUB_SANDBOX: 'true' });
    const issuer = await readyIssuer(t.app, 'ISSUER_CON');
    for (const [card, type] of [
      ['CARD_ALPHA', 'SHIPMENT'],
      ['CARD_BETA', 'SHIPMENT'],
      ['CARD_GAMMA', 'PRODUCTION'],
    ]) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/banking/v1/issuers/ISSUER_CON/physicalCards/${card}/track`,
        headers: { authorization: `Bearer ${issuer.token}` },
        payload: type === 'SHIPMENT' ? { trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber: '123456789012' } : { trackingType: 'PRODUCTION' },
      });
      expect(res.statusCode, res.body).toBe(202);
    }
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('is served from its build with a strict content security policy and no inline code', async () => {
    const res = await fetch(`${base}/console`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await res.text();
    expect(html).toContain('data-sandbox="true"');
    expect(html).not.toMatch(/<script>|<style>|style="/);
    // Its icon is inline (the CSP's img-src allows data:): a browser asks for no /favicon.ico, which 404s on every load.
    const icon = /<link rel="icon" href="([^"]*)">/.exec(html)?.[1];
    expect(icon).toMatch(/^data:/);
    expect(csp).toMatch(/img-src [^;]*data:/);
    expect((await fetch(`${base}/favicon.ico`)).status).toBe(404);
    for (const file of ['app.js', 'app.css']) {
      const asset = await fetch(`${base}/console/${file}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-security-policy')).toBe(csp);
      expect((await asset.text()).length).toBeGreaterThan(1000);
    }
  });

  it('refuses a wrong token, then opens with the right one and keeps it in the tab only', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/console`);
    expect(await page.locator('#sandbox-banner').textContent()).toContain('SANDBOX');
    await page.fill('#token', 'not-the-token');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#login-error:has-text("refused")');
    expect(await page.locator('nav#tabs').count()).toBe(0);

    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('nav#tabs a[aria-current=page]:has-text("Overview")');
    expect(await page.evaluate(() => [localStorage.length, document.cookie, sessionStorage.length])).toEqual([0, '', 1]);
    expect(page.url()).not.toContain(ADMIN_TOKEN);

    // A token revoked or changed while the console is open: the next call's 401 signs out and says so.
    await page.evaluate(() => sessionStorage.setItem('trackhub.adminToken', 'revoked'));
    await page.selectOption('label.window select', '7d');
    await page.waitForSelector('#login-error:has-text("Signed out")');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('draws the overview: the opened-per-hour chart by type, the funnel and the rates', async () => {
    const { page, problems } = await signedIn(browser, base);
    await page.waitForSelector('figure.chart canvas');
    const series = await page.locator('figure.chart').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.series));
    expect(series[0]?.split('|').sort()).toEqual(['PRODUCTION', 'SHIPMENT']);
    const funnel = await page.locator('.bar-row').evaluateAll((rows) => rows.map((r) => `${r.querySelector('dt')?.textContent}=${r.querySelector('.bar-value')?.textContent}`));
    expect(funnel).toEqual(['PENDING=2', 'INFO_RECEIVED=0', 'IN_TRANSIT=0', 'OUT_FOR_DELIVERY=0', 'DELIVERED=0', 'exceptions=0', 'failures=0']);
    expect(await page.locator('.stat:has-text("Shipments opened") .stat-value').textContent()).toBe('2');
    // Every time shown is UTC, with the reader's local time (here Paris) on hover.
    const time = page.locator('time').first();
    expect(await time.textContent()).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:00:00 UTC$/);
    expect(await time.getAttribute('title')).toMatch(/^local time: /);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('asks again when the hub is busy (503 with a short Retry-After) instead of showing nothing', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    let calls = 0;
    await page.route('**/admin/v1/insights/summary*', async (route) => {
      calls++;
      if (calls === 1) return route.fulfill({ status: 503, headers: { 'retry-after': '1', 'content-type': 'application/json' }, body: '{"errorCode":"SERVICE_UNAVAILABLE","error":"busy"}' });
      return route.continue();
    });
    await page.goto(`${base}/console`);
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('.stat:has-text("Shipments opened")');
    expect(calls).toBe(2);
    expect(await page.locator('.error').count()).toBe(0);
    await page.close();
  });

  it('is navigable by keyboard alone and fits a phone screen', async () => {
    const { page, problems } = await signedIn(browser, base, { width: 390, height: 844 });
    await page.waitForSelector('figure.chart canvas');
    // No sideways scrolling of the page itself: wide tables scroll inside their own box.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.focus('nav#tabs a:has-text("Overview")');
    for (let i = 0; i < 6; i++) await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Issuers');
    await page.keyboard.press('Enter');
    await page.waitForSelector('nav#tabs a[aria-current=page]:has-text("Issuers")');
    // The new view's heading takes the focus, so the next Tab continues inside it.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('view-title');
    expect(problems).toEqual([]);
    await page.close();
  });
  it('a crafted card or site link shows "not a valid … id", never its text in the heading', async () => {
    const { page, problems } = await signedIn(browser, base);
    const cases: [string, string][] = [
      ['#/card/PAY%20NOW%20%E2%80%AE/CARD_1', 'Not a valid issuer id'],
      ['#/card/ISSUER_001/Call%20%2B1-555%20to%20unlock%20your%20card', 'Not a valid card id'],
      ['#/sites/Your%20account%20is%20suspended', 'Not a valid site id'],
    ];
    for (const [hash, title] of cases) {
      await page.evaluate((h) => {
        location.hash = h;
      }, hash);
      await page.waitForFunction((t) => document.querySelector('#view-title')?.textContent === t, title);
      const text = (await page.locator('#content').textContent()) as string;
      for (const crafted of ['PAY NOW', 'Call', 'suspended']) expect(text, hash).not.toContain(crafted);
    }
    // A well-formed id still opens its page.
    await page.evaluate(() => {
      location.hash = '#/sites/BUREAU-LON';
    });
    await page.waitForFunction(() => document.querySelector('#view-title')?.textContent === 'Site BUREAU-LON');
    expect(problems).toEqual([]);
    await page.close();
  });
});
