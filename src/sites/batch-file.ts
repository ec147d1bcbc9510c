import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import type { ErrorCode } from '../domain/errors.ts';
import { type SiteEventInput, SITE_EVENT_FIELDS, validateSiteEvent } from './events.ts';
import type { IngestCounts } from './ingest.ts';

/**
 * Batch files of site events (CONTRACT §4): CSV with a header row, or JSON Lines, with the Site API's
 * fields. Read as a stream, line by line: a file of millions of lines never sits in memory. Events go
 * to a sink in chunks, each chunk committed on its own, so a crash loses at most the chunk in flight
 * (and eventId dedupe makes replaying it harmless).
 */

/** The file as a whole is unusable (unreadable, or a CSV header naming unknown columns). */
export class BatchFileError extends Error {}

export type FileFormat = 'csv' | 'jsonl';

export interface FileRecord {
  /** 1-based physical line where the record starts. */
  line: number;
  /** Last physical line of the record (a quoted CSV cell may span lines). */
  endLine: number;
  value?: unknown;
  /** Set when the line cannot be parsed at all. */
  parseError?: string;
}

export interface RejectedLine {
  line: number;
  errorCode: ErrorCode;
  error: string;
}

export interface ImportSummary extends IngestCounts {
  rejected: RejectedLine[];
  /** Rejected lines counted (the list may be capped). */
  rejectedCount: number;
  /** Last physical line processed. */
  lines: number;
}

/** `.csv` is CSV; `.jsonl`/`.ndjson`/`.json` are JSON Lines; otherwise the first character decides. */
export async function detectFormat(path: string): Promise<FileFormat> {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  const fh = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(4096), 0, 4096, 0);
    const head = buffer.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '').trimStart();
    return head.startsWith('{') ? 'jsonl' : 'csv';
  } finally {
    await fh.close();
  }
}

/**
 * Splits one CSV record (RFC 4180: fields may be quoted, a quote inside a quoted field is doubled).
 * Returns undefined while a quoted field is still open at the end of the text.
 */
export function parseCsvRecord(text: string): string[] | undefined {
  // Most lines quote nothing: a plain split is several times faster than the character walk below.
  if (!text.includes('"')) return text.split(',').map((f) => f.trim());
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  if (quoted) return undefined;
  fields.push(field.trim());
  return fields.map((f) => f.trim());
}

/** Records of the file, one at a time. `onBytes` reports how far into the file reading has come. */
export async function* readRecords(path: string, format: FileFormat, onBytes?: (bytes: number) => void): AsyncGenerator<FileRecord> {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 256 * 1024 });
  let bytes = 0;
  if (onBytes) {
    stream.on('data', (chunk) => {
      bytes += Buffer.byteLength(chunk as string);
      onBytes(bytes);
    });
  }
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  let header: string[] | undefined;
  let pending: { text: string; line: number } | undefined;
  try {
    for await (const rawLine of lines) {
      lineNo++;
      const line = lineNo === 1 ? rawLine.replace(/^\uFEFF/, '') : rawLine;
      if (format === 'jsonl') {
        if (line.trim() === '') continue;
        try {
          yield { line: lineNo, endLine: lineNo, value: JSON.parse(line) };
        } catch {
          yield { line: lineNo, endLine: lineNo, parseError: 'line: is not valid JSON' };
        }
        continue;
      }
      const text = pending ? `${pending.text}\n${line}` : line;
      const start = pending?.line ?? lineNo;
      if (!pending && text.trim() === '') continue;
      const fields = parseCsvRecord(text);
      if (!fields) {
        pending = { text, line: start };
        continue;
      }
      pending = undefined;
      if (!header) {
        header = fields;
        const unknown = header.filter((h) => !(SITE_EVENT_FIELDS as readonly string[]).includes(h));
        if (unknown.length > 0) throw new BatchFileError(`CSV header: unknown column(s) ${unknown.join(', ')}; expected ${SITE_EVENT_FIELDS.join(', ')}`);
        continue;
      }
      if (fields.length !== header.length) {
        yield { line: start, endLine: lineNo, parseError: `line: has ${fields.length} fields, the header has ${header.length}` };
        continue;
      }
      const value: Record<string, string> = {};
      header.forEach((h, i) => {
        if (fields[i] !== '') value[h] = fields[i];
      });
      yield { line: start, endLine: lineNo, value };
    }
    if (pending) yield { line: pending.line, endLine: lineNo, parseError: 'line: a quoted field is never closed' };
  } finally {
    lines.close();
    stream.destroy();
  }
}

/** Where a chunk of good events goes: the store directly, or a running hub's Site API. */
export type EventSink = (
  events: SiteEventInput[],
  /** `lines[i]` is the line of `events[i]`; a sink may add to `rejected` (events its target refused). */
  chunk: { rejected: RejectedLine[]; endLine: number; lines: number[] },
) => Promise<IngestCounts>;

/**
 * Reads the file, validates each record, and hands the sink chunks of `chunkLines` records. Records
 * ending at or before `skipThroughLine` are skipped (resuming a file after a crash).
 */
export async function importFile(
  path: string,
  sink: EventSink,
  opts: { chunkLines?: number; skipThroughLine?: number; keepRejected?: number; onBytes?: (bytes: number) => void; onChunk?: (s: ImportSummary) => void } = {},
): Promise<ImportSummary> {
  const chunkLines = opts.chunkLines ?? 1000;
  const keep = opts.keepRejected ?? Number.POSITIVE_INFINITY;
  const format = await detectFormat(path);
  const summary: ImportSummary = { accepted: 0, duplicates: 0, rejected: [], rejectedCount: 0, lines: opts.skipThroughLine ?? 0 };
  let events: SiteEventInput[] = [];
  let eventLines: number[] = [];
  let rejected: RejectedLine[] = [];
  let records = 0;
  let endLine = summary.lines;
  const flush = async () => {
    if (records === 0) return;
    const counts = await sink(events, { rejected, endLine, lines: eventLines });
    summary.accepted += counts.accepted;
    summary.duplicates += counts.duplicates;
    for (const r of rejected) if (summary.rejected.length < keep) summary.rejected.push(r);
    summary.rejectedCount += rejected.length;
    summary.lines = endLine;
    events = [];
    eventLines = [];
    rejected = [];
    records = 0;
    opts.onChunk?.(summary);
  };
  const now = Date.now();
  for await (const rec of readRecords(path, format, opts.onBytes)) {
    if (rec.endLine <= (opts.skipThroughLine ?? 0)) continue;
    records++;
    endLine = rec.endLine;
    if (rec.parseError) rejected.push({ line: rec.line, errorCode: 'FIELD_INVALID_FORMAT', error: rec.parseError });
    else {
      const checked = validateSiteEvent(rec.value, now);
      if (checked.ok) {
        events.push(checked.value);
        eventLines.push(rec.line);
      } else rejected.push({ line: rec.line, errorCode: checked.errorCode, error: checked.error });
    }
    if (records >= chunkLines) await flush();
  }
  await flush();
  return summary;
}
