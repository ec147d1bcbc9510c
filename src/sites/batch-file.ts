import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { extname } from 'node:path';
import type { RejectedLine } from '../store/inbox-files.ts';
import { endsQuoted, parseCsvRecord } from './csv-record.ts';
import { SITE_EVENT_FIELDS, type SiteEventInput, validateSiteEvent } from './events.ts';
import type { IngestCounts } from './ingest.ts';

/**
 * Batch files of site events (docs/contract.md §4): CSV with a header row, or JSON Lines, with the Site API's
 * fields. Read as a stream, line by line: a file of millions of lines never sits in memory. Events go
 * to a sink in chunks, each chunk committed on its own, so a crash loses at most the chunk in flight
 * (and eventId dedupe makes replaying it harmless).
 */

/** The file as a whole is unusable (unreadable, or a CSV header with unknown, repeated or missing columns). */
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

/** A line refused, with why: the type lives with the inbox_files rows that keep such lines. */
export type { RejectedLine };
export { endsQuoted, parseCsvRecord };

export interface ImportSummary extends IngestCounts {
  rejected: RejectedLine[];
  /** Rejected lines counted (the list may be capped). */
  rejectedCount: number;
  /** Last physical line processed. */
  lines: number;
  /** Records read this run: a CSV's header and blank lines are not records. */
  records: number;
}

/**
 * `.csv` is CSV; `.jsonl`/`.ndjson`/`.json` are JSON Lines; otherwise the first character decides.
 * `handle`: the file already open (the inbox opens it without following links), read from its start.
 */
export async function detectFormat(path: string, handle?: FileHandle): Promise<FileFormat> {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  const fh = handle ?? (await open(path, 'r'));
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(4096), 0, 4096, 0);
    const head = buffer.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '').trimStart();
    return head.startsWith('{') ? 'jsonl' : 'csv';
  } finally {
    if (!handle) await fh.close();
  }
}

/**
 * Bounds on what one record may hold in memory. A quoted CSV field left open (a stray quote) would
 * otherwise swallow the rest of the file into one record: past either bound its first line is rejected
 * and reading restarts at the line after it. A longer physical line is rejected without being kept.
 */
export const MAX_RECORD_CHARS = 64 * 1024;
export const MAX_RECORD_LINES = 100;

interface PhysicalLine {
  no: number;
  text: string;
  /** Longer than MAX_RECORD_CHARS: its text was dropped while it streamed by. */
  overlong: boolean;
}

/** The lines of the stream (`\n` or `\r\n`), numbered from 1; the first loses a byte order mark. */
async function* physicalLines(stream: AsyncIterable<string>, onBytes?: (bytes: number) => void): AsyncGenerator<PhysicalLine> {
  let bytes = 0;
  let no = 0;
  let partial = '';
  let overlong = false;
  const line = (): PhysicalLine => {
    no++;
    let text = partial.endsWith('\r') ? partial.slice(0, -1) : partial;
    if (no === 1) text = text.replace(/^\uFEFF/, '');
    return { no, text: overlong ? '' : text, overlong };
  };
  for await (const chunk of stream) {
    const s = chunk as string;
    bytes += Buffer.byteLength(s);
    onBytes?.(bytes);
    for (let start = 0; ; ) {
      const nl = s.indexOf('\n', start);
      if (!overlong) {
        const piece = nl === -1 ? s.slice(start) : s.slice(start, nl);
        partial = partial === '' ? piece : partial + piece;
        // +1: room for a trailing \r
        if (partial.length > MAX_RECORD_CHARS + 1) {
          overlong = true;
          partial = '';
        }
      }
      if (nl === -1) break;
      yield line();
      partial = '';
      overlong = false;
      start = nl + 1;
    }
  }
  if (partial !== '' || overlong) yield line();
}

/** Columns a CSV header must name. */
const REQUIRED_COLUMNS = ['eventId', 'issuerId', 'cardId', 'type', 'occurredAt'];

/** The header's column names (empty cells at its end dropped: spreadsheets write them), or why the file is unusable. */
function checkHeader(fields: string[]): string[] {
  const header = [...fields];
  while (header.length > 0 && header.at(-1) === '') header.pop();
  const expected = `expected ${SITE_EVENT_FIELDS.join(', ')}`;
  const unknown = header.filter((h) => !(SITE_EVENT_FIELDS as readonly string[]).includes(h));
  // Only what looks like a column name is quoted: the first line of a file that is no batch file at all
  // (a key file, /etc/shadow) must not be printed.
  const shown = (u: string) => (u === '' ? '(empty)' : /^[A-Za-z][A-Za-z0-9 _.-]{0,39}$/.test(u) ? u : '(a name that is no column name)');
  if (unknown.length > 0) throw new BatchFileError(`CSV header: unknown column(s) ${unknown.map(shown).join(', ')}; ${expected}`);
  const repeated = [...new Set(header.filter((h, i) => header.indexOf(h) !== i))];
  if (repeated.length > 0) throw new BatchFileError(`CSV header: column(s) ${repeated.join(', ')} named more than once`);
  const missing = REQUIRED_COLUMNS.filter((c) => !header.includes(c));
  if (missing.length > 0) throw new BatchFileError(`CSV header: required column(s) ${missing.join(', ')} missing; ${expected}`);
  return header;
}

const TOO_LONG = `line: longer than ${MAX_RECORD_CHARS} characters`;

/**
 * Records of the file, one at a time, in line order. `onBytes` reports how far into the file reading has
 * come. With `handle` the open file is read from its start and left open for its owner to close.
 */
