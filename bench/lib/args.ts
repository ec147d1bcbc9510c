/**
 * The options of a benchmark script, parsed strictly (node:util parseArgs): a misspelt or unknown option,
 * a missing value, or a number that is not one must stop the script before its work starts (exit 2, with a
 * usage line), not let a long run start on its defaults.
 *
 *   const o = benchArgs('capacity', { cards: { type: 'number', default: 2000, quick: 500 }, quick: { type: 'boolean' } });
 *
 * A `quick` default applies when the script has a `--quick` flag and it is given. --help (-h) prints the
 * usage line and exits 0.
 */
import { parseArgs } from 'node:util';

export type BenchOption =
  | { type: 'boolean' }
  /** A number; > 0 unless `zero` (then ≥ 0, for scripts where 0 means something: no kills, nice 0). */
  | { type: 'number'; default?: number; quick?: number; zero?: boolean; note?: string }
  /** Comma-separated numbers, each > 0 (e.g. scale's --configs 1,2,3). */
  | { type: 'numbers'; default?: number[]; quick?: number[]; note?: string }
  /** A string; when `choices` is given, one of them (each of a comma-separated list when `list`). */
  | { type: 'string'; default?: string; quick?: string; choices?: readonly string[]; list?: boolean; note?: string };

type ValueOf<O> = O extends { type: 'boolean' }
  ? boolean
  : O extends { type: 'number'; default: number }
    ? number
    : O extends { type: 'number' }
      ? number | undefined
      : O extends { type: 'numbers'; default: number[] }
        ? number[]
        : O extends { type: 'numbers' }
          ? number[] | undefined
          : O extends { type: 'string'; default: string }
            ? string
            : string | undefined;

export type BenchArgs<S extends Record<string, BenchOption>> = { [K in keyof S]: ValueOf<S[K]> };

/** How a script is named in its messages: `bench/<name>` and `npx tsx bench/<name>.ts` unless given. */
export interface BenchCommand {
  /** The prefix of a refusal, e.g. `npm run bench`. */
  label?: string;
  /** The command the usage line shows, e.g. `npm run bench --`. */
  command?: string;
  argv?: string[];
}

/** `[--name VALUE]` for each option, with its default (and its --quick default). */
export function usage(script: string, spec: Record<string, BenchOption>, command = `npx tsx bench/${script}.ts`): string {
  const parts = Object.entries(spec).map(([name, o]) => {
    if (o.type === 'boolean') return `[--${name}]`;
    const show = (v: unknown) => (Array.isArray(v) ? v.join(',') : String(v));
    const value = o.type === 'string' && o.choices ? o.choices.join(o.list ? ',' : '|') : o.default !== undefined ? show(o.default) : 'N';
    const notes = [o.quick !== undefined ? `--quick: ${show(o.quick)}` : '', o.note ?? ''].filter(Boolean);
    return `[--${name} ${value}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}]`;
  });
  return `usage: ${command} ${parts.join(' ')}`;
}

function refuse(script: string, spec: Record<string, BenchOption>, problem: string, how: BenchCommand): never {
  process.stderr.write(`${how.label ?? `bench/${script}`}: ${problem}\n${usage(script, spec, how.command)}\n`);
  process.exit(2);
}

/** parseArgs's messages, on one line: its advice about positionals after `--` does not apply here. */
function problemOf(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? String(err);
  const named = /'([^' ]+)/.exec(message)?.[1];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${named}`;
  if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument ${JSON.stringify(named)}`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (message.includes('does not take an argument')) return `${named} takes no value`;
    // Missing, or followed by another option (a negative number is one too: --rate=-1 reaches the number check).
    return `${named} needs a value`;
  }
  return message.split('\n')[0];
}

export function benchArgs<const S extends Record<string, BenchOption>>(script: string, spec: S, how: BenchCommand = {}): BenchArgs<S> {
  const argv = how.argv ?? process.argv.slice(2);
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(spec)) options[name] = { type: o.type === 'boolean' ? 'boolean' : 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    refuse(script, spec, problemOf(err), how);
  }
  if (values.help) {
    process.stdout.write(`${usage(script, spec, how.command)}\n`);
    process.exit(0);
  }
  const quick = 'quick' in spec && values.quick === true;
  const positive = (name: string, raw: string, zero = false): number => {
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v) || v < 0 || (v === 0 && !zero)) {
      refuse(script, spec, `--${name} needs a ${zero ? 'number ≥ 0' : 'positive number'}, got ${JSON.stringify(raw)}`, how);
    }
    return v;
  };
  const out: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec)) {
    const raw = values[name];
    if (o.type === 'boolean') out[name] = raw === true;
    else if (typeof raw !== 'string') out[name] = quick && o.quick !== undefined ? o.quick : o.default;
    else if (o.type === 'number') out[name] = positive(name, raw, o.zero);
    else if (o.type === 'numbers') out[name] = raw.split(',').map((part) => positive(name, part));
    else {
      const bad = o.choices && (o.list ? raw.split(',') : [raw]).find((part) => !o.choices?.includes(part));
      if (bad !== undefined) refuse(script, spec, `--${name} takes ${o.list ? 'a comma-separated list of ' : ''}${o.choices?.join(', ')}; got ${JSON.stringify(bad)}`, how);
      out[name] = raw;
    }
  }
  return out as BenchArgs<S>;
}
