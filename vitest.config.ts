import { defineConfig } from 'vitest/config';
import { SlowFirstSequencer } from './test/slow-first-sequencer.ts';

export default defineConfig({
  test: {
    // The workspaces' tests too (the issuer SDK, the example back-ends): one `npm test` runs them all.
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // The default report, then one line that counts every file and fails the run on any skipped test.
    reporters: ['default', './test/reporters/suite-summary.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 3,
    // The longest files start first, so none of them runs alone at the end (test/slow-first-sequencer.ts).
    sequence: { sequencer: SlowFirstSequencer },
  },
});
