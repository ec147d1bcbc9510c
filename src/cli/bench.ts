import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { PACKAGE_ROOT } from '../assets.ts';

const BENCH_DIR = join(PACKAGE_ROOT, 'bench');

/** The benchmark scripts of this checkout (`bench/*.ts`), by name. */
export function benchNames(): string[] {
  if (!existsSync(BENCH_DIR)) return [];
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

/**
 * tsx's loader, from the devDependencies: the benchmarks are TypeScript run from the checkout (they import
 * src/ and test/helpers/), not part of the compiled runtime. Resolved here so the command works from any directory.
 */
function tsxLoader(): string | undefined {
  try {
    return import.meta.resolve('tsx');
  } catch {
    return undefined;
  }
}

/** `trackhub bench <name> [args…]`: runs `bench/<name>.ts` under tsx, passing the rest of the arguments through. */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description(`Run a benchmark from bench/ (${benchNames().join(', ') || 'none in this checkout'}); figures are printed`)
    .argument('[name]', 'benchmark to run')
    .argument('[args...]', 'passed to the benchmark, e.g. --duration 10')
    .allowUnknownOption()
    .action((name: string | undefined, args: string[]) => {
      const names = benchNames();
      if (!name) {
        process.stdout.write(`benchmarks: ${names.join(', ')}\nrun one: trackhub bench <name> [options] (its options are in bench/<name>.ts's first lines); all of them: npm run bench\n`);
        return;
      }
      if (!names.includes(name)) {
        process.stderr.write(`trackhub bench: name one of: ${names.join(', ')}\n`);
        process.exit(2);
      }
      const tsx = tsxLoader();
      if (!tsx) {
        process.stderr.write('trackhub bench: the benchmarks need the devDependencies (tsx): run npm ci\n');
        process.exit(2);
      }
      const child = spawn(process.execPath, ['--import', tsx, join(BENCH_DIR, `${name}.ts`), ...args], { stdio: 'inherit' });
      child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
    });
}
