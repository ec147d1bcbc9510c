/**
 * bench/deliver.ts's stand-in for the issuers' back-end, and the two baselines measured against it in
 * the same run: its ceiling (how many POSTs a second it takes from plain client processes that do only
 * what a worker's HTTP side does) and the floor of commit→receipt (a bare POST's round trip at the
 * same steady rate, with no store in between).
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Agent, request } from 'undici';

export interface Receiver {
  url: string;
  /** When each webhook-id first arrived (performance.timeOrigin + now, ms). */
  arrivals: Map<string, number>;
  close: () => Promise<void>;
}

/** The issuers' back-end: answers 204 and notes when each webhook-id first arrived. */
export async function receiver(): Promise<Receiver> {
  const arrivals = new Map<string, number>();
  const server = createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      if (!arrivals.has(id)) arrivals.set(id, performance.timeOrigin + performance.now());
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * The receiver's ceiling: `count` POSTs from `clients` processes (bench/lib/deliver-client.ts), each over
 * `connections` keep-alive connections as a worker uses (64 per issuer, 4 issuers); POSTs/s from the
 * first arrival to the last.
 */
export async function receiverCeiling(count: number, clients: number, connections: number): Promise<number> {
  const rx = await receiver();
  try {
    const script = join(import.meta.dirname, 'deliver-client.ts');
    const each = Math.ceil(count / clients);
    await Promise.all(
      Array.from({ length: clients }, () => {
        const child = spawn(process.execPath, ['--import', 'tsx', script, `${rx.url}/ceiling`, String(each), String(connections)], { stdio: ['ignore', 'ignore', 'inherit'] });
        return new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`deliver-client exited ${code}`)))));
      }),
    );
    const times = [...rx.arrivals.values()];
    return Math.round(rx.arrivals.size / ((Math.max(...times) - Math.min(...times)) / 1000));
  } finally {
    await rx.close();
  }
}

/** A bare POST's round trip into the receiver at `rate`/s for `seconds` (from this process): p50/p99 ms. */
export async function barePostLatency(rate: number, seconds: number): Promise<{ p50: number; p99: number }> {
  const rx = await receiver();
  const agent = new Agent({ connections: 64 });
  const latencies: number[] = [];
  const sends: Promise<void>[] = [];
  try {
    const start = performance.now();
    for (let sent = 0; sent < rate * seconds; ) {
      await new Promise((r) => setTimeout(r, 10));
      const due = Math.min(rate * seconds, Math.floor(((performance.now() - start) / 1000) * rate));
      for (; sent < due; sent++) {
        const t = performance.now();
        sends.push(
          request(`${rx.url}/floor`, { method: 'POST', dispatcher: agent, headers: { 'webhook-id': `floor_${sent}` }, body: '{}' }).then(async (res) => {
            await res.body.dump();
            latencies.push(performance.now() - t);
          }),
        );
      }
    }
    await Promise.all(sends);
  } finally {
    await agent.close();
    await rx.close();
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return { p50: pct(50), p99: pct(99) };
}
