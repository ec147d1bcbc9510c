#!/usr/bin/env node
// `npm run build` (and so `npm ci`, through `prepare`): compiles src/ into dist/ with tsc, then copies the
// files the code reads beside itself at run time (every non-TypeScript file under src/: the SQL migrations,
// the web console's HTML, CSS and script). dist/ is rebuilt from scratch so no file of a deleted source lingers;
// the new build is made beside it and put in its place at the end, so dist/ is never half-built.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const src = join(root, 'src');
const dist = join(root, 'dist');
const next = join(root, '.dist-next');

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  process.stderr.write('trackhub build: typescript is not installed: run npm ci (the build needs the devDependencies)\n');
  process.exit(1);
}

rmSync(next, { recursive: true, force: true });
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', next], { stdio: 'inherit' });
if (compiled.status !== 0) {
  rmSync(next, { recursive: true, force: true });
  process.exit(compiled.status ?? 1);
}

let copied = 0;
for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || entry.name.endsWith('.ts')) continue;
  const from = join(entry.parentPath, entry.name);
  const to = join(next, relative(src, from));
  mkdirSync(dirname(to), { recursive: true });
  // Written afresh (not copied) so each file gets the usual mode from the umask, whatever the source's.
  writeFileSync(to, readFileSync(from));
  copied++;
}
rmSync(dist, { recursive: true, force: true });
renameSync(next, dist);
process.stdout.write(`trackhub build: compiled src/ into dist/ and copied ${copied} asset file${copied === 1 ? '' : 's'}\n`);
