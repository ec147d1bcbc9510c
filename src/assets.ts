import { existsSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';

/**
 * Where the files shipped beside the code are (the SQL migrations, the console's pages, the benchmarks).
 * Found from this module's own place: under src/ when the sources run (the tests), under dist/ when the
 * build runs (bin/trackhub.js), where this code sits in one of the bundle's chunks.
 */
function packageRoot(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dir === dirname(dir)) throw new Error(`trackhub: no package.json above ${import.meta.dirname}`);
  }
}

export const PACKAGE_ROOT = packageRoot();
const DIST = join(PACKAGE_ROOT, 'dist');
const BASE = `${import.meta.dirname}${sep}`.startsWith(`${DIST}${sep}`) ? DIST : join(PACKAGE_ROOT, 'src');

/** `assetPath('store', 'migrations')`: src/store/migrations, or dist/store/migrations in the build. */
export function assetPath(...parts: string[]): string {
  return join(BASE, ...parts);
}
