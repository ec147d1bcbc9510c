import { connect, type Socket } from 'node:net';
import { register } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type TestApp, testApp } from './helpers/app.ts';
import { waitFor } from './helpers/processes.ts';
import { STORE_KINDS } from './helpers/stores.ts';

/** A raw client socket that records what it receives and when it was closed. */
class RawClient {
  readonly socket: Socket;
  received = '';
  closed = false;
  readonly openedAt = performance.now();
  closedAfterMs = Number.NaN;

  private constructor(port: number, localAddress?: string) {
    this.socket = connect({ port, host: '127.0.0.1', localAddress });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => {
      this.received += d;
    });
    this.socket.on('error', () => {}); // a refused connection may be reset; 'close' follows
    this.socket.on('close', () => {
      this.closed = true;
      this.closedAfterMs = performance.now() - this.openedAt;
    });
  }

  /** `localAddress`: another loopback address (127.0.0.2…) to connect from, as another client would. */
  static async open(port: number, localAddress?: string): Promise<RawClient> {
    const c = new RawClient(port, localAddress);
    await new Promise<void>((resolve) => {
      c.socket.once('connect', () => resolve());
      c.socket.once('close', () => resolve());
    });
    return c;
  }

  /** Sends a keep-alive GET /healthz and waits for its answer (the status line). */
  async healthz(): Promise<string> {
    const before = this.received.length;
    this.socket.write('GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n');
    await waitFor('an answer', () => (this.closed || /\r\n\r\n/.test(this.received.slice(before)) ? true : undefined), 20_000, 10);
    return this.received.slice(before).split('\r\n')[0];
  }

  async waitClosed(): Promise<void> {
    await waitFor('the hub to close the socket', () => (this.closed ? true : undefined), 20_000, 10);
  }
}

