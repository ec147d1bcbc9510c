import { defineConfig } from 'vitest/config';

/**
 * The vitest config StrykerJS runs (stryker.config.json, `npm run mutate`): the same global setup as
 * vitest.config.ts (the shared embedded PostgreSQL server, the external one; no Chromium check and no
 * build, see TRACKHUB_MUTATION_RUN below), but only
 * the test files that exercise the mutated modules. Left out: the end-to-end tests (they spawn the built
 * bundle in dist/, so a mutant in the sandbox's src/ never reaches them), the console's browser test,
 * the CLI and chaos tests (separate processes again), and the sandbox's carrier simulations (21 s of
 * fake parcel lives that src/domain/operation*.test.ts cover in milliseconds).
 * No summary reporter: Stryker filters tests by name, and that reporter fails a run with skipped tests.
 *
 * TRACKHUB_MUTATION_TESTS (comma-separated globs) narrows the run to one group's tests, e.g.
 * `TRACKHUB_MUTATION_TESTS='src/delivery/*.test.ts' npx stryker run --mutate src/delivery/ssrf.ts`.
 * Not Stryker's own --testFiles: with a test filter, StrykerJS 9.6 activates static mutants (tables and
 * constants evaluated at import) after the module has loaded, and reports them Survived although the
 * tests kill them (stryker-js issue 6144).
 */
// Read by test/global-setup.ts: no Chromium check and no rebuild of dist/ inside a mutation run's sandbox.
process.env.TRACKHUB_MUTATION_RUN = '1';

const only = process.env.TRACKHUB_MUTATION_TESTS?.split(',')
  .map((g) => g.trim())
  .filter(Boolean);

export default defineConfig({
  test: {
    include: only?.length ? only : [
      // the operation state machine
      'src/domain/*.test.ts',
      'test/carrier-webhooks.test.ts',
      // accept
      'test/track.api.test.ts',
      'test/sites.api.test.ts',
      'test/accept.*.test.ts',
      // delivery: retry, throttle, the dispatcher's outcomes, SSRF
      'src/delivery/*.test.ts',
      'test/delivery.test.ts',
      'test/delivery.admin.test.ts',
      // tokens and assertions
      'src/auth/*.test.ts',
      'test/auth.security.test.ts',
      'test/token.*.test.ts',
      // the inbox and its resume
      'src/sites/*.test.ts',
      'test/sites.inbox.test.ts',
      'test/inbox.*.test.ts',
      // carrier status mapping
      'src/carriers/*/*.test.ts',
    ],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // A test that fails once under the load of a mutation run (the checker and a second runner share the
    // two cores) must not abort the initial run; a mutant is still killed when its test fails twice.
    retry: 1,
  },
});
