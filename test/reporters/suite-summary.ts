import type { SerializedError } from 'vitest';
import type { Reporter, TestModule, TestRunEndReason, Vitest } from 'vitest/node';

/**
 * The run's last line, counting every test file and every test, and the run's verdict: a file that
 * failed (to load, in a hook, or because its worker died), a file with no test, a skipped or todo test,
 * an unhandled error and a run in which no test ran all fail the run. Vitest alone would show a failing
 * `beforeAll` as "3 skipped" beside a failed file; here nothing can pass for green.
 * A run narrowed to some files or to tests by name (`-t`) says so; tests left out by `-t` are not
 * failures, but a `-t` that matches nothing is.
 * The verdict lives in this reporter: a `--reporter` on the command line replaces it (docs/testing.md).
 */
export default class SuiteSummary implements Reporter {
  private vitest?: Vitest;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  async onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, reason: TestRunEndReason): Promise<void> {
    if (!this.vitest) return;
    // Tests of a file that did not pass as a whole (a hook, the import, a dead worker) did not run:
    // they are "not run", never "skipped".
    const counts = { passed: 0, failed: 0, skipped: 0, notRun: 0 };
    const problems: string[] = [];
    const byName = !!this.vitest.config.testNamePattern;
    let filesPassed = 0;
    for (const m of modules) {
      let tests = 0;
      let skipped = 0;
      const filePassed = m.state() === 'passed';
      if (filePassed) filesPassed++;
      for (const test of m.children.allTests()) {
        tests++;
        const state = test.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') counts.failed++;
        else if (state === 'skipped' && filePassed) {
          counts.skipped++;
          skipped++;
        } else counts.notRun++;
      }
      const file = m.relativeModuleId;
      if (!filePassed) problems.push(`${file} ${m.state() === 'failed' ? 'failed' : `did not finish (${m.state()})`}`);
      else if (tests === 0) problems.push(`${file} has no test`);
      else if (skipped > 0 && !byName) problems.push(`${file} skipped ${skipped} test(s)`);
    }
    if (modules.length === 0) problems.push('no test file ran');
    else if (counts.passed + counts.failed === 0) problems.push('no test ran');
    if (unhandledErrors.length > 0) problems.push(`${unhandledErrors.length} unhandled error(s)`);
    if (reason === 'interrupted') problems.push('the run was interrupted');
    const onDisk = (await this.vitest.globTestSpecifications()).length;
    const scope = modules.length < onDisk || byName ? ` (a narrowed run: ${modules.length} of ${onDisk} test files${byName ? ', tests by name' : ''})` : '';
    const line =
      `trackhub suite: ${filesPassed} of ${modules.length} test files passed${scope}; ` +
      `tests ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped${counts.notRun ? `, ${counts.notRun} not run` : ''}`;
    if (problems.length === 0) {
      this.vitest.logger.log(`${line}: OK`);
      return;
    }
    this.vitest.logger.error(`${line}: FAILED: ${problems.join('; ')}`);
    process.exitCode = 1;
  }
}
