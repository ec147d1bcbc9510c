import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkJwks } from './issuer-checks.ts';

const publicJwk = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as Record<string, unknown>;

describe('checkJwks', () => {
  it('takes EC P-256 public keys with a kid', () => {
    expect(checkJwks({ keys: [{ ...publicJwk(), kid: 'k1' }, { ...publicJwk(), kid: 'k2' }] })).toBeUndefined();
  });

  it('refuses x and y that are not a point on P-256, naming the key', () => {
    const good = publicJwk();
    const swapped = { ...good, x: good.y, y: good.x, kid: 'k1' }; // 32 bytes each, but not on the curve
    expect(checkJwks({ keys: [{ ...publicJwk(), kid: 'k0' }, swapped] })).toBe('jwks.keys[1]: x and y are not a point on P-256 (base64url of 32 bytes each)');
    expect(checkJwks({ keys: [{ ...good, x: 'AAAA', kid: 'k1' }] })).toMatch(/^jwks\.keys\[0\]: x and y are not a point/);
    expect(checkJwks({ keys: [{ ...good, y: '!!not base64!!', kid: 'k1' }] })).toMatch(/^jwks\.keys\[0\]: x and y are not a point/);
  });

  it('refuses other key types, private keys, missing and repeated kids', () => {
    const k = publicJwk();
    expect(checkJwks({ keys: [] })).toBe('jwks.keys: at least one key is required');
    expect(checkJwks({ keys: [{ ...k, crv: 'P-384', kid: 'a' }] })).toBe('jwks.keys[0]: must be an EC P-256 key (ES256)');
    expect(checkJwks({ keys: [{ ...k, d: 'secret', kid: 'a' }] })).toMatch(/^jwks\.keys\[0\]: holds private key material/);
    expect(checkJwks({ keys: [{ ...k }] })).toBe('jwks.keys[0]: kid is required');
    expect(checkJwks({ keys: [{ ...k, kid: 'a' }, { ...publicJwk(), kid: 'a' }] })).toBe('jwks.keys[1]: kid a is repeated');
    for (const kid of ['x\u001b[31m', 'a\u202eb', 'a\u2028b', 'k'.repeat(257), ' ', ' k1 ']) expect(checkJwks({ keys: [{ ...k, kid }] })).toMatch(/^jwks\.keys\[0\]: kid must be 1 to 256 characters/);
  });

  it('refuses a key whose own alg, use, key_ops or ext forbid verifying ES256 signatures', () => {
    const k = { ...publicJwk(), kid: 'a' };
    expect(checkJwks({ keys: [{ ...k, alg: 'ES256', use: 'sig', key_ops: ['verify'], ext: true }] })).toBeUndefined();
    expect(checkJwks({ keys: [{ ...k, alg: 'RS256' }] })).toBe('jwks.keys[0]: alg must be ES256 (or absent)');
    expect(checkJwks({ keys: [{ ...k, use: 'enc' }] })).toBe('jwks.keys[0]: use must be sig (or absent)');
    for (const key_ops of [['sign'], 'verify', ['verify', 'sign'], ['verify', 'verify'], ['verify', 1]]) {
      expect(checkJwks({ keys: [{ ...k, key_ops }] })).toBe('jwks.keys[0]: key_ops must be ["verify"] (or absent)');
    }
    expect(checkJwks({ keys: [{ ...k, ext: 'no' }] })).toBe('jwks.keys[0]: ext must be true or false (or absent)');
  });
});
