import { describe, expect, it } from 'vitest';
import { checkNotificationUrl } from '../domain/issuer-checks.ts';
import { checkDeliveryTargets } from './registration.ts';

/** What an issuer's registration refuses about where its notifications go (private targets allowed: the SSRF guard has tests of its own). */
describe('checkDeliveryTargets: no credential in a stored URL', () => {
  const check = (notificationBaseUrl: string, tokenUrl?: string) =>
    checkDeliveryTargets({ notificationBaseUrl, notificationAuth: tokenUrl ? { tokenUrl } : null }, true);

  it('accepts plain URLs, and a query without credentials', async () => {
    expect(await check('https://bank.example/hooks', 'https://auth.bank.example/oauth2/token?api-version=2024-01-01')).toBeUndefined();
  });

  it('refuses user:password@ in either URL, naming the field and never the secret', async () => {
    const refusal = await check('https://bank.example/hooks', 'https://client:s3cr3t-value@auth.bank.example/token');
    expect(refusal).toMatch(/^notificationAuth\.tokenUrl: must not carry credentials/);
    expect(refusal).not.toContain('s3cr3t-value');
    expect(await check('https://hub:s3cr3t-value@bank.example/hooks')).toMatch(/^notificationBaseUrl: must not carry credentials/);
    expect(await check('https://user@bank.example/hooks')).toMatch(/^notificationBaseUrl: must not carry credentials/);
  });

  it.each(['client_secret', 'password', 'access_token', 'apiKey', 'api-key', 'key', 'sig', 'pwd', 'private_key', 'code', 'auth'])('refuses a query parameter named %s, without its value', async (name) => {
    const refusal = await check('https://bank.example/hooks', `https://auth.bank.example/token?${name}=s3cr3t-value`);
    expect(refusal).toMatch(/^notificationAuth\.tokenUrl: must not carry a credential in its query/);
    expect(refusal).not.toContain('s3cr3t-value');
  });

  it('refuses a fragment, and a credential written into the path as name=value', async () => {
    for (const url of [
      'https://auth.bank.example/token#client_secret=s3cr3t-value',
      'https://auth.bank.example/token/;client_secret=s3cr3t-value',
      'https://auth.bank.example/client_secret=s3cr3t-value/token',
      'https://auth.bank.example/token;password%3Ds3cr3t-value',
    ]) {
      const refusal = await check('https://bank.example/hooks', url);
      expect(refusal, url).toMatch(/^notificationAuth\.tokenUrl: must not carry a (fragment|credential in its path)/);
      expect(refusal).not.toContain('s3cr3t-value');
    }
    expect(await check('https://bank.example/hooks', 'https://auth.bank.example/oauth2/v2.0/token')).toBeUndefined();
  });

  it('refuses control characters, line separators and bidi overrides in either URL', async () => {
    expect(await check('https://bank.example/hooks', 'https://auth.bank.example/token\u001b]0;PWNED\u0007')).toMatch(/^notificationAuth\.tokenUrl: must not hold control, invisible or bidirectional formatting characters/);
    for (const url of ['https://bank.example/\u001b]52;c;cm0K\u0007', 'https://bank.example/\u202eexe', 'https://bank.example/a\u009bb']) {
      expect(checkNotificationUrl(url), JSON.stringify(url)).toMatch(/^notificationBaseUrl: must not hold control, invisible or bidirectional formatting characters/);
    }
    expect(checkNotificationUrl('https://bank.example/hooks')).toBeUndefined();
  });
});
