import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exportOpenApi } from '../src/http/openapi-export.ts';

const committed = join(dirname(fileURLToPath(import.meta.url)), '..', 'openapi.json');

describe('openapi.json', () => {
  it('is the document the routes produce (regenerate with: npm run openapi)', async () => {
    const produced = await exportOpenApi();
    const onDisk = readFileSync(committed, 'utf8');
    if (produced !== onDisk) {
      expect.fail('openapi.json differs from the routes; regenerate it with: npm run openapi');
    }
    // The document is the same on every run: no host, port or time in it.
    expect(await exportOpenApi()).toBe(produced);
    expect(JSON.parse(produced).servers).toBeUndefined();
  });
});
