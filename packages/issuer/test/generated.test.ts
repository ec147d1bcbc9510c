import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script, without types of its own
import { generate, OUTPUT } from '../scripts/generate-types.mjs';

describe('the SDK types generated from openapi.json', () => {
  it('match the committed openapi.json (run `npm run generate -w @trackhub/issuer` when this fails)', async () => {
    const committed = readFileSync(OUTPUT, 'utf8');
    const fresh: string = await generate();
    expect(committed === fresh, 'src/generated/openapi.ts is out of date with openapi.json: run npm run generate -w @trackhub/issuer').toBe(true);
  });

  it('come from the root openapi.json, which lists the routes the client calls', () => {
    const doc = JSON.parse(readFileSync(join(import.meta.dirname, '../../../openapi.json'), 'utf8'));
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/banking/v1/issuers/{issuerId}/physicalCards/{cardId}/track', '/banking/v1/issuers/{issuerId}/physicalCards/{cardId}/trackingStatus']));
    expect(readFileSync(OUTPUT, 'utf8')).toContain('STANDALONE_TRACKING');
  });
});
