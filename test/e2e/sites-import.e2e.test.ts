import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/db.ts';
import { livePostmaster, stopEmbeddedServer } from '../../src/store/embedded.ts';
import { freePort, runCli, stop, waitReady } from '../helpers/processes.ts';
import { tempDir } from '../helpers/stores.ts';
import { cli, writeCsv } from './site-files.ts';

const ADMIN = 'e2e-admin-token-0123456789abcdef';

describe('trackhub sites import (CLI, embedded store)', () => {
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = tempDir('trackhub-import');
    env = { TRACKHUB_DATABASE_URL: `embedded://${dir}/pg`, TRACKHUB_LOG_LEVEL: 'warn' };
    const added = await cli(['sites', 'add', 'SITE-IMP', '--name', 'Import bureau', '--carriers', 'fedex'], env);
    expect(added.code).toBe(0);
    expect(added.out).toMatch(/"apiKey": "sk_/);
    // A command that started the embedded server for itself stops it when done.
    expect(livePostmaster(join(dir, 'pg'))).toBeUndefined();
  });
  afterAll(async () => {
    await stopEmbeddedServer(join(dir, 'pg'));
    rmSync(dir, { recursive: true, force: true });
  });

  // Two 100,000-line imports: about 25 s on a quiet machine; the timeout leaves room for a busy CI box.
  it('imports a 100,000-line CSV with 1 % bad lines, reports each bad line, and a second run adds nothing', { timeout: 240_000 }, async () => {
    const file = join(dir, 'events.csv');
    const bad = writeCsv(file, 100_000, 'csv');
    const first = await cli(['sites', 'import', '--site', 'SITE-IMP', file, '--json'], env);
    // Rejected lines make the exit code 1, the good ones imported all the same; the header is not a line.
    expect(first.code, first.out).toBe(1);
    expect(first.json).toMatchObject({ lines: 100_000, lastLine: 100_001, accepted: 99_000, duplicates: 0, rejectedCount: 1000 });
    const report = JSON.parse(readFileSync(first.json?.reportFile as string, 'utf8'));
    expect(report.rejected.map((r: { line: number }) => r.line)).toEqual(bad);
    expect(new Set(report.rejected.map((r: { error: string }) => r.error.split(':')[0]))).toEqual(new Set(['type', 'cardId', 'occurredAt', 'line', 'carrier']));

    const second = await cli(['sites', 'import', '--site', 'SITE-IMP', file, '--json'], env);
    expect(second.json).toMatchObject({ accepted: 0, duplicates: 99_000, rejectedCount: 1000 });

    const store = await openStore(env.TRACKHUB_DATABASE_URL);
    const rows = await sql<{ n: number; reasons: number }>`
      select count(*)::int as n, count(*) filter (where reason = 'posted, "first" class')::int as reasons from site_events where site_id = 'SITE-IMP'`.execute(store.db);
    await store.close();
    expect(rows.rows[0].n).toBe(99_000);
    expect(rows.rows[0].reasons).toBe(33_000); // quoted commas and doubled quotes survive
  });

  it('imports JSON Lines, detected by content, bad JSON lines rejected alone', async () => {
    const file = join(dir, 'events.data');
    const lines: string[] = [];
    for (let i = 0; i < 2000; i++) {
      if (i % 100 === 5) lines.push('{"eventId": "broken');
      else lines.push(JSON.stringify({ eventId: `jl-${i}`, issuerId: 'BANK000001', cardId: `jcard-${i}`, type: 'CARD_SHIPPED', occurredAt: '2026-05-01T10:00:00+02:00' }));
      if (i % 500 === 0) lines.push('');
    }
    writeFileSync(file, lines.join('\n'));
    const run = await cli(['sites', 'import', '--site', 'SITE-IMP', file, '--json'], env);
    expect(run.code).toBe(1);
    // Blank lines are not counted as lines read; rejected lines keep their line number in the file.
    expect(run.json).toMatchObject({ lines: 2000, accepted: 1980, duplicates: 0, rejectedCount: 20 });
    expect((run.json?.rejected as { error: string }[] | undefined)?.[0]?.error).toBe('line: is not valid JSON');
  });

  it('sites add: refuses . and .. as ids and a key another site holds; --rotate-key prints a new key; carriers are kept', async () => {
    for (const id of ['.', '..']) {
      const dots = await cli(['sites', 'add', id, '--name', 'dots'], env);
      expect(dots.code).toBe(2);
      expect(dots.out).toMatch(/siteId must be .*not starting with a dot/);
    }
    const key = 'sk_cli_shared_key_0123456789ab';
    expect((await cli(['sites', 'add', 'CLI-A', '--name', 'A', '--api-key', key], env)).code).toBe(0);
    const taken = await cli(['sites', 'add', 'CLI-B', '--name', 'B', '--api-key', key], env);
    expect(taken.code).toBe(2);
    expect(taken.out.trim()).toBe('trackhub: --api-key is already the key of another production site');
    const rotated = await cli(['sites', 'add', 'SITE-IMP', '--name', 'Import bureau', '--rotate-key'], env);
    expect(rotated.code).toBe(0);
    expect(rotated.out).toMatch(/"apiKey": "sk_/);
    expect(rotated.out).toMatch(/"carriers": \[\s*"fedex"\s*\]/);
  });

  it('fails clearly on an unknown site, a missing file and an unknown CSV column', async () => {
    const file = join(dir, 'cols.csv');
    writeFileSync(file, 'eventId,colour\n1,red\n');
    const unknownSite = await cli(['sites', 'import', '--site', 'NOPE', file], env);
    expect(unknownSite.code).toBe(2);
    expect(unknownSite.out).toMatch(/no production site NOPE/);
    expect((await cli(['sites', 'import', '--site', 'SITE-IMP', join(dir, 'missing.csv')], env)).code).toBe(2);
    const badHeader = await cli(['sites', 'import', '--site', 'SITE-IMP', file], env);
    expect(badHeader.code).toBe(2);
    expect(badHeader.out).toMatch(/unknown column\(s\) colour/);
    writeFileSync(file, 'eventId,issuerId,type,type\n1,BANK000001,CARD_SHIPPED,CARD_SHIPPED\n');
    const repeated = await cli(['sites', 'import', '--site', 'SITE-IMP', file], env);
    expect(repeated.code).toBe(2);
    expect(repeated.out.trim()).toBe(`trackhub: ${file}: CSV header: column(s) type named more than once`);
    writeFileSync(file, 'eventId,issuerId,type\n1,BANK000001,CARD_SHIPPED\n');
    const missing = await cli(['sites', 'import', '--site', 'SITE-IMP', file], env);
    expect(missing.code).toBe(2);
    expect(missing.out).toMatch(/^trackhub: .*cols\.csv: CSV header: required column\(s\) cardId, occurredAt missing; expected .*\n$/);
    writeFileSync(file, 'eventId,issuerId,cardId,type,occurredAt\n');
    const headerOnly = await cli(['sites', 'import', '--site', 'SITE-IMP', file, '--json'], env);
    expect(headerOnly.code, headerOnly.out).toBe(0);
    expect(headerOnly.json).toMatchObject({ lines: 0, lastLine: 0, accepted: 0, duplicates: 0, rejectedCount: 0 });
  });

  it('imports directly while a hub runs on the same embedded store (through its server), and through the hub with --url', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const hub = runCli(['serve'], { ...env, TRACKHUB_PORT: String(port), TRACKHUB_ADMIN_TOKEN: ADMIN, TRACKHUB_ROLE: 'api' });
    try {
      await waitReady(`http://127.0.0.1:${port}`, hub);
      const file = join(dir, 'small.csv');
      writeCsv(file, 2500, 'url');
      const direct = await cli(['sites', 'import', '--site', 'SITE-IMP', file, '--json'], env);
      expect(direct.code, direct.out).toBe(1);
      expect(direct.json).toMatchObject({ accepted: 2475, duplicates: 0, rejectedCount: 25 });
      // The command used the hub's server and left it running for the hub.
      expect(livePostmaster(join(dir, 'pg'))?.status).toBe('ready');
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      const put = await fetch(`http://127.0.0.1:${port}/admin/v1/production-sites/SITE-IMP`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Import bureau', apiKey: 'sk_test_key_for_url_import_0001' }),
      });
      expect(put.status).toBe(200);
      const viaHub = await cli(['sites', 'import', '--site', 'SITE-IMP', file, '--url', `http://127.0.0.1:${port}`, '--json'], { ...env, TRACKHUB_SITE_API_KEY: 'sk_test_key_for_url_import_0001' });
      expect(viaHub.code, viaHub.out).toBe(1);
      expect(viaHub.json).toMatchObject({ accepted: 0, duplicates: 2475, rejectedCount: 25 });
    } finally {
      await stop(hub);
    }
  });
});

