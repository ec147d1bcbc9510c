import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ADMIN_TOKEN } from './app.ts';

// Driving the operator console (dist/console, built by `npm run build`; npm test's pretest builds it) in
// Debian's Chromium, never a browser a tool downloads for itself.

export const CHROMIUM = process.env.TRACKHUB_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set TRACKHUB_CHROMIUM)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface ConsolePage {
  page: Page;
  /** Script errors and CSP violations seen by the page: a test ends by expecting none. */
  problems: string[];
}

/** A new page at 1280×800 (or the size given), signed in to the console at `base` with the admin token. */
export async function signedIn(browser: Browser, base: string, opts: { width?: number; height?: number; token?: string; hash?: string } = {}): Promise<ConsolePage> {
  const page = await browser.newPage({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 }, timezoneId: 'Europe/Paris' });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  await page.goto(`${base}/console${opts.hash ?? ''}`);
  await page.fill('#token', opts.token ?? ADMIN_TOKEN);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('nav#tabs');
  return { page, problems };
}
