/**
 * Writes the hub's OpenAPI document to openapi.json at the repository root (`npm run openapi`), so teams
 * can generate clients without running a hub. test/openapi.drift.test.ts fails when the committed file
 * and the routes disagree. Run with tsx: `npx tsx scripts/export-openapi.ts`.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportOpenApi } from '../src/http/openapi-export.ts';

const target = join(dirname(fileURLToPath(import.meta.url)), '..', 'openapi.json');
writeFileSync(target, await exportOpenApi());
console.log(`wrote ${target}`);
