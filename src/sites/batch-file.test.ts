import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchFileError, detectFormat, endsQuoted, importFile, MAX_RECORD_LINES, parseCsvRecord } from './batch-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'trackhub-batch-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CSV records', () => {
  it('splits plain and quoted fields, doubled quotes included', () => {
    expect(parseCsvRecord('a, b ,c')).toEqual(['a', 'b', 'c']);
    expect(parseCsvRecord('a,"b, c","say ""hi"""')).toEqual(['a', 'b, c', 'say "hi"']);
    expect(parseCsvRecord('a,,')).toEqual(['a', '', '']);
    expect(parseCsvRecord('a,"open')).toBeUndefined();
  });

  it('reads a quoted cell spanning lines as one record, numbered by its first line', async () => {
    const file = join(dir, 'multi.csv');
    writeFileSync(
      file,
      'eventId,issuerId,cardId,type,occurredAt,reason\r\n' +
        'e1,BANK000001,c1,CARD_RETURNED,2026-05-01T10:00:00Z,"two\nlines"\r\n' +
        'e2,BANK000001,c2,CARD_SHIPPED,2026-05-01T10:00:00Z,\r\n',
    );
    const seen: { eventId: string; reason?: string }[] = [];
    const summary = await importFile(file, async (events) => {
      seen.push(...events);
      return { accepted: events.length, duplicates: 0 };
    });
    // A line break is a control character: not allowed in a reason, so e1 is rejected at its first line.
    expect(summary).toMatchObject({ accepted: 1, rejectedCount: 1, lines: 4 });
    expect(summary.rejected[0]).toMatchObject({ line: 2, errorCode: 'FIELD_INVALID_FORMAT' });
    expect(summary.rejected[0].error).toMatch(/^reason: /);
    expect(seen.map((e) => e.eventId)).toEqual(['e2']);
  });

  it('resumes after a given line and hands the sink chunks of the asked size', async () => {
    const file = join(dir, 'chunks.jsonl');
    const lines = Array.from({ length: 25 }, (_, i) => JSON.stringify({ eventId: `j${i}`, issuerId: 'BANK000001', cardId: `c${i}`, type: 'CARD_SHIPPED', occurredAt: '2026-05-01T10:00:00Z' }));
    writeFileSync(file, lines.join('\n'));
    const chunks: { size: number; endLine: number }[] = [];
    const summary = await importFile(
      file,
      async (events, chunk) => {
        chunks.push({ size: events.length, endLine: chunk.endLine });
        return { accepted: events.length, duplicates: 0 };
      },
      { chunkLines: 10, skipThroughLine: 5 },
    );
    expect(chunks).toEqual([
      { size: 10, endLine: 15 },
      { size: 10, endLine: 25 },
    ]);
    expect(summary).toMatchObject({ accepted: 20, lines: 25 });
  });

  it('detects the format by extension, else by the first character', async () => {
    writeFileSync(join(dir, 'x.txt'), '\n  {"eventId":"1"}\n');
    writeFileSync(join(dir, 'y.txt'), 'eventId,issuerId\n');
    expect(await detectFormat(join(dir, 'x.txt'))).toBe('jsonl');
    expect(await detectFormat(join(dir, 'y.txt'))).toBe('csv');
    expect(await detectFormat(join(dir, 'z.CSV'))).toBe('csv');
  });
});

const HEADER = 'eventId,issuerId,cardId,type,occurredAt,reason';
const row = (i: number) => `e${i},BANK000001,c${i},CARD_SHIPPED,2026-05-01T10:00:00Z,`;
const counting = async (events: unknown[]) => ({ accepted: events.length, duplicates: 0 });

