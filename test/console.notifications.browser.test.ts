import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/delivery/dispatcher.ts';
import { createLogger } from '../src/logger.ts';
import { insertOutbox } from '../src/store/operations.ts';
import { ADMIN_TOKEN, accessToken, putIssuer, type TestApp, testApp } from './helpers/app.ts';
import { launchChromium, signedIn } from './helpers/console.ts';
import { faultReceiver } from './helpers/faults.ts';
import { issuerKey } from './helpers/issuer.ts';

// The Notifications, Issuers and Audit log views in a real Chromium against a real listening hub: dead
// notifications replayed from the list and delivered by a real dispatcher to a local receiver, an issuer
// replay confirmed against the store's count, a read-only token refused with words, hostile text shown as
// text, and a phone's width.

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
// Each runs script if it is ever parsed as HTML; the CSP would also report it as a problem.
const HOSTILE_NAME = `Bank <img src=x onerror="window.__xss=1"> & "co"`;
const HOSTILE_ERROR = `<img src=x onerror="window.__xss=2">HTTP 500`;
const HOSTILE_BODY = `<script>window.__xss=3</script>down`;
// Invisible or reordering characters in an issuer's answer: a bidi override, a zero-width space, an ESC.
const HIDDEN_CHARS = '\u202Etxt.exe\u200B\u001b[31m';

