import type { Config } from '../config.ts';
import type { Db } from '../store/db.ts';

/** What main.ts hands each command group: the configuration, and the store opened for one command. */
export interface CliHelpers {
  config: () => Config;
  withStore: <T>(fn: (db: Db) => Promise<T>) => Promise<T>;
}

/** Ends a command with one line on stderr and an exit code (2: the command was used wrongly). */
export function fail(msg: string, code = 2): never {
  process.stderr.write(`trackhub: ${printable(msg)}\n`);
  process.exit(code);
}

/**
 * Text from outside (a file's lines and keys, names stored by others) as it may reach a terminal: C0
 * and C1 control characters, line and paragraph separators, and bidirectional overrides are shown as
 * \u escapes, so a file cannot move the cursor, recolour the screen, or make a line read backwards.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is escaped
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