describe('bounded records', () => {
  it('keeps quote state line by line exactly as parseCsvRecord sees it', () => {
    const alphabet = ['"', '"', ',', 'a', ' '];
    for (let n = 0; n < 3000; n++) {
      const len = 1 + (n % 9);
      let text = '';
      for (let i = 0; i < len; i++) text += alphabet[(n * 7 + i * 13 + ((n >> 3) ^ i)) % alphabet.length];
      const lines = text.split('\n');
      expect(endsQuoted(lines[0], false), text).toBe(parseCsvRecord(text) === undefined);
      // A record going on over a second line (its first line ends inside quotes), split at every point.
      for (let cut = 1; cut < text.length; cut++) {
        if (!endsQuoted(text.slice(0, cut), false)) continue;
        const joined = `${text.slice(0, cut)}\n${text.slice(cut)}`;
        expect(endsQuoted(text.slice(cut), true), joined).toBe(parseCsvRecord(joined) === undefined);
      }
    }
  });

  it('a stray quote near the top rejects its line alone; the 20,000 good lines after it are read', async () => {
    const file = join(dir, 'stray.csv');
    const lines = [HEADER, row(0), 'bad,BANK000001,"c-bad,CARD_SHIPPED,2026-05-01T10:00:00Z,'];
    for (let i = 1; i <= 20_000; i++) lines.push(row(i));
    writeFileSync(file, `${lines.join('\n')}\n`);
    const summary = await importFile(file, counting);
    expect(summary).toMatchObject({ accepted: 20_001, rejectedCount: 1, lines: 20_003 });
    expect(summary.rejected).toEqual([{ line: 3, errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringContaining(`not closed within ${MAX_RECORD_LINES} lines`) }]);
  });

  it('a quote still open at the end of the file rejects its first line; the lines after it are read again', async () => {
    const file = join(dir, 'open-end.csv');
    writeFileSync(file, [HEADER, row(1), 'bad,BANK000001,"c-bad,CARD_SHIPPED,2026-05-01T10:00:00Z,', row(2), row(3)].join('\n'));
    const summary = await importFile(file, counting);
    expect(summary).toMatchObject({ accepted: 3, rejectedCount: 1, lines: 5 });
    expect(summary.rejected).toEqual([{ line: 3, errorCode: 'FIELD_INVALID_FORMAT', error: 'line: a quoted field is never closed' }]);
  });

  it('a quoted cell over the size bound is rejected, and an overlong line too (CSV and JSON Lines)', async () => {
    const csv = join(dir, 'big-cell.csv');
    const big = 'x'.repeat(40_000);
    writeFileSync(csv, [HEADER, `e1,BANK000001,c1,CARD_SHIPPED,2026-05-01T10:00:00Z,"${big}`, big, `${big}"`, row(2), `${row(3)}${'y'.repeat(70_000)}`, row(4)].join('\n'));
    const s1 = await importFile(csv, counting);
    expect(s1.accepted).toBe(2);
    expect(s1.rejected.map((r) => r.line)).toEqual([2, 3, 4, 6]);
    expect(s1.rejected[0].error).toMatch(/not closed within/);
    expect(s1.rejected[3].error).toMatch(/^line: longer than/);
    const jsonl = join(dir, 'long.jsonl');
    const ev = (i: number, reason = '') => JSON.stringify({ eventId: `j${i}`, issuerId: 'BANK000001', cardId: `c${i}`, type: 'CARD_SHIPPED', occurredAt: '2026-05-01T10:00:00Z', ...(reason ? { reason } : {}) });
    writeFileSync(jsonl, [ev(1), ev(2, 'z'.repeat(100_000)), ev(3)].join('\n'));
    const s2 = await importFile(jsonl, counting);
    expect(s2).toMatchObject({ accepted: 2, rejectedCount: 1, rejected: [{ line: 2, errorCode: 'FIELD_INVALID_FORMAT', error: expect.stringMatching(/^line: longer than/) }] });
  });
});

describe('CSV header', () => {
  const run = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return importFile(file, counting);
  };

  it('missing required columns, repeated or unknown ones fail the whole file with one message', async () => {
    await expect(run('missing.csv', `eventId,issuerId,type\ne1,BANK000001,CARD_SHIPPED\n`)).rejects.toThrow(
      new BatchFileError('CSV header: required column(s) cardId, occurredAt missing; expected eventId, issuerId, cardId, type, occurredAt, carrier, trackingNumber, reason'),
    );
    await expect(run('repeated.csv', `${HEADER},cardId\n`)).rejects.toThrow(/^CSV header: column\(s\) cardId named more than once$/);
    await expect(run('hole.csv', `eventId,,issuerId,cardId,type,occurredAt\n`)).rejects.toThrow(/unknown column\(s\) \(empty\)/);
    await expect(run('unknown.csv', `${HEADER},colour\n`)).rejects.toThrow(BatchFileError);
  });

  it('ignores empty cells at the end of the header and of the rows', async () => {
    const summary = await run('trailing.csv', `${HEADER},,\n${row(1)},,\n${row(2)}\n${row(3)},x\n`);
    expect(summary).toMatchObject({ accepted: 2, rejectedCount: 1, rejected: [{ line: 4, error: 'line: has 7 fields, the header has 6' }] });
  });

  it('an empty or header-only file reads as 0 lines', async () => {
    expect(await run('empty.csv', '')).toMatchObject({ lines: 0, accepted: 0, rejectedCount: 0 });
    expect(await run('header-only.csv', `\uFEFF${HEADER}\r\n`)).toMatchObject({ lines: 0, accepted: 0, rejectedCount: 0 });
    expect(await run('empty.jsonl', '')).toMatchObject({ lines: 0, accepted: 0 });
  });
});

describe('import summary', () => {
  it('adds up what the sink counted, and lists at most keepRejected rejected lines while counting them all', async () => {
    const file = join(dir, 'summary.csv');
    const bad = (i: number) => `b${i},BANK000001,c${i},CARD_LOST,2026-05-01T10:00:00Z,`;
    writeFileSync(file, [HEADER, row(1), bad(2), row(3), bad(4), row(5), bad(6), row(7)].join('\n'));
    const summary = await importFile(file, async (events) => ({ accepted: events.length - 1, duplicates: 1 }), { chunkLines: 4, keepRejected: 2 });
    // Two chunks (4 records, then 3): each time one event was a duplicate.
    expect(summary).toMatchObject({ accepted: 2, duplicates: 2, rejectedCount: 3, lines: 8 });
    expect(summary.rejected.map((r) => r.line)).toEqual([3, 5]);
  });
});
