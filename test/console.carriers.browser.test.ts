import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InboxWatcher } from '../src/sites/inbox.ts';
import { ADMIN_TOKEN, readyIssuer, type TestApp, testApp } from './helpers/app.ts';
import { launchChromium, signedIn } from './helpers/console.ts';
import { inboxOf } from './helpers/inbox.ts';
import { waitFor } from './helpers/processes.ts';

// The Carriers and Sites views in a real Chromium against a real listening hub with seeded figures: what
// each view shows is compared with what the Admin API answers in the same test.

const HOSTILE = '<img src=x onerror=alert(1)>';
const ISSUER = 'ISSUER_CAR';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

interface CarrierView {
  provider: string;
  budget: { count: number; text: string };
  window: { used: number; wanted: number } | null;
  breaker: { state: string; until: string | null };
  totals: { fallbacks: number };
  unknownCodes: { total: number; codes: { code: string; firstExample: string | null; lastExample: string | null }[] };
}
interface SiteFigures {
  productionSite: string;
  requested: number;
  shipped: { count: number };
  productionTimeouts: number;
  inboxFiles: { files: number; accepted: number; duplicates: number; rejectedLines: number };
}
interface InboxFile {
  name: string;
  accepted: number;
  rejectedLines: number;
  rejected: { line: number; errorCode: string; error: string }[];
}

