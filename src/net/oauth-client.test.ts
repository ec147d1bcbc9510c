import { describe, expect, it } from 'vitest';
import type { HttpClient } from './http-client.ts';
import { ClientCredentialsToken } from './oauth-client.ts';

function tokenEndpoint(lifetimeS: number) {
  const calls: { headers: Record<string, string>; body?: string }[] = [];
  const http: HttpClient = async (_url, init) => {
    calls.push({ headers: init.headers as Record<string, string>, body: init.body as string | undefined });
    return { status: 200, headers: {}, body: JSON.stringify({ access_token: `tok-${calls.length}`, token_type: 'Bearer', expires_in: lifetimeS }) };
  };
  return { http, calls };
}

describe('ClientCredentialsToken', () => {
  it('is cached until a minute before it expires, then fetched again', async () => {
    let now = 1_000_000;
    const ep = tokenEndpoint(3600);
    const token = new ClientCredentialsToken(ep.http, 'https://bank.example/token', 'hub', 's3cret', 'basic', () => now);
    expect(await token.get()).toBe('tok-1');
    now += 3600_000 - 61_000;
    expect(await token.get()).toBe('tok-1');
    now += 2_000; // inside the last minute
    expect(await token.get()).toBe('tok-2');
    expect(ep.calls).toHaveLength(2);
    expect(ep.calls[0].headers.authorization).toBe(`Basic ${Buffer.from('hub:s3cret').toString('base64')}`);
    expect(ep.calls[0].body).toBe('grant_type=client_credentials');
  });

  it('renews a short-lived token at half its life', async () => {
    let now = 0;
    const ep = tokenEndpoint(60);
    const token = new ClientCredentialsToken(ep.http, 'https://bank.example/token', 'hub', 's3cret', 'basic', () => now);
    await token.get();
    now = 29_000;
    expect(await token.get()).toBe('tok-1');
    now = 31_000;
    expect(await token.get()).toBe('tok-2');
  });

  it('shares one request among concurrent callers, and fetches anew after invalidate()', async () => {
    const ep = tokenEndpoint(3600);
    const token = new ClientCredentialsToken(ep.http, 'https://bank.example/token', 'hub', 's3cret', 'basic');
    expect(await Promise.all([token.get(), token.get(), token.get()])).toEqual(['tok-1', 'tok-1', 'tok-1']);
    token.invalidate();
    expect(await token.get()).toBe('tok-2');
    expect(ep.calls).toHaveLength(2);
  });
});
