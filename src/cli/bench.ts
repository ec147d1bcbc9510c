import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';

const BENCH_DIR = join(import.meta.dirname, '../../bench');

/** The benchmark scripts of this checkout (`bench/*.ts`), by name. */
export function benchNames(): string[] {
  if (!existsSync(BENCH_DIR)) return [];
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

/** `trackhub bench <name> [args…]`: runs `bench/<name>.ts`, passing the rest of the arguments through. */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description(`Run a benchmark from bench/ (${benchNames().join(', ') || 'none in this checkout'}); figures are printed`)
    .argument('[name]', 'benchmark to run')
    .argument('[args...]', 'passed to the benchmark, e.g. --duration 10')
    .allowUnknownOption()
    .action((name: string | undefined, args: string[]) => {
      const names = benchNames();
      if (!name || !names.includes(name)) {
        process.stderr.write(`trackhub bench: name one of: ${names.join(', ')}\n`);
        process.exit(2);
      }
      const child = spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, `${name}.ts`), ...args], { stdio: 'inherit' });
      child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
    });
}