describe('web console: carriers and sites', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let dataDir: string;
  let inbox: InboxWatcher;
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${base}${path}`, { headers: admin });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };
  const text = async (page: Page, selector: string) => ((await page.locator(selector).first().textContent()) ?? '').replace(/\s+/g, ' ');

  beforeAll(async () => {
    t = await testApp('embedded', { TRACKHUB_CARRIER_FEDEX_CLIENT_ID: 'fedex-id', TRACKHUB_CARRIER_FEDEX_CLIENT_SECRET: 'fedex-secret-000', TRACKHUB_CARRIER_FEDEX_RATE_LIMIT: '20/10s' });
    const db = t.store.db;
    const iso = (ms: number) => new Date(Date.now() + ms).toISOString();
    // FedEx: its budget used up in the window ending now and its breaker open; UPS: some use, breaker closed.
    await db
      .insertInto('carrier_rate_limits')
      .values([
        { provider: 'fedex', window_start: iso(-4000), used: 20, wanted: 700, breaker_state: 'open', breaker_until: iso(1_800_000), breaker_changed_at: iso(-60_000), calls_total: 321, fallbacks_total: 7 },
        { provider: 'ups', window_start: iso(-2000), used: 3, wanted: 40, last_window_start: iso(-20_000), last_window_end: iso(-10_000), last_used: 5, last_wanted: 60 },
      ])
      .execute();
    await sql`insert into carrier_unknown_codes (provider, code, seen, first_seen_at, first_example, last_seen_at, last_example)
      values ('usps', 'ZZ9', 4, now() - interval '1 hour', ${HOSTILE}, now(), 'plain last example')`.execute(db);

    // Sites: one fed through its inbox folder (a shipped card and a rejected line) with a timed-out request,
    // one registered three days ago that never reported while a request waits for it.
    const issuer = await readyIssuer(t.app, ISSUER);
    for (const site of ['SITE-INBOX', 'SITE-QUIET']) {
      const res = await t.app.inject({ method: 'PUT', url: `/admin/v1/production-sites/${site}`, headers: admin, payload: { name: `Site ${site}` } });
      expect(res.statusCode, res.body).toBeLessThan(300);
    }
    await sql`update production_sites set created_at = now() - interval '3 days' where site_id = 'SITE-QUIET'`.execute(db);
    for (const [card, site] of [
      ['CARD_P1', 'SITE-INBOX'],
      ['CARD_Q1', 'SITE-QUIET'],
    ]) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/banking/v1/issuers/${ISSUER}/physicalCards/${card}/track`,
        headers: { authorization: `Bearer ${issuer.token}` },
        payload: { trackingType: 'PRODUCTION', productionSite: site },
      });
      expect(res.statusCode, res.body).toBe(202);
    }
    const timedOut = { request: { trackingType: 'PRODUCTION', productionSite: 'SITE-INBOX' }, status: 'FAILED', errorCode: 'PRODUCTION_TIMEOUT', startTime: iso(-7_200_000), endTime: iso(-3_600_000) };
    await sql`insert into operations (operation_id, issuer_id, card_id, tracking_type, request_hash, status, is_open, state, created_at, updated_at)
      values ('op_timed_out', ${ISSUER}, 'CARD_T1', 'PRODUCTION', 'h', 'FAILED', false, ${JSON.stringify(timedOut)}::jsonb, ${iso(-7_200_000)}, ${iso(-3_600_000)})`.execute(db);

    dataDir = mkdtempSync(join(tmpdir(), 'trackhub-console-sites-'));
    inbox = new InboxWatcher(t.context, { dataDir, scanIntervalMs: 50, settleMs: 200, leaseMs: 30_000, chunkLines: 500 });
    inbox.start();
    const folder = inboxOf(dataDir, 'SITE-INBOX');
    await waitFor('inbox folder', () => existsSync(join(folder, 'processing')) || undefined);
    writeFileSync(
      join(dataDir, 'feed.csv'),
      `eventId,issuerId,cardId,type,occurredAt\nev-1,${ISSUER},CARD_P1,CARD_SHIPPED,${iso(-1000)}\nev-2,${ISSUER},CARD_P1,CARD_LOST,${iso(-1000)}\n`,
    );
    renameSync(join(dataDir, 'feed.csv'), join(folder, 'feed.csv'));
    await waitFor('feed.csv done', () => existsSync(join(folder, 'done', 'feed.csv')) || undefined, 20_000);

    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await inbox?.stop();
    await browser?.close();
    await t?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('carriers: budget use, breaker, fallbacks and unknown codes as the API gives them, the exhausted carrier flagged first, hostile text shown as text', async () => {
    const { page, problems } = await signedIn(browser, base, { hash: '#/carriers' });
    let dialogs = 0;
    page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await page.waitForSelector('article.carrier[data-provider="fedex"]');
    const { carriers } = await api<{ carriers: CarrierView[] }>('/admin/v1/carriers');
    expect(await page.locator('article.carrier').count()).toBe(carriers.length);
    for (const c of carriers) {
      const card = await text(page, `article.carrier[data-provider="${c.provider}"]`);
      expect(card).toContain(c.budget.text);
      if (c.window) expect(card).toContain(`${c.window.used} of ${c.budget.count} calls`);
      else expect(card).toContain('Never polled');
      expect(card).toContain(`${c.totals.fallbacks} polls handed on`);
      expect(card).toContain(`Unknown status codes: ${c.unknownCodes.total} recorded`);
    }
    const fedex = carriers.find((c) => c.provider === 'fedex') as CarrierView;
    expect(fedex.breaker.state).toBe('open');
    expect(await text(page, 'article.carrier[data-provider="fedex"] .carrier-head')).toContain('breaker open until');
    const attention = await text(page, '.needs-attention');
    expect(attention).toContain('fedex: breaker open until');
    expect(attention).toContain('fedex: budget exhausted');
    for (const c of carriers) {
      expect(attention.includes(`${c.provider}: demand over what the budget supplies`), c.provider).toBe((c as CarrierView & { demand: { overloaded: boolean } }).demand.overloaded);
    }
    // A provider never polled has nothing to flag.
    expect(attention).not.toContain('laposte:');
    // The example a carrier sent is text in a cell, never markup.
    const usps = carriers.find((c) => c.provider === 'usps') as CarrierView;
    expect(usps.unknownCodes.codes[0]?.firstExample).toBe(HOSTILE);
    expect(await page.locator('article.carrier[data-provider="usps"] td.example code').first().textContent()).toBe(HOSTILE);
    expect(await page.locator('#content img').count()).toBe(0);
    expect(dialogs).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('carriers at phone width: no sideways scroll of the page', async () => {
    const { page, problems } = await signedIn(browser, base, { width: 390, height: 844, hash: '#/carriers' });
    await page.waitForSelector('article.carrier[data-provider="usps"] td.example');
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll('#content *')]
        .filter((e) => e.getBoundingClientRect().right > 391 && !e.closest('.table-wrap'))
        .map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)
        .slice(0, 8),
    );
    expect(wide).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('sites: the figures the API gives per site, the silent site with a request waiting flagged', async () => {
    const { page, problems } = await signedIn(browser, base, { hash: '#/sites' });
    await page.waitForSelector('tr[data-site="SITE-INBOX"]');
    await page.waitForSelector('.needs-attention a');
    // The view's own window (the 24 hours up to the end of this hour), asked of the API the same way.
    const end = new Date();
    end.setUTCMinutes(0, 0, 0);
    end.setUTCHours(end.getUTCHours() + 1);
    const from = new Date(end.getTime() - 24 * 3_600_000).toISOString();
    const { sites } = await api<{ sites: SiteFigures[] }>(`/admin/v1/insights/sites?from=${from}&to=${end.toISOString()}`);
    const silence = await api<{ sites: { productionSite: string; requestsWaiting: number; silent: boolean }[] }>('/admin/v1/insights/site-silence');
    const fed = sites.find((s) => s.productionSite === 'SITE-INBOX') as SiteFigures;
    expect(fed).toMatchObject({ productionTimeouts: 1, inboxFiles: { files: 1, accepted: 1, rejectedLines: 1 } });
    for (const s of sites) {
      const cells = await page.locator(`tr[data-site="${s.productionSite}"] td`).allTextContents();
      const waiting = silence.sites.find((x) => x.productionSite === s.productionSite);
      expect(cells[1]).toBe(String(s.requested));
      expect(cells[2]).toBe(String(s.shipped.count));
      expect(cells[5]).toContain(String(s.productionTimeouts));
      expect(cells[6]).toContain(String(s.inboxFiles.files));
      expect(cells[7]).toBe(String(s.inboxFiles.accepted));
      expect(cells[8]).toBe(String(s.inboxFiles.duplicates));
      expect(cells[9]).toBe(String(s.inboxFiles.rejectedLines));
      expect(cells[10]).toBe(waiting ? String(waiting.requestsWaiting) : '—');
    }
    expect(silence.sites.filter((s) => s.silent).map((s) => s.productionSite)).toEqual(['SITE-QUIET']);
    const attention = await text(page, '.needs-attention');
    expect(attention).toContain('SITE-QUIET: no report for over 2.0 d while 1 request waits');
    expect(attention).not.toContain('SITE-INBOX');
    expect(await page.locator('tr[data-site="SITE-QUIET"] .badge.bad').textContent()).toContain('silent');
    expect(problems).toEqual([]);

    // A site's page: reached by its link, its inbox file with the rejected line's reason as the API gives it.
    await page.click('tr[data-site="SITE-INBOX"] a');
    await page.waitForSelector('tr[data-file="feed.csv"]');
    expect(page.url()).toContain('#/sites/SITE-INBOX');
    const { files } = await api<{ files: InboxFile[] }>('/admin/v1/production-sites/SITE-INBOX/inbox-files');
    const feed = files.find((f) => f.name === 'feed.csv') as InboxFile;
    expect(feed.rejected).toHaveLength(1);
    const reason = feed.rejected[0] as InboxFile['rejected'][number];
    const row = await text(page, 'tr[data-file="feed.csv"]');
    expect(row).toContain(`line ${reason.line}: ${reason.errorCode} ${reason.error}`);
    const cells = await page.locator('tr[data-file="feed.csv"] td').allTextContents();
    expect(cells[5]).toBe(String(feed.accepted));
    expect(problems).toEqual([]);
    await page.close();
  });

  it('sites and a site page at phone width: no sideways scroll of the page', async () => {
    for (const hash of ['#/sites', '#/sites/SITE-INBOX']) {
      const { page, problems } = await signedIn(browser, base, { width: 390, height: 844, hash });
      await page.waitForSelector(hash === '#/sites' ? 'tr[data-site="SITE-INBOX"]' : 'tr[data-file="feed.csv"]');
      expect(await page.evaluate(() => document.documentElement.scrollWidth), hash).toBeLessThanOrEqual(390);
      expect(problems).toEqual([]);
      await page.close();
    }
  });

  it('a site that does not exist: the API refusal is shown', async () => {
    const { page, problems } = await signedIn(browser, base, { hash: '#/sites/NO-SUCH-SITE' });
    await page.waitForSelector('.error[role=alert]');
    expect(await text(page, '.error[role=alert]')).toContain('no such production site');
    expect(problems).toEqual([]);
    await page.close();
  });
});
