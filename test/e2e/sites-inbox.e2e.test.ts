import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/db.ts';
import { freePort, type Proc, runCli, stop, waitFor, waitReady } from '../helpers/processes.ts';
import { childProcessStore, STORE_KINDS } from '../helpers/stores.ts';
import { writeCsv } from './site-files.ts';

const ADMIN = 'e2e-admin-token-0123456789abcdef';

describe.each(STORE_KINDS)('site inbox on %s', (kind) => {
  let hub: Proc | undefined;
  let env: Record<string, string>;
  let dataDir: string;
  let hubUrl: string;
  let databaseUrl: string;
  let cleanup: () => Promise<void> = async () => {};
  const inbox = () => join(dataDir, 'inbox', 'SITE-INBOX');

  const start = async () => {
    hub = runCli(['serve'], env);
    await waitReady(hubUrl, hub);
  };

  beforeAll(async () => {
    const store = await childProcessStore(kind, 'trackhub-inbox');
    dataDir = store.dir;
    databaseUrl = store.url;
    cleanup = store.cleanup;
    const port = await freePort();
    hubUrl = `http://127.0.0.1:${port}`;
    env = {
      TRACKHUB_DATABASE_URL: databaseUrl,
      TRACKHUB_DATA_DIR: dataDir,
      TRACKHUB_PORT: String(port),
      TRACKHUB_ADMIN_TOKEN: ADMIN,
      TRACKHUB_INBOX_SCAN_INTERVAL: '250ms',
      TRACKHUB_INBOX_SETTLE: '1s',
      TRACKHUB_LEASE: '2s',
      TRACKHUB_LOG_LEVEL: 'info',
    };
    await start();
    const put = await fetch(`${hubUrl}/admin/v1/production-sites/SITE-INBOX`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Inbox bureau' }),
    });
    expect(put.status).toBe(201);
    await waitFor('inbox folder', () => existsSync(join(inbox(), 'processing')) || undefined);
  });

  afterAll(async () => {
    await stop(hub);
    await cleanup();
  });

  // A file in done/ or rejected/ has its complete report beside it (the report is written first).
  const reportOf = (folder: 'done' | 'rejected', name: string, timeoutMs = 60_000) =>
    waitFor(`${folder}/${name}`, () => {
      const path = join(inbox(), folder, name);
      return existsSync(path) ? JSON.parse(readFileSync(`${path}.report.json`, 'utf8')) : undefined;
    }, timeoutMs, 200);

  it('a file killed mid-way resumes after a restart without double counting', { timeout: 180_000 }, async () => {
    const staging = join(dataDir, 'big.csv');
    const bad = writeCsv(staging, 100_000, `inbox-${kind}`);
    renameSync(staging, join(inbox(), 'big.csv'));
    // Killed as soon as the store shows the first chunk committed (1 000 of 100 000 lines): mid-way by
    // what the hub has written, not by how long it has run. The embedded server is shared with the hub
    // while it runs (this process uses it as a command would).
    await waitFor('the file claimed', () => existsSync(join(inbox(), 'processing', 'big.csv')) || undefined, 60_000, 50);
    const store = await openStore(databaseUrl);
    const linesDone = async () => (await sql<{ lines_done: number }>`select lines_done from inbox_files where name = 'big.csv'`.execute(store.db)).rows[0]?.lines_done ?? 0;
    try {
      await waitFor('the first chunk committed', async () => (await linesDone()) >= 1000 || undefined, 60_000, 20);
      await stop(hub, 'SIGKILL');
      // The resume below is tested only if the kill did land mid-way: some lines stored, not all.
      const atKill = await linesDone();
      expect(atKill).toBeGreaterThanOrEqual(1000);
      expect(atKill).toBeLessThan(100_001);
    } finally {
      await store.close();
    }
    expect(existsSync(join(inbox(), 'done', 'big.csv'))).toBe(false);
    expect(existsSync(join(inbox(), 'processing', 'big.csv'))).toBe(true);
    await start();
    const report = await reportOf('done', 'big.csv', 90_000);
    expect(report).toMatchObject({ outcome: 'done', accepted: 99_000, duplicates: 0, rejectedCount: 1000, lines: 100_001 });
    expect(report.rejected.map((r: { line: number }) => r.line)).toEqual(bad);
    expect(hub?.output()).toMatch(/inbox file resumed/);
    expect(existsSync(join(inbox(), 'done', 'big.csv'))).toBe(true);
    expect(readdirSync(join(inbox(), 'processing'))).toEqual([]);
  });

  it('waits for a file still being written, ignores .tmp files, and rejects a file with nothing usable', async () => {
    writeFileSync(join(inbox(), 'upload.csv.tmp'), 'eventId,issuerId\n');
    const slow = join(inbox(), 'slow.csv');
    writeFileSync(slow, 'eventId,issuerId,cardId,type,occurredAt\n');
    // Lines keep arriving for longer than two scans: the file must not be read before it is whole.
    for (let i = 0; i < 12; i++) {
      appendFileSync(slow, `slow-${kind}-${i},BANK000001,slow-card-${i},CARD_SHIPPED,2026-05-01T10:00:00Z\n`);
      await new Promise((r) => setTimeout(r, 100));
    }
    writeFileSync(join(inbox(), 'garbage.csv'), 'this is not, a batch file\nat all\n');
    const slowReport = await reportOf('done', 'slow.csv');
    expect(slowReport).toMatchObject({ accepted: 12, duplicates: 0, rejectedCount: 0 });
    const garbage = await reportOf('rejected', 'garbage.csv');
    expect(garbage).toMatchObject({ outcome: 'rejected', accepted: 0 });
    expect(garbage.error).toMatch(/unknown column/);
    expect(existsSync(join(inbox(), 'upload.csv.tmp'))).toBe(true);

    // The same file dropped again is processed again: all duplicates, nothing counted twice.
    mkdirSync(join(dataDir, 'again'), { recursive: true });
    writeFileSync(join(dataDir, 'again', 'slow.csv'), readFileSync(join(inbox(), 'done', 'slow.csv')));
    renameSync(join(dataDir, 'again', 'slow.csv'), join(inbox(), 'slow.csv'));
    const again = await waitFor('second report', () => {
      const moved = readdirSync(join(inbox(), 'done')).filter((n) => n.endsWith('-slow.csv'));
      return moved.length ? JSON.parse(readFileSync(join(inbox(), 'done', `${moved[0]}.report.json`), 'utf8')) : undefined;
    }, 30_000, 200);
    expect(again).toMatchObject({ accepted: 0, duplicates: 12 });
  });
});
