import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/processes.ts';

const exited = (p: ReturnType<typeof runCli>) => new Promise<number | null>((r) => p.child.once('exit', (code) => r(code)));

describe('trackhub CLI', () => {
  it('bench refuses an unknown benchmark, naming the ones there are', async () => {
    const p = runCli(['bench', 'no-such-bench'], {});
    expect(await exited(p)).toBe(2);
    expect(p.output()).toMatch(/name one of: .*track/);
  });

  it('bench with no name lists the benchmarks and exits 0', async () => {
    const p = runCli(['bench'], {});
    expect(await exited(p)).toBe(0);
    expect(p.output()).toMatch(/^benchmarks: .*track.*\n/);
    expect(p.output()).not.toMatch(/\blib\b|report/);
  });

  it('stops on a bad configuration value with one line naming the variable', async () => {
    const p = runCli(['serve'], { TRACKHUB_PORT: 'eighty', TRACKHUB_DATABASE_URL: 'embedded:///nonexistent/pg' });
    expect(await exited(p)).toBe(2);
    expect(p.output().trim()).toMatch(/^trackhub: configuration error: .*TRACKHUB_PORT/);
    expect(p.output().trim().split('\n')).toHaveLength(1);
  });
});
