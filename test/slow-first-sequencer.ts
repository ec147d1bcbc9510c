import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that took longest in CI (`.ci/run`, 2026-12-06, each 20 s or more), longest first. A fresh
 * clone has no timing cache, so vitest would start them in path order, and the longest e2e files then
 * started last and ran alone at the end. Started first, they overlap the many short files. Only an
 * order: a file missing from the list, or listed and gone, changes nothing but where it starts.
 */
const SLOWEST = [
  'test/e2e/embedded-store.e2e.test.ts',
  'test/delivery.chaos.test.ts',
  'test/e2e/demo.e2e.test.ts',
  'test/cli.refusals.test.ts',
  'test/e2e/sites-inbox.e2e.test.ts',
  'test/cli.usage.test.ts',
  'test/e2e/rolling-restart.e2e.test.ts',
  'test/delivery.test.ts',
  'test/e2e/fuzz.e2e.test.ts',
  'test/delivery.rolling.test.ts',
  'test/polling/poller.test.ts',
  'test/limits.tenants.test.ts',
  'test/e2e/sites-import.e2e.test.ts',
  'test/secrets.transport.test.ts',
  'test/e2e/sites.e2e.test.ts',
  'test/console.search.browser.test.ts',
  'test/e2e/shipment.e2e.test.ts',
  'test/delivery.admin.test.ts',
  'test/console.ux.browser.test.ts',
  'test/secrets.rotate.test.ts',
  'test/delivery.ordering.test.ts',
  'test/console.notifications.browser.test.ts',
  'test/e2e/budget.e2e.test.ts',
  'test/auth.issuer-cache.test.ts',
  'test/e2e/carriers.e2e.test.ts',
  'test/e2e/stop.e2e.test.ts',
  'test/auth.instances.test.ts',
  'test/console.carriers.browser.test.ts',
  'test/secrets.test.ts',
  'test/e2e/mtls.e2e.test.ts',
];

/** Starts the slowest files first (the list above), then the rest in vitest's own order. */
export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = SLOWEST.findIndex((p) => f.moduleId.endsWith(`/${p}`));
      return i === -1 ? SLOWEST.length : i;
    };
    // Array.prototype.sort is stable: the files not listed keep vitest's order among themselves.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
