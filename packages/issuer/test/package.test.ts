import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const pkg = join(import.meta.dirname, '..');
const src = join(pkg, 'src');
const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));

/** Every module specifier (static, re-export, dynamic) of the SDK's sources, with its file. */
function specifiers(): { file: string; spec: string }[] {
  const found: { file: string; spec: string }[] = [];
  for (const e of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts')) continue;
    const file = join(e.parentPath, e.name);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) found.push({ file: relative(pkg, file), spec: m[1] });
  }
  return found;
}

describe('the @trackhub/issuer package', () => {
  it('imports nothing of the hub and no package but its dependencies and node built-ins', () => {
    const allowed = new Set(Object.keys(manifest.dependencies));
    const wrong = specifiers().filter(({ file, spec }) => {
      if (spec.startsWith('node:')) return false;
      if (spec.startsWith('.')) return !join(pkg, file, '..', spec).startsWith(`${src}/`);
      return !allowed.has(spec);
    });
    expect(wrong).toEqual([]);
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['jose', 'lru-cache']);
  });

  it('declares its entry points, and pg only as an optional peer', () => {
    expect(manifest.type).toBe('module');
    // `default` too: Node's require(esm) (20.19+, 22.12+) looks for `require` or `default`, not `import`.
    expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', import: './dist/index.js', default: './dist/index.js' });
    expect(manifest.publishConfig).toEqual({ access: 'public' });
    expect(manifest.peerDependenciesMeta.pg.optional).toBe(true);
    expect(manifest.files).toEqual(expect.arrayContaining(['dist', 'migrations']));
  });

  it('loads with require() from CommonJS (Node 20.19+ require(esm), through the exports default condition)', () => {
    // From the repository root the package resolves through its workspace link, exports and all, as from an install.
    const r = spawnSync(process.execPath, ['-e', "const m = require('@trackhub/issuer'); process.stdout.write(typeof m.NotificationHandler + ' ' + typeof m.TokenProvider)"], {
      cwd: join(pkg, '..', '..'),
      encoding: 'utf8',
    });
    expect(r.stderr.replace(/^.*ExperimentalWarning.*\n?|^\(Use .*\n?/gm, '')).toBe('');
    expect(r.stdout).toBe('function function');
  });
});
