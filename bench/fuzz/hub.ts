/**
 * The hub under test: `trackhub serve --sandbox` on an embedded store in a temporary folder, its RSS,
 * and its heap after a full collection (through the inspector it is started with, on loopback only).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'undici';
import { stopEmbeddedServer } from '../../src/store/embedded.ts';
import { freePort, type Proc, runCli, stop, waitReady } from '../../test/helpers/processes.ts';

export interface FuzzHub {
  url: string;
  adminToken: string;
  pid: number;
  /** Secrets the hub checks carrier pushes with, by provider: the fuzzer signs some pushes with them. */
  webhookSecrets: Record<string, string>;
  output: () => string;
  /** Runs a full garbage collection in the hub, then reads its heap in use and its RSS. */
  afterFullGc: () => Promise<{ heapUsedBytes: number; rssBytes: number | undefined }>;
  stop: () => Promise<void>;
}

export async function startHub(): Promise<FuzzHub> {
  const dir = mkdtempSync(join(process.env.TRACKHUB_TEST_TMP ?? tmpdir(), 'trackhub-fuzz-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const adminToken = `fuzz-admin-${randomBytes(16).toString('hex')}`;
  const webhookSecrets = Object.fromEntries(['ups', 'fedex', 'dhl', 'aftership'].map((p) => [p, `fuzz-${p}-${randomBytes(12).toString('hex')}`]));
  let proc: Proc | undefined = runCli(['serve', '--sandbox'], {
    TRACKHUB_DATABASE_URL: `embedded://${dir}/pg`,
    TRACKHUB_HOST: '127.0.0.1',
    TRACKHUB_PORT: String(port),
    TRACKHUB_ADMIN_TOKEN: adminToken,
    TRACKHUB_LOG_LEVEL: 'error',
    // The fuzzer's own credentials must not run into the hub's request budgets: a 429 is a valid answer,
    // but one to every request would leave the code behind the limits unreached.
    TRACKHUB_ISSUER_RATE_LIMIT: '1000000',
    TRACKHUB_SITE_RATE_LIMIT: '100000000/1s',
    TRACKHUB_TOKEN_RATE_LIMIT_IP: '1000000/1s',
    TRACKHUB_TOKEN_RATE_LIMIT_ISSUER: '1000000/1s',
    // Its wrong admin tokens would otherwise lock its own address out of the Admin API after 10.
    TRACKHUB_ADMIN_AUTH_FAILURES: '1000000/1s',
    ...Object.fromEntries(Object.entries(webhookSecrets).map(([p, s]) => [`TRACKHUB_CARRIER_${p.toUpperCase()}_WEBHOOK_SECRET`, s])),
  }, ['--inspect=127.0.0.1:0']);
  const cleanup = async () => {
    await stop(proc);
    proc = undefined;
    await stopEmbeddedServer(join(dir, 'pg')).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(url, proc);
  } catch (err) {
    await cleanup();
    throw err;
  }
  const started = proc;
  const pid = started.child.pid as number;
  const inspectorUrl = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)/.exec(started.output())?.[1];
  let inspector: Promise<Inspector> | undefined;
  const afterFullGc = async () => {
    if (!inspectorUrl) throw new Error('the hub did not open its inspector');
    inspector ??= openInspector(inspectorUrl);
    const session = await inspector;
    await session.call('HeapProfiler.collectGarbage');
    const usage = (await session.call('Runtime.getHeapUsage')) as { usedSize: number };
    return { heapUsedBytes: usage.usedSize, rssBytes: rssOf(pid) };
  };
  const stopAll = async () => {
    if (inspector) (await inspector.catch(() => undefined))?.close();
    await cleanup();
  };
  return { url, adminToken, pid, webhookSecrets, output: () => started.output(), afterFullGc, stop: stopAll };
}

interface Inspector {
  call: (method: string) => Promise<unknown>;
  close: () => void;
}

/** A Chrome DevTools Protocol session with the hub (its `--inspect` WebSocket): one call at a time is all the fuzzer makes. */
function openInspector(url: string): Promise<Inspector> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
    let nextId = 1;
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
      const call = message.id === undefined ? undefined : waiting.get(message.id);
      if (!call) return;
      waiting.delete(message.id as number);
      if (message.error) call.reject(new Error(message.error.message));
      else call.resolve(message.result);
    });
    socket.addEventListener('error', () => reject(new Error(`cannot reach the hub's inspector at ${url}`)));
    socket.addEventListener('open', () =>
      resolve({
        call: (method) =>
          new Promise((res, rej) => {
            const id = nextId++;
            waiting.set(id, { resolve: res, reject: rej });
            socket.send(JSON.stringify({ id, method }));
          }),
        close: () => socket.close(),
      }),
    );
  });
}

/** Resident set size of a process in bytes, from /proc (undefined where there is no /proc). */
export function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
