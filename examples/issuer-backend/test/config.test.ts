import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'issuer-backend-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('examples/issuer-backend configuration', () => {
  it('a file that is not valid JSON is named, never quoted (it holds the private key and the webhook secret)', () => {
    const secret = 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=';
    // A trailing comma: V8's message would quote the text around it, the secret included.
    writeFileSync(join(dir, 'issuer.json'), `{"issuerId":"DEMOBANK01","webhookSecret":"${secret}",}`);
    writeFileSync(join(dir, 'key.json'), `{"kty":"EC","d":"${secret}",}`);
    for (const [env, name] of [
      [{ ISSUER_FILE: 'issuer.json' }, 'ISSUER_FILE'],
      [{ ISSUER_ID: 'DEMOBANK01', ISSUER_KEY_FILE: 'key.json' }, 'ISSUER_KEY_FILE'],
    ] as const) {
      let message = '';
      try {
        readConfig({ ...env, INIT_CWD: dir });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toBe(`${name} is not valid JSON`);
      expect(message).not.toContain('whsec');
    }
  });
});
