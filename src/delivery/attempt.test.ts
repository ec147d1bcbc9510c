import { getEventListeners } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attemptDelivery, type Claimed } from './attempt.ts';
import { type IssuerTarget, issuerAgent } from './targets.ts';
import { EndpointThrottle } from './throttle.ts';

/** What a long-lived signal keeps of the signals made from it (Node's own bookkeeping, found by its name). */
function dependantsOf(signal: AbortSignal): number {
  const key = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  const set = key ? (signal as unknown as Record<symbol, Set<unknown> | undefined>)[key] : undefined;
  return set?.size ?? 0;
}

describe('attemptDelivery', () => {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  let target: IssuerTarget;
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    target = {
      issuerId: 'ISSUER_AT1',
      url: `http://127.0.0.1:${port}/notifications`,
      secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
      maxOperations: 1,
      sending: true,
      agent: issuerAgent(null, { allowPrivateTargets: true, timeoutMs: 5000, perIssuerConcurrency: 8 }),
      throttle: new EndpointThrottle(8),
      connectionKey: '',
    };
  });
  afterAll(async () => {
    await target.agent.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const claimed = (i: number): Claimed => ({ id: `msg_${i}`, issuerId: 'ISSUER_AT1', correlationId: `corr_${i}`, attempts: 1, scheduleOffset: 0, payloads: ['{"sequenceNumber":1}'] });

  it("leaves nothing behind in the worker's long-lived shutdown signal, however many attempts it makes", async () => {
    const shutdown = new AbortController();
    for (let batch = 0; batch < 10; batch++) {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => attemptDelivery(target, claimed(batch * 50 + i), { timeoutMs: 5000, shutdown: shutdown.signal, now: Date.now })));
      expect(results.every((r) => r?.status === 204)).toBe(true);
    }
    // AbortSignal.any([timeout, shutdown]) left one entry here per attempt, for the life of the worker.
    expect(dependantsOf(shutdown.signal)).toBe(0);
    // The probe sees such entries where there are some (else the 0 above could not fail).
    const control = new AbortController();
    const composite = AbortSignal.any([control.signal]);
    expect(dependantsOf(control.signal)).toBe(1);
    expect(composite.aborted).toBe(false);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('takes the status once it has come: a body that trickles in for ever is cut, never turned into a timeout', async () => {
    const trickle = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      const drip = setInterval(() => res.write('x'), 100);
      res.on('close', () => clearInterval(drip));
    });
    await new Promise<void>((r) => trickle.listen(0, '127.0.0.1', () => r()));
    try {
      const started = Date.now();
      const result = await attemptDelivery({ ...target, url: `http://127.0.0.1:${(trickle.address() as AddressInfo).port}/` }, claimed(9100), {
        timeoutMs: 400, // shorter than the body takes: before, the attempt ended as a timeout, and was sent again
        shutdown: new AbortController().signal,
        now: Date.now,
      });
      expect(result).toMatchObject({ status: 200 });
      expect(result?.timedOut).toBeUndefined();
      expect(result?.responseText).toMatch(/^x+$/);
      expect(Date.now() - started).toBeLessThan(3000);
      // A stop that comes once the status is in does not throw the 200 away (it would be sent again).
      const stopping = new AbortController();
      const during = attemptDelivery({ ...target, url: `http://127.0.0.1:${(trickle.address() as AddressInfo).port}/` }, claimed(9101), { timeoutMs: 5000, shutdown: stopping.signal, now: Date.now });
      setTimeout(() => stopping.abort(), 300);
      expect(await during).toMatchObject({ status: 200 });
    } finally {
      trickle.closeAllConnections();
      await new Promise<void>((r) => trickle.close(() => r()));
    }
  });

  it('is cut short by shutdown (no result) and by its timeout (a timeout result)', async () => {
    const hang = createServer(() => {}); // never answers
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
    const hangTarget = { ...target, url: `http://127.0.0.1:${(hang.address() as AddressInfo).port}/` };
    try {
      const shutdown = new AbortController();
      const cut = attemptDelivery(hangTarget, claimed(9001), { timeoutMs: 5000, shutdown: shutdown.signal, now: Date.now });
      setTimeout(() => shutdown.abort(), 50);
      expect(await cut).toBeUndefined();
      const late = await attemptDelivery(hangTarget, claimed(9002), { timeoutMs: 100, shutdown: new AbortController().signal, now: Date.now });
      expect(late).toMatchObject({ timedOut: true, error: 'timeout after 100 ms' });
      // A worker already stopping starts nothing.
      const stopped = new AbortController();
      stopped.abort();
      expect(await attemptDelivery(target, claimed(9003), { timeoutMs: 5000, shutdown: stopped.signal, now: Date.now })).toBeUndefined();
    } finally {
      hang.closeAllConnections();
      await new Promise<void>((r) => hang.close(() => r()));
    }
  });
});
