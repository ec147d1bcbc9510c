import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectFormat, importFile, parseCsvRecord } from './batch-file.ts';

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
