import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, readyIssuer, type TestApp, testApp } from './helpers/app.ts';

const CHROMIUM = process.env.TRACKHUB_CHROMIUM ?? '/usr/bin/chromium';

// The operator console in a real headless Chromium, against a real listening hub.
describe('web console', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set TRACKHUB_CHROMIUM)`);
    t = await testApp('embedded');
    const issuer = await readyIssuer(t.app, 'ISSUER_CON');
    for (const card of ['CARD_ALPHA', 'CARD_BETA']) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/banking/v1/issuers/ISSUER_CON/physicalCards/${card}/track`,
        headers: { authorization: `Bearer ${issuer.token}` },
        payload: { trackingType: 'SHIPMENT', carrier: 'fedex', trackingNumber: '123456789012' },
      });
      expect(res.statusCode).toBe(202);
    }
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('is served with a strict content security policy', async () => {
    const res = await fetch(`${base}/console`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toContain('data-sandbox="false"');
  });

  it('refuses a wrong token, then lists, filters and shows operations with the right one', async () => {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${base}/console`);
    await expect(page.locator('#sandbox-banner').isHidden()).resolves.toBe(true);

    await page.fill('#token', 'not-the-token');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#login-error:has-text("refused")');
    expect(await page.locator('#tabs').isHidden()).toBe(true);

    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#operations-rows tr >> nth=1');
    const cards = await page.locator('#operations-rows tr td:nth-child(3)').allTextContents();
    expect(cards.sort()).toEqual(['CARD_ALPHA', 'CARD_BETA']);

    await page.fill('#operations-form input[name=cardId]', 'CARD_BETA');
    await page.click('#operations-form button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#operations-rows tr').length === 1);
    const row = page.locator('#operations-rows tr').first();
    expect(await row.locator('td').nth(2).textContent()).toBe('CARD_BETA');
    expect(await row.locator('td').nth(6).textContent()).toBe('fedex 123456789012');
    await row.click();
    const detail = JSON.parse((await page.locator('#operation-detail').textContent()) ?? '{}');
    expect(detail.operation).toMatchObject({ cardId: 'CARD_BETA', status: 'PENDING', details: { trackingType: 'SHIPMENT' } });

    await page.click('[data-tab=issuers]');
    await page.waitForSelector('#issuers-rows tr');
    expect(await page.locator('#issuers-rows tr td').first().textContent()).toBe('ISSUER_CON');
    expect(await page.content()).not.toContain('whsec_');
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it('lists dead notifications and replays one, keeping its id', async () => {
    await t.store.db.updateTable('outbox').set({ state: 'dead', last_error: 'HTTP 500' }).where('issuer_id', '=', 'ISSUER_CON').execute();
    const page = await browser.newPage();
    await page.goto(`${base}/console`);
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#operations-rows tr');
    await page.click('[data-tab=notifications]');
    await page.waitForSelector('#notifications-rows tr >> nth=1');
    const first = page.locator('#notifications-rows tr').first();
    const id = (await first.locator('td').nth(2).textContent()) as string;
    expect(await first.locator('td').nth(3).textContent()).toBe('dead');
    expect(await first.locator('td').nth(5).textContent()).toBe('HTTP 500');
    await first.locator('button.replay').click();
    await page.waitForSelector(`#notifications-message:has-text("${id}")`);
    // The list (dead) now holds only the other one; the replayed row is pending again under the same id.
    await page.waitForFunction(() => document.querySelectorAll('#notifications-rows tr').length === 1);
    const row = await t.store.db.selectFrom('outbox').select(['state']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.state).toBe('pending');
    await page.close();
  });
});
