import { writeFileSync } from 'node:fs';
import { runCli } from '../helpers/processes.ts';

/** Runs the CLI to its end. */
export async function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; json?: Record<string, unknown> }> {
  const proc = runCli(args, env);
  const code = await new Promise<number | null>((r) => proc.child.once('exit', (c) => r(c)));
  const out = proc.output();
  const line = out.split('\n').find((l) => l.startsWith('{"lines"'));
  return { code, out, json: line ? JSON.parse(line) : undefined };
}

/**
 * A CSV of `lines` events with one bad line in a hundred (several kinds of fault), quoted fields with
 * commas and doubled quotes among the good ones. Returns the line numbers of the bad lines.
 */
export function writeCsv(path: string, lines: number, prefix: string): number[] {
  const bad: number[] = [];
  const rows = ['eventId,issuerId,cardId,type,occurredAt,carrier,trackingNumber,reason'];
  for (let i = 0; i < lines; i++) {
    const lineNo = i + 2;
    const id = `${prefix}-${i}`;
    if (i % 100 === 42) {
      bad.push(lineNo);
      const faults = [
        `${id},BANK000001,card-${i},CARD_LOST,2026-05-01T10:00:00Z,,,`,
        `${id},BANK000001,card ${i},CARD_SHIPPED,2026-05-01T10:00:00Z,,,`,
        `${id},BANK000001,card-${i},CARD_SHIPPED,not-a-date,,,`,
        `${id},BANK000001,card-${i},CARD_SHIPPED`,
        `${id},BANK000001,card-${i},CARD_SHIPPED,2026-05-01T10:00:00Z,pigeon,,`,
      ];
      rows.push(faults[(i / 100) % faults.length | 0]);
    } else {
      const reason = i % 3 === 0 ? '"posted, ""first"" class"' : '';
      rows.push(`${id},BANK000001,card-${i},${i % 2 ? 'CARD_SHIPPED' : 'CARD_RETURNED'},2026-05-01T10:00:00Z,fedex,771234500102,${reason}`);
    }
  }
  writeFileSync(path, `${rows.join('\n')}\n`);
  return bad;
}

