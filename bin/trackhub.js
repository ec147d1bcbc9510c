#!/usr/bin/env node
// Runs the compiled CLI from dist/ (`npm run build` makes it; `npm ci` runs the build through `prepare`).
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('trackhub: not built yet: run npm run build (npm ci does it)\n');
  process.exit(1);
}
await import(main.href);
