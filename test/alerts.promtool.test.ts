import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * Prometheus's own checker on deploy/prometheus: `promtool check rules` (syntax, templates) and `promtool test
 * rules` (the unit tests: every alert fires on its state and stays quiet before its `for:`, at its threshold
 * and once the state ends). promtool is Debian's, fetched by scripts/promtool.mjs (npm test's pretest does
 * it first), or TRACKHUB_PROMTOOL.
 */

const root = join(import.meta.dirname, '..');
const rulesDir = join(root, 'deploy/prometheus');
let promtool = '';

beforeAll(() => {
  const found = spawnSync(process.execPath, [join(root, 'scripts/promtool.mjs')], { encoding: 'utf8', timeout: 300_000 });
  // One line saying what to do (set TRACKHUB_PROMTOOL, or fetch Debian's package), never a silent skip.
  if (found.status !== 0) throw new Error(found.stderr.trim() || `scripts/promtool.mjs exited ${found.status ?? found.signal}`);
  promtool = found.stdout.trim();
}, 300_000);

function runPromtool(args: string[], cwd: string) {
  const r = spawnSync(promtool, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('promtool on deploy/prometheus', () => {
  it('check rules: alerts.yml is valid, with its 7 rules', () => {
    const r = runPromtool(['check', 'rules', 'alerts.yml'], rulesDir);
    expect(r.out).toContain('SUCCESS: 7 rules found');
    expect(r.status, r.out).toBe(0);
  });

  it('test rules: alerts.test.yml passes', () => {
    const r = runPromtool(['test', 'rules', 'alerts.test.yml'], rulesDir);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('SUCCESS');
  });

  it('the unit tests see each alert both firing and quiet', () => {
    const unit = parse(readFileSync(join(rulesDir, 'alerts.test.yml'), 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts?: unknown[] }[] }[] };
    const cases = unit.tests.flatMap((t) => t.alert_rule_test);
    const rules = (parse(readFileSync(join(rulesDir, 'alerts.yml'), 'utf8')) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(rules).toHaveLength(7);
    for (const alert of rules) {
      expect(cases.some((c) => c.alertname === alert && (c.exp_alerts ?? []).length > 0), `${alert} never fires`).toBe(true);
      expect(cases.some((c) => c.alertname === alert && (c.exp_alerts ?? []).length === 0), `${alert} is never seen quiet`).toBe(true);
    }
  });
});

describe('promtool catches a wrong rule', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'trackhub-promtool-'));
    copyFileSync(join(rulesDir, 'alerts.test.yml'), join(dir, 'alerts.test.yml'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['stuck parcels at the threshold', '> 50', '>= 50'],
    ['oldest pending at one hour exactly', '> 3600', '>= 3600'],
    ['the budget held 5 minutes, not 15', 'for: 15m', 'for: 5m'],
  ])('the unit tests fail with %s', (_why, from, to) => {
    const rules = readFileSync(join(rulesDir, 'alerts.yml'), 'utf8');
    expect(rules).toContain(from);
    writeFileSync(join(dir, 'alerts.yml'), rules.replace(from, to));
    const r = runPromtool(['test', 'rules', 'alerts.test.yml'], dir);
    expect(r.status, r.out).not.toBe(0);
    expect(r.out).toContain('FAILED');
  });

  it('check rules refuses a rule that does not parse', () => {
    writeFileSync(join(dir, 'alerts.yml'), readFileSync(join(rulesDir, 'alerts.yml'), 'utf8').replace('== 1', '== == 1'));
    const r = runPromtool(['check', 'rules', 'alerts.yml'], dir);
    expect(r.status, r.out).not.toBe(0);
  });
});
