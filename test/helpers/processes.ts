import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { TEST_SECRET_KEY } from './stores.ts';

const BIN = join(import.meta.dirname, '../../bin/trackhub.js');

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
}

/** Runs the real CLI in a child process; its output is kept for failure messages. */
export function runCli(args: string[], env: Record<string, string>, extraNodeArgs: string[] = []): Proc {
  const nodeArgs = [...(process.env.TRACKHUB_CHILD_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...extraNodeArgs];
  // The master key of the stores this process opens (freshStore), so a child reads what the test wrote;
  // a test of the key itself passes its own TRACKHUB_SECRET_KEY (or '' for none).
  const withKey = { TRACKHUB_SECRET_KEY: TEST_SECRET_KEY.toBase64(), ...env };
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], { env: { ...process.env, ...withKey }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  return { child, output: () => out };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export async function waitReady(url: string, proc?: Proc): Promise<void> {
  await waitFor(`${url}/readyz (${proc?.output().slice(-2000) ?? ''})`, async () => (await fetch(`${url}/readyz`)).ok || undefined, 60_000, 200);
}

export async function stop(proc: Proc | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const exited = new Promise((r) => proc.child.once('exit', r));
  proc.child.kill(signal);
  await exited;
}

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A real HTTP receiver standing in for an issuer back-end. `respond` decides each answer. */
export async function receiver(respond: (r: Received, n: number) => Promise<number> | number = () => 204) {
  const received: Received[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      const status = await respond(r, n++);
      if (status >= 200 && status < 300) received.push(r);
      if (!res.destroyed) res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