export async function* readRecords(path: string, format: FileFormat, onBytes?: (bytes: number) => void, handle?: FileHandle): AsyncGenerator<FileRecord> {
  const stream = handle
    ? createReadStream(path, { fd: handle, autoClose: false, start: 0, encoding: 'utf8', highWaterMark: 256 * 1024 })
    : createReadStream(path, { encoding: 'utf8', highWaterMark: 256 * 1024 });
  const source = physicalLines(stream, onBytes);
  // Lines read ahead for a record that then broke a bound: read again, after its first line is rejected.
  const replay: PhysicalLine[] = [];
  let header: string[] | undefined;
  /** The lines of a CSV record whose quoted field is still open. */
  let open: PhysicalLine[] | undefined;
  let openChars = 0;
  const csvRecord = (text: string, line: number, endLine: number): FileRecord | undefined => {
    const fields = parseCsvRecord(text) as string[];
    if (!header) {
      header = checkHeader(fields);
      return undefined;
    }
    // Cells past the header's last column are allowed when empty (trailing commas).
    if (fields.length < header.length || fields.slice(header.length).some((f) => f !== '')) {
      return { line, endLine, parseError: `line: has ${fields.length} fields, the header has ${header.length}` };
    }
    const value: Record<string, string> = {};
    header.forEach((h, i) => {
      if (fields[i] !== '') value[h] = fields[i];
    });
    return { line, endLine, value };
  };
  try {
    for (;;) {
      let l = replay.shift();
      if (!l) {
        const next = await source.next();
        if (next.done) {
          if (!open) break;
          // The file ended inside a quoted field: its first line is bad, the lines after it are read again.
          const [first, ...rest] = open;
          open = undefined;
          replay.push(...rest);
          yield { line: first.no, endLine: first.no, parseError: 'line: a quoted field is never closed' };
          continue;
        }
        l = next.value;
      }
      if (format === 'jsonl') {
        if (l.overlong) yield { line: l.no, endLine: l.no, parseError: TOO_LONG };
        else if (l.text.trim() !== '') {
          try {
            yield { line: l.no, endLine: l.no, value: JSON.parse(l.text) };
          } catch {
            yield { line: l.no, endLine: l.no, parseError: 'line: is not valid JSON' };
          }
        }
        continue;
      }
      if (!open) {
        if (l.overlong) {
          yield { line: l.no, endLine: l.no, parseError: TOO_LONG };
          continue;
        }
        if (l.text.trim() === '') continue;
        if (endsQuoted(l.text, false)) {
          open = [l];
          openChars = l.text.length;
          continue;
        }
        const rec = csvRecord(l.text, l.no, l.no);
        if (rec) yield rec;
        continue;
      }
      open.push(l);
      openChars += l.text.length + 1;
      if (l.overlong || open.length > MAX_RECORD_LINES || openChars > MAX_RECORD_CHARS) {
        const [first, ...rest] = open;
        open = undefined;
        replay.unshift(...rest);
        yield { line: first.no, endLine: first.no, parseError: `line: a quoted field is not closed within ${MAX_RECORD_LINES} lines or ${MAX_RECORD_CHARS} characters` };
        continue;
      }
      if (!endsQuoted(l.text, true)) {
        const rec = csvRecord(open.map((o) => o.text).join('\n'), open[0].no, l.no);
        open = undefined;
        if (rec) yield rec;
      }
    }
  } finally {
    await source.return(undefined);
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
  opts: {
    chunkLines?: number;
    skipThroughLine?: number;
    keepRejected?: number;
    onBytes?: (bytes: number) => void;
    onChunk?: (s: ImportSummary) => void;
    /** The file already open: read through it (from its start), `path` only names it. */
    handle?: FileHandle;
    /** The clock events' times are checked against (not in the future); the wall clock by default. */
    now?: () => Date;
  } = {},
): Promise<ImportSummary> {
  const chunkLines = opts.chunkLines ?? 1000;
  const keep = opts.keepRejected ?? Number.POSITIVE_INFINITY;
  const format = await detectFormat(path, opts.handle);
  const summary: ImportSummary = { accepted: 0, duplicates: 0, rejected: [], rejectedCount: 0, lines: opts.skipThroughLine ?? 0, records: 0 };
  let events: SiteEventInput[] = [];
  let eventLines: number[] = [];
  let rejected: RejectedLine[] = [];
  let records = 0;
  let endLine = summary.lines;
  // One chunk is stored while the next is read and validated: reading is this process's work, storing
  // mostly the database's, and on a small machine doing them in turn left one of them idle (issue 13).
  // Chunks are still stored one after another, in order, so progress stays a prefix of the file.
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async () => {
    if (records === 0) return;
    const chunk = { events, rejected, endLine, lines: eventLines, records };
    events = [];
    eventLines = [];
    rejected = [];
    records = 0;
    const previous = inFlight;
    inFlight = previous.then(async () => {
      const counts = await sink(chunk.events, { rejected: chunk.rejected, endLine: chunk.endLine, lines: chunk.lines });
      summary.accepted += counts.accepted;
      summary.duplicates += counts.duplicates;
      for (const r of chunk.rejected) if (summary.rejected.length < keep) summary.rejected.push(r);
      summary.rejectedCount += chunk.rejected.length;
      summary.lines = chunk.endLine;
      summary.records += chunk.records;
      opts.onChunk?.(summary);
    });
    // Awaited at the next flush or the end; a failure must not count as unhandled meanwhile.
    inFlight.catch(() => {});
    await previous;
  };
  const now = (opts.now?.() ?? new Date()).getTime();
  try {
    for await (const rec of readRecords(path, format, opts.onBytes, opts.handle)) {
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
  } catch (err) {
    // Reading failed (an unreadable file, a bad header): the chunk being stored is waited for first, as
    // the caller reads the progress it saved; the reading's error is the one thrown.
    await inFlight.catch(() => {});
    throw err;
  }
  await inFlight;
  return summary;
}
