import { afterEach, describe, expect, it, vi } from 'vitest';

// A resolver that never answers: what a registration meets when the issuer's DNS is down.
vi.mock('node:dns', async (importOriginal) => ({ ...(await importOriginal<typeof import('node:dns')>()), lookup: () => {} }));

const { checkTargetHost } = await import('./ssrf.ts');

describe('SSRF registration check with a DNS that never answers', () => {
  afterEach(() => vi.useRealTimers());

  it('gives up after 3 s and accepts the name (the connect-time guard still stands)', async () => {
    vi.useFakeTimers();
    let settled: string | undefined | 'pending' = 'pending';
    const check = checkTargetHost('https://slow-dns.example/hooks').then((r) => {
      settled = r;
    });
    await vi.advanceTimersByTimeAsync(2_999);
    expect(settled).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toBeUndefined();
    await check;
  });
});
