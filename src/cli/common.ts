import type { Config } from '../config.ts';
import type { Db } from '../store/db.ts';

/** What main.ts hands each command group: the configuration, and the store opened for one command. */
export interface CliHelpers {
  config: () => Config;
  withStore: <T>(fn: (db: Db) => Promise<T>) => Promise<T>;
}

/** Ends a command with one line on stderr and an exit code (2: the command was used wrongly). */
export function fail(msg: string, code = 2): never {
  process.stderr.write(`trackhub: ${msg}\n`);
  process.exit(code);
}