describe.each(STORE_KINDS)('HTTP connection limits on %s', (kind) => {
  let t: TestApp | undefined;
  const clients: RawClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    await t?.close();
    t = undefined;
  });

  /** trackhub_connections_refused_total{cap} as /metrics shows it (one registry per process). */
  async function refusedCount(cap: 'global' | 'per_address'): Promise<number> {
    const metric = await register.getSingleMetric('trackhub_connections_refused_total')?.get();
    return metric?.values.find((v) => v.labels.cap === cap)?.value ?? 0;
  }

  async function listening(env: Record<string, string>): Promise<number> {
    t = await testApp(kind, env);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    return (t.app.server.address() as { port: number }).port;
  }
  const open = async (port: number, localAddress?: string) => {
    const c = await RawClient.open(port, localAddress);
    clients.push(c);
    return c;
  };

  it('closes sockets that send nothing after the idle timeout, and one that sends its headers too slowly after the headers timeout', async () => {
    const port = await listening({ TRACKHUB_IDLE_TIMEOUT: '300ms', TRACKHUB_HEADERS_TIMEOUT: '500ms', TRACKHUB_REQUEST_TIMEOUT: '5s' });
    const silent = await Promise.all(Array.from({ length: 50 }, () => open(port)));
    // A slow sender: a header line every 100 ms is never idle, but never finishes its headers either.
    const slow = await open(port);
    slow.socket.write('GET /healthz HTTP/1.1\r\nHost: hub\r\n');
    const drip = setInterval(() => slow.closed || slow.socket.write('x-drip: 1\r\n'), 100);
    // A client that keeps asking is served throughout, well past the idle timeout.
    const busy = await open(port);
    const answers: string[] = [];
    try {
      // Until all are closed, with a ceiling that only bounds a hang (the waits below then fail).
      const ceiling = performance.now() + 20_000;
      while ((!silent.every((c) => c.closed) || !slow.closed) && performance.now() < ceiling) answers.push(await busy.healthz());
    } finally {
      clearInterval(drip);
    }
    await Promise.all([...silent, slow].map((c) => c.waitClosed()));
    expect(silent.every((c) => c.received === '')).toBe(true);
    // Closed by the timeout, not at once: a timer never fires early.
    expect(Math.min(...silent.map((c) => c.closedAfterMs))).toBeGreaterThanOrEqual(290);
    expect(slow.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(slow.closedAfterMs).toBeGreaterThanOrEqual(490);
    expect(answers.length).toBeGreaterThan(0);
    expect(new Set(answers)).toEqual(new Set(['HTTP/1.1 200 OK']));
    expect(busy.closed).toBe(false);
    console.log(
      `[limits] idle timeout 300 ms: 50 silent sockets closed after ${Math.round(Math.min(...silent.map((c) => c.closedAfterMs)))}–${Math.round(Math.max(...silent.map((c) => c.closedAfterMs)))} ms; ` +
        `headers timeout 500 ms: the slow sender got 408 after ${Math.round(slow.closedAfterMs)} ms; a busy client got ${answers.length} answers meanwhile`,
    );
  });

  it('refuses connections beyond the cap while those open are served, and takes new ones once a slot is free', async () => {
    const port = await listening({ TRACKHUB_MAX_CONNECTIONS: '5' });
    const held = await Promise.all(Array.from({ length: 5 }, () => open(port)));
    for (const c of held) expect(await c.healthz()).toBe('HTTP/1.1 200 OK');
    const before = await refusedCount('global');
    const refused = await open(port);
    await refused.waitClosed();
    expect(refused.received).toBe('');
    // Closed unanswered, so counted where the operator looks (and logged, once a minute).
    expect(await refusedCount('global')).toBe(before + 1);
    // The five are still served.
    for (const c of held) expect(await c.healthz()).toBe('HTTP/1.1 200 OK');
    held[0].socket.destroy();
    await held[0].waitClosed();
    // Once the hub has seen that one go, a new connection is taken and served.
    const next = await waitFor(
      'a free slot',
      async () => {
        const c = await open(port);
        const answer = c.closed ? '' : await c.healthz();
        return answer === 'HTTP/1.1 200 OK' ? c : undefined;
      },
      20_000,
      50,
    );
    expect(next.closed).toBe(false);
  });

  it('holds one client address to its own cap, so its idle sockets cannot shut another client out', async () => {
    const port = await listening({ TRACKHUB_MAX_CONNECTIONS: '10', TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS: '3' });
    const hoarder = await Promise.all(Array.from({ length: 3 }, () => open(port, '127.0.0.2')));
    for (const c of hoarder) expect(await c.healthz()).toBe('HTTP/1.1 200 OK');
    const before = await refusedCount('per_address');
    const fourth = await open(port, '127.0.0.2');
    await fourth.waitClosed();
    expect(fourth.received).toBe('');
    expect(await refusedCount('per_address')).toBe(before + 1);
    // Another client is served, with slots of its own.
    const other = await Promise.all(Array.from({ length: 3 }, () => open(port, '127.0.0.3')));
    for (const c of other) expect(await c.healthz()).toBe('HTTP/1.1 200 OK');
    // A slot freed is the same client's again.
    hoarder[0].socket.destroy();
    await hoarder[0].waitClosed();
    const again = await waitFor('a free slot for 127.0.0.2', async () => {
      const c = await open(port, '127.0.0.2');
      const answer = c.closed ? '' : await c.healthz();
      return answer === 'HTTP/1.1 200 OK' ? c : undefined;
    }, 20_000, 50);
    expect(again.closed).toBe(false);
  });

  it('exempts trusted proxies from the per-address cap (they carry many clients)', async () => {
    const port = await listening({ TRACKHUB_MAX_CONNECTIONS_PER_ADDRESS: '2', TRACKHUB_TRUSTED_PROXIES: '127.0.0.4' });
    const viaProxy = await Promise.all(Array.from({ length: 4 }, () => open(port, '127.0.0.4')));
    for (const c of viaProxy) expect(await c.healthz()).toBe('HTTP/1.1 200 OK');
    // A client that is no proxy still has its cap of 2.
    for (const c of [await open(port, '127.0.0.5'), await open(port, '127.0.0.5')]) expect(await c.healthz()).toBe('HTTP/1.1 200 OK');
    const third = await open(port, '127.0.0.5');
    await third.waitClosed();
    expect(third.received).toBe('');
  });

  it('frees the slots that silent sockets hold once the idle timeout closes them', async () => {
    const port = await listening({ TRACKHUB_MAX_CONNECTIONS: '5', TRACKHUB_IDLE_TIMEOUT: '300ms' });
    const silent = await Promise.all(Array.from({ length: 5 }, () => open(port)));
    await Promise.all(silent.map((c) => c.waitClosed()));
    expect(silent.every((c) => c.received === '')).toBe(true);
    const served = await open(port);
    expect(await served.healthz()).toBe('HTTP/1.1 200 OK');
  });
});
