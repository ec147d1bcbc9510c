#!/usr/bin/env node
// `npm test` runs this first: the console test drives Debian's Chromium (never a browser a tool downloads for
// itself), so it must be there; the alert-rule test runs promtool, fetched here when missing (Debian's
// package, downloaded, not installed); then the build, so the end-to-end tests (which spawn bin/trackhub.js)
// run the current sources. Problems end in one line and a non-zero exit, never a stack trace.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { ensurePromtool } from './promtool.mjs';

const DEBIAN_CHROMIUM = '/usr/bin/chromium';
const INSTALL = 'sudo apt-get install -y chromium';

function fail(msg) {
  process.stderr.write(`trackhub pretest: ${msg}\n`);
  process.exit(1);
}

function runnable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function ensureChromium() {
  const configured = process.env.TRACKHUB_CHROMIUM;
  const path = configured || DEBIAN_CHROMIUM;
  if (runnable(path)) return;
  if (configured && configured !== DEBIAN_CHROMIUM) {
    fail(`no Chromium at TRACKHUB_CHROMIUM=${configured}; point it at one, or unset it and run: ${INSTALL}`);
  }
  const root = process.getuid?.() === 0;
  const apt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!root || !apt) fail(`Chromium is missing (${DEBIAN_CHROMIUM}), the console test needs it; run: ${INSTALL}`);

  process.stdout.write(`trackhub pretest: Chromium is missing; installing Debian's package (apt-get install -y chromium)\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', 'chromium']]) {
    const r = spawnSync('apt-get', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) {
      const why = `${r.stderr ?? ''}`.trim().split('\n').at(-1) || (r.error?.message ?? `exit ${r.status ?? r.signal}`);
      fail(`apt-get ${args[0]} failed (${why}); run: ${INSTALL}`);
    }
  }
  if (!runnable(DEBIAN_CHROMIUM)) fail(`apt-get installed chromium but ${DEBIAN_CHROMIUM} is not there; run: ${INSTALL}`);
}

/** The alert-rule test runs promtool: Debian's, fetched once into a cache folder (scripts/promtool.mjs), or TRACKHUB_PROMTOOL. */
function ensurePromtoolForTests() {
  try {
    ensurePromtool((m) => process.stdout.write(`trackhub pretest: ${m}\n`));
  } catch (err) {
    fail(err.message);
  }
}

ensureChromium();
ensurePromtoolForTests();
const build = spawnSync(process.execPath, [join(import.meta.dirname, 'build.mjs')], { stdio: 'inherit' });
process.exit(build.status ?? 1);
