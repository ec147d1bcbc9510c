import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Dependencies point down (docs/architecture.md): domain <- store <- operations <- (polling, sites,
 * delivery) <- http, cli. This reads every source file (tests aside) for its static `from '…'` and
 * dynamic `import('…')` specifiers and names each arrow that runs the wrong way, and each SQL
 * statement written outside src/store.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

/** The modules that register the routes of src/http/routes/ (the API, and a worker's ops server): nothing else may import a route module. */
const ROUTE_REGISTRARS = new Set(['src/http/app.ts', 'src/http/ops-app.ts']);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const posix = (p: string) => p.split(sep).join('/');

interface Import {
  file: string; // src/… of the importer
  specifier: string;
  target: string | null; // src/… of the imported file; null for a package or node: module
}

/** Static `import … from '…'`, `export … from '…'`, `import '…'` and dynamic `import('…')`, read by the TypeScript parser. */
function importsOf(file: string, text: string): Import[] {
  const out: Import[] = [];
  const add = (specifier: string) => {
    const target = specifier.startsWith('.') ? posix(relative(root, resolve(dirname(file), specifier))) : null;
    out.push({ file: posix(relative(root, file)), specifier, target });
  };
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      // A computed specifier (store/embedded.ts picks its platform's package by name) cannot be judged.
      if (arg && ts.isStringLiteralLike(arg)) add(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS));
  return out;
}

const files = sourceFiles(src);
const texts = new Map(files.map((f) => [f, readFileSync(f, 'utf8')] as const));
const imports = files.flatMap((f) => importsOf(f, texts.get(f) as string));

const under = (path: string | null, ...dirs: string[]) => path !== null && dirs.some((d) => path.startsWith(`src/${d}/`));
const show = (i: Import) => `${i.file} imports '${i.specifier}'`;

function wrongWay(from: string[], allowed: (i: Import) => boolean): string[] {
  return imports.filter((i) => under(i.file, ...from) && i.target !== null && !allowed(i)).map(show);
}

describe('architecture: dependencies point down', () => {
  it('reads the source tree (the checks below have something to check)', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(imports.some((i) => i.file === 'src/http/app.ts' && i.target?.startsWith('src/http/routes/'))).toBe(true);
  });

  it('src/domain imports nothing outside src/domain', () => {
    expect(wrongWay(['domain'], (i) => under(i.target, 'domain'))).toEqual([]);
  });

  it('src/store imports only src/store, src/domain (and src/assets.ts, the migrations path)', () => {
    expect(wrongWay(['store'], (i) => under(i.target, 'store', 'domain') || i.target === 'src/assets.ts')).toEqual([]);
  });

  it('src/operations imports nothing from polling, sites, delivery, http or cli', () => {
    expect(wrongWay(['operations'], (i) => !under(i.target, 'polling', 'sites', 'delivery', 'http', 'cli'))).toEqual([]);
  });

  it('polling, sites and delivery import nothing from http or cli', () => {
    expect(wrongWay(['polling', 'sites', 'delivery'], (i) => !under(i.target, 'http', 'cli'))).toEqual([]);
  });

  it('delivery imports no carrier adapter (what both need lives in src/net)', () => {
    expect(wrongWay(['delivery'], (i) => !under(i.target, 'carriers'))).toEqual([]);
  });

  it('src/net (the HTTP client shape, the OAuth token client) imports nothing of the hub outside src/net', () => {
    expect(wrongWay(['net'], (i) => under(i.target, 'net'))).toEqual([]);
  });

  it("a provider's folder is imported only from inside itself and by the registry, which lists the descriptors", () => {
    const folder = (path: string | null) => /^src\/carriers\/([a-z]+)\//.exec(path ?? '')?.[1];
    const wrong = imports
      .filter((i) => folder(i.target) !== undefined && folder(i.file) !== folder(i.target) && i.file !== 'src/carriers/registry.ts')
      .map(show);
    expect(wrong).toEqual([]);
  });

  it("the sandbox's shared parts (scenarios, kit) import no carrier: the carriers' sandboxes build on them, not the reverse", () => {
    const shared = new Set(['src/sandbox/scenarios.ts', 'src/sandbox/kit.ts']);
    expect(imports.filter((i) => shared.has(i.file) && under(i.target, 'carriers')).map(show)).toEqual([]);
  });

  it('only the module that registers routes imports src/http/routes/*', () => {
    const wrong = imports.filter((i) => under(i.target, 'http/routes') && !ROUTE_REGISTRARS.has(i.file)).map(show);
    expect(wrong).toEqual([]);
  });

  it('HTTP handlers read params, query and body as their schemas type them, not through casts', () => {
    const cast = /req\.(params|query|body) as /g;
    const wrong: string[] = [];
    for (const [f, text] of texts) {
      const file = posix(relative(root, f));
      if (!file.startsWith('src/http/')) continue;
      for (const [n, line] of text.split('\n').entries()) for (const m of line.matchAll(cast)) wrong.push(`${file}:${n + 1} casts ${m[0]}`);
    }
    expect(wrong).toEqual([]);
  });

  it('SQL is written only under src/store', () => {
    const sql = /selectFrom|insertInto|updateTable|deleteFrom|sql`|sql<|sql\.(raw|ref|lit|id|table|join)\b/g;
    const wrong: string[] = [];
    for (const [f, text] of texts) {
      const file = posix(relative(root, f));
      if (file.startsWith('src/store/')) continue;
      const lines = text.split('\n');
      for (const [n, line] of lines.entries()) {
        for (const m of line.matchAll(sql)) wrong.push(`${file}:${n + 1} writes SQL (${m[0]})`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