describe('web console: notifications, issuers, audit log', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let receiver: Awaited<ReturnType<typeof faultReceiver>>;
  let dispatcher: Dispatcher;
  const db = () => t.store.db;
  const deadOf = async (issuerId: string) =>
    (await db().selectFrom('outbox').select(['id', 'state']).where('issuer_id', '=', issuerId).where('state', 'in', ['dead', 'pending', 'delivered']).orderBy('id').execute());

  beforeAll(async () => {
    receiver = await faultReceiver(() => ({ status: 204 }));
    t = await testApp('postgres', { TRACKHUB_SANDBOX: 'true', TRACKHUB_ALLOW_PRIVATE_TARGETS: 'true' });
    const key = await issuerKey();
    await putIssuer(t.app, 'ISSUER_NT1', key, { name: HOSTILE_NAME, notificationBaseUrl: receiver.url });
    await putIssuer(t.app, 'ISSUER_NT2', key, { name: 'Second Bank', notificationBaseUrl: receiver.url });
    for (const [issuerId, cards] of [
      ['ISSUER_NT1', ['CARD_NT1_A', 'CARD_NT1_B']],
      ['ISSUER_NT2', ['CARD_NT2_A', 'CARD_NT2_B', 'CARD_NT2_C']],
    ] as const) {
      const token = await accessToken(t.app, issuerId, key);
      for (const card of cards) {
        const res = await t.app.inject({ method: 'POST', url: `/banking/v1/issuers/${issuerId}/physicalCards/${card}/track`, headers: { authorization: `Bearer ${token}` }, payload: { trackingType: 'PRODUCTION' } });
        expect(res.statusCode, res.body).toBe(202);
      }
    }
    // A notification for each tracked card, dead as after its last failed retry; the receiver answers 204 from now on.
    const ops = await db().selectFrom('operations').select(['operation_id', 'issuer_id', 'card_id']).orderBy('card_id').execute();
    expect(ops.map((o) => o.card_id)).toEqual(['CARD_NT1_A', 'CARD_NT1_B', 'CARD_NT2_A', 'CARD_NT2_B', 'CARD_NT2_C']);
    const rows = ops.map((o, i) => ({ id: `msg_nt_${i + 1}`, issuer_id: o.issuer_id, operation_id: o.operation_id, sequence_number: 1, correlation_id: `corr_nt_${i + 1}`, payload: JSON.stringify({ operationId: o.operation_id, sequenceNumber: 1 }) }));
    await insertOutbox(db(), rows);
    await db().updateTable('outbox').set({ state: 'dead', attempts: 8, last_error: HOSTILE_ERROR }).where('id', 'in', rows.map((r) => r.id)).execute();
    await db().insertInto('delivery_attempts').values(rows.map((r) => ({ notification_id: r.id, attempt: 8, http_status: null, error: HOSTILE_ERROR, latency_ms: 5, response_body: `${HOSTILE_BODY}${HIDDEN_CHARS}` }))).execute();
    // One of the second issuer's is old: an issuer replay since 2021 leaves it dead.
    const nt2 = rows.filter((r) => r.issuer_id === 'ISSUER_NT2');
    await db().updateTable('outbox').set({ created_at: new Date('2020-06-01T00:00:00Z') }).where('id', '=', nt2[0].id).execute();

    dispatcher = new Dispatcher({ db: db(), log: createLogger('silent'), retryScheduleMs: [50, 50], leaseMs: 10_000, allowPrivateTargets: true, idleWaitMs: 20 });
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await dispatcher?.stop();
    await t?.close();
    await receiver?.close();
  });

  async function noScript(page: Page) {
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('img[src="x"], #content script').count()).toBe(0);
  }

  it('shows per issuer health and the dead letters as text, replays one and shows it delivered without reloading', async () => {
    const { page, problems } = await signedIn(browser, base, { hash: '#/notifications' });
    const health = page.locator('tr[data-issuer="ISSUER_NT1"]');
    await health.waitFor();
    expect(await health.locator('td').first().textContent()).toBe(`${HOSTILE_NAME}ISSUER_NT1`);
    expect(await health.locator('td').nth(7).textContent()).toBe('2');
    // Not throttled or disabled, yet every recent delivery died: failing, in words, not a green ok.
    expect(await health.locator('td').nth(8).textContent()).toBe('failing: 2 dead');

    // Filtered on the first issuer by its link: the filter is in the URL.
    await health.locator('a').first().click();
    await page.waitForFunction(() => location.hash.includes('issuer=ISSUER_NT1'));
    const rows = page.locator('tr[data-id]');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-id]').length === 2);
    const first = rows.first();
    const id = (await first.getAttribute('data-id')) as string;
    // Markup shown as text; the hidden characters made visible rather than reversing or hiding what follows.
    expect(await first.locator('td.reason').textContent()).toBe(`${HOSTILE_ERROR}: ${HOSTILE_BODY}⟨U+202E⟩txt.exe⟨U+200B⟩⟨U+001B⟩[31m`);
    expect(await first.locator('a[href^="#/card/ISSUER_NT1/CARD_NT1_"]').count()).toBe(1);
    await noScript(page);

    await page.evaluate(() => Object.assign(window, { __samePage: true }));
    await first.locator('button.replay-one').click();
    await first.locator('.badge:has-text("pending")').waitFor();
    expect(await first.locator('.row-note').textContent()).toBe('Replayed: being sent again.');
    expect((await db().selectFrom('outbox').select('state').where('id', '=', id).executeTakeFirstOrThrow()).state).toBe('pending');

    // A real dispatch to the local receiver; the row follows its notification and shows it delivered.
    expect(await dispatcher.runOnce()).toBe(1);
    expect(receiver.hits.map((h) => h.headers['webhook-id'])).toEqual([id]);
    await first.locator('.badge:has-text("delivered")').waitFor({ timeout: 15_000 });
    expect(await first.locator('.row-note').textContent()).toBe('Delivered after the replay.');
    expect((await db().selectFrom('outbox').select('state').where('id', '=', id).executeTakeFirstOrThrow()).state).toBe('delivered');
    expect(await page.evaluate(() => (window as unknown as { __samePage?: boolean }).__samePage)).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('a read-only token sees the views, and a replay is refused with what scope it needs', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/admin/v1/admin-tokens', headers: admin, payload: { name: 'viewer', scope: 'read' } });
    expect(created.statusCode, created.body).toBe(201);
    const { page, problems } = await signedIn(browser, base, { token: created.json().token, hash: '#/notifications?issuer=ISSUER_NT2' });
    const row = page.locator('tr[data-id]').first();
    await row.waitFor();
    await row.locator('button.replay-one').click();
    const refusal = row.locator('p.error[role=alert]');
    await refusal.waitFor();
    expect(await refusal.textContent()).toMatch(/^Not allowed: Replaying a notification needs an admin token with the operate scope, and this one has less \(the hub said: this needs a token with the operate scope; viewer has read\)/);

    // The preview is a read: it answers; the replay itself is refused.
    await page.fill('input[name=since]', '2021-01-01T00:00Z');
    await page.click('form.replay-form button[type=submit]');
    await page.locator('.confirm button.danger').click();
    expect(await page.locator('.confirm p.error').textContent()).toContain("Not allowed: Replaying an issuer's notifications needs an admin token with the operate scope");
    expect((await deadOf('ISSUER_NT2')).map((r) => r.state)).toEqual(['dead', 'dead', 'dead']);

    for (const [tab, selector] of [
      ['Issuers', 'tr[data-issuer="ISSUER_NT2"]'],
      ['Audit log', 'tr[data-audit-id]'],
    ]) {
      await page.click(`nav#tabs a:has-text("${tab}")`);
      await page.locator(selector).first().waitFor();
      expect(await page.locator('#content p.error').count()).toBe(0);
    }
    expect(problems).toEqual([]);
    await page.close();
  });

  it('replays an issuer since a UTC time after a confirmation stating the count the store then re-queues', async () => {
    const { page, problems } = await signedIn(browser, base, { hash: '#/notifications?issuer=ISSUER_NT2' });
    await page.locator('form.replay-form').waitFor();
    expect(await page.locator('form.replay-form select[name=issuerId]').inputValue()).toBe('ISSUER_NT2');
    // The list's filter shows the URL's issuer too.
    expect(await page.locator('form.filters select[name=issuer]').first().inputValue()).toBe('ISSUER_NT2');
    // A time with another offset is refused, not converted; the one read is said back in UTC.
    await page.fill('input[name=since]', '2021-01-01T01:00+01:00');
    await page.click('form.replay-form button[type=submit]');
    expect(await page.locator('form.replay-form p.error').textContent()).toMatch(/^Since: write a UTC time/);
    await page.fill('input[name=since]', '2021-01-01 00:00');
    expect(await page.locator('#since-reading time').textContent()).toBe('2021-01-01 00:00:00 UTC');
    await page.click('form.replay-form button[type=submit]');
    const summary = page.locator('#replay-summary');
    await summary.waitFor();
    const text = (await summary.textContent()) as string;
    expect(text).toMatch(/^2 notifications will be sent again to Second Bank ISSUER_NT2 \(oldest \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, newest .* UTC\): every dead one created since 2021-01-01 00:00:00 UTC\.$/);

    // Cancel leaves the store as it was; confirming re-queues exactly what the preview counted.
    await page.click('.confirm button:has-text("Cancel")');
    expect((await deadOf('ISSUER_NT2')).map((r) => r.state)).toEqual(['dead', 'dead', 'dead']);
    await page.click('form.replay-form button[type=submit]');
    await summary.waitFor();
    // Between the preview and the confirmation another notification of the range goes dead: the hub
    // refuses the replay (409), nothing is sent, and the view says so and offers a new preview.
    const op = await db().selectFrom('operations').select('operation_id').where('card_id', '=', 'CARD_NT2_B').executeTakeFirstOrThrow();
    await insertOutbox(db(), [{ id: 'msg_nt_6', issuer_id: 'ISSUER_NT2', operation_id: op.operation_id, sequence_number: 2, correlation_id: 'corr_nt_6', payload: JSON.stringify({ operationId: op.operation_id, sequenceNumber: 2 }) }]);
    await db().updateTable('outbox').set({ state: 'dead', attempts: 8, created_at: new Date('2021-06-01T00:00:00Z') }).where('id', '=', 'msg_nt_6').execute();
    await page.click('.confirm button.danger');
    const changed = page.locator('#replay-changed');
    await changed.waitFor();
    expect(await changed.locator('p').textContent()).toBe(
      'Nothing was replayed: the notifications to replay changed since this preview (the hub said: expectedCount: 2 expected, 3 selected now; nothing replayed (preview again)). Preview again to see what would be sent now, then confirm that.',
    );
    expect((await deadOf('ISSUER_NT2')).map((r) => r.state)).toEqual(['dead', 'dead', 'dead', 'dead']);
    await changed.locator('button:has-text("Preview again")').click();
    await page.waitForFunction(() => document.querySelector('#replay-summary')?.textContent?.startsWith('3 notifications'));
    expect(await page.locator('#replay-changed').count()).toBe(0);
    await page.click('.confirm button.danger');
    await page.locator('#replay-result').waitFor();
    expect(await page.locator('#replay-result').textContent()).toBe('3 notifications of Second Bank queued to be sent again.');
    const states = await deadOf('ISSUER_NT2');
    expect(states.filter((r) => r.state === 'pending')).toHaveLength(3);
    expect(states.filter((r) => r.state === 'dead')).toHaveLength(1);
    // The list (dead ones) read again: only the old one is left.
    await page.waitForFunction(() => document.querySelectorAll('tr[data-id]').length === 1);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('the audit log lists the replays and the refusal, hostile text as text; issuers link to their notifications', async () => {
    const { page, problems } = await signedIn(browser, base, { hash: '#/audit' });
    await page.locator('tr[data-audit-id]').first().waitFor();
    const lines = await page.locator('tr[data-audit-id]').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1, 5).map((td) => td.textContent).join(' | ')));
    expect(lines.filter((l) => l.includes('/replay'))).toEqual([
      'env | POST /admin/v1/issuers/:issuerId/replay | ISSUER_NT2 | 202 done',
      'env | POST /admin/v1/issuers/:issuerId/replay | ISSUER_NT2 | 409 refused',
      'viewer | POST /admin/v1/issuers/:issuerId/replay | ISSUER_NT2 | 403 refused: not allowed',
      'viewer | POST /admin/v1/notifications/:id/replay | msg_nt_3 | 403 refused: not allowed',
      'env | POST /admin/v1/notifications/:id/replay | msg_nt_1 | 202 done',
    ]);
    // The filter by actor is a link, and lands in the URL.
    await page.locator('tr[data-audit-id] td:nth-child(2) a:has-text("viewer")').first().click();
    await page.waitForFunction(() => location.hash.includes('tokenName=viewer') && document.querySelectorAll('tr[data-audit-id]').length === 2);
    // The issuer's creation carries its hostile name in "after": shown as JSON text.
    await page.goto(`${base}/console#/audit?targetId=ISSUER_NT1`);
    const put = page.locator('tr[data-audit-id]:has(code:has-text("PUT"))');
    await put.locator('summary').click();
    expect(await put.locator('pre.json').textContent()).toContain(JSON.stringify(HOSTILE_NAME).slice(1, -1));
    await noScript(page);

    await page.click('nav#tabs a:has-text("Issuers")');
    const issuer = page.locator('tr[data-issuer="ISSUER_NT1"]');
    await issuer.waitFor();
    expect(await issuer.locator('td').first().textContent()).toMatch(new RegExp(`^${HOSTILE_NAME.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}ISSUER_NT1since `));
    expect(await issuer.locator('td').nth(1).textContent()).toBe(receiver.url);
    // The health comes from a second read (the notification insights), which may land after the rows.
    await page.waitForFunction(() => document.querySelector('tr[data-issuer="ISSUER_NT1"] td.health')?.textContent !== '—');
    expect(await issuer.locator('td.health').textContent()).toBe('50.0 % delivered of 2 finishedbacklog 0, dead 1');
    expect(await page.locator('#content').textContent()).not.toMatch(/whsec_|BEGIN .*PRIVATE/);
    await noScript(page);
    await issuer.locator('a:has-text("Notifications")').click();
    await page.waitForFunction(() => location.hash === '#/notifications?issuer=ISSUER_NT1');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-id]').length === 1);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('fits a phone: no page-level sideways scroll on the three views', async () => {
    const { page, problems } = await signedIn(browser, base, { width: 390, height: 844, hash: '#/notifications' });
    for (const [hash, ready] of [
      ['#/notifications', 'form.replay-form'],
      ['#/issuers', 'tr[data-issuer]'],
      ['#/audit', 'tr[data-audit-id]'],
    ]) {
      await page.evaluate((h) => {
        location.hash = h;
      }, hash);
      await page.locator(ready).first().waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth), hash).toBeLessThanOrEqual(390);
    }
    expect(problems).toEqual([]);
    await page.close();
  });
});
