import type { SerializedError } from 'vitest';
import type { Reporter, TestModule, TestRunEndReason, Vitest } from 'vitest/node';

/**
 * The run's last line, counting every test file and every test, and the run's verdict: a file that
 * failed to load or whose hooks failed, a file with no test, and a skipped or todo test all fail the
 * run. Vitest alone would show a failing `beforeAll` as "3 skipped" and a `describe.each([])` as
 * nothing at all; here neither can pass for green. A run narrowed to some files or tests says so.
 */
export default class SuiteSummary implements Reporter {
  private vitest?: Vitest;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  async onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, reason: TestRunEndReason): Promise<void> {
    if (!this.vitest) return;
    // Tests of a file that failed outside them (a hook, the import) did not run: not "skipped".
    const counts = { passed: 0, failed: 0, skipped: 0, notRun: 0 };
    const problems: string[] = [];
    const byName = !!this.vitest.config.testNamePattern;
    for (const m of modules) {
      let tests = 0;
      let skipped = 0;
      const fileFailed = m.state() === 'failed';
      for (const test of m.children.allTests()) {
        tests++;
        const state = test.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') counts.failed++;
        else if (fileFailed) counts.notRun++;
        else {
          counts.skipped++;
          skipped++;
        }
      }
      const file = m.relativeModuleId;
      if (fileFailed) problems.push(`${file} failed`);
      else if (tests === 0) problems.push(`${file} has no test`);
      else if (skipped > 0 && !byName) problems.push(`${file} skipped ${skipped} test(s)`);
    }
    if (modules.length === 0) problems.push('no test file ran');
    if (unhandledErrors.length > 0) problems.push(`${unhandledErrors.length} unhandled error(s)`);
    if (reason === 'interrupted') problems.push('the run was interrupted');
    const onDisk = (await this.vitest.globTestSpecifications()).length;
    const scope = modules.length < onDisk || byName ? ` (a narrowed run: ${modules.length} of ${onDisk} test files${byName ? ', tests by name' : ''})` : '';
    const filesFailed = modules.filter((m) => m.state() === 'failed').length;
    const line =
      `trackhub suite: ${modules.length - filesFailed} of ${modules.length} test files passed${scope}; ` +
      `tests ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped${counts.notRun ? `, ${counts.notRun} not run (their file failed)` : ''}`;
    if (problems.length === 0) {
      this.vitest.logger.log(`${line}: OK`);
      return;
    }
    this.vitest.logger.error(`${line}: FAILED: ${problems.join('; ')}`);
    process.exitCode = 1;
  }
}
