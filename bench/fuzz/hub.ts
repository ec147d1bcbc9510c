/** The hub under test: `trackhub serve --sandbox` on an embedded store in a temporary folder, and its RSS. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopEmbeddedServer } from '../../src/store/embedded.ts';
import { freePort, type Proc, runCli, stop, waitReady } from '../../test/helpers/processes.ts';

export interface FuzzHub {
  url: string;
  adminToken: string;
  pid: number;
  /** Secrets the hub checks carrier pushes with, by provider: the fuzzer signs some pushes with them. */
  webhookSecrets: Record<string, string>;
  output: () => string;
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
  });
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
  return { url, adminToken, pid: started.child.pid as number, webhookSecrets, output: () => started.output(), stop: cleanup };
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
