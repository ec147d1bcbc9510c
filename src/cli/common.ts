import { userInfo } from 'node:os';
import type { Command, Option } from 'commander';
import type { Config } from '../config.ts';
import { escapeUnprintable } from '../domain/text.ts';
import type { Db } from '../store/db.ts';

/** How withStore opens the store: `create` lets a command that registers something make a new embedded store. */
export interface StoreUse {
  create?: boolean;
}

/** What main.ts hands each command group: the configuration, and the store opened for one command. */
export interface CliHelpers {
  config: () => Config;
  withStore: <T>(fn: (db: Db) => Promise<T>, use?: StoreUse) => Promise<T>;
  /** The store the command works on, for "not found" messages: `the embedded store in /abs/data/pg` or `the store at postgres://host/db`. */
  storeName: () => string;
}

/**
 * A command ending with a message and an exit code. Thrown, not exited on the spot: an exit from inside
 * withStore's callback would skip its `finally` and leave an embedded server the command started running.
 * main.ts prints it and exits once everything is closed.
 */
export class CliExit extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliExit';
  }
}

/** Ends a command with one line on stderr and an exit code (2: the command was used wrongly). */
export function fail(msg: string, code = 2): never {
  throw new CliExit(msg, code);
}

/** Outside text as the CLI prints it: control characters and bidi overrides as \u escapes (see escapeUnprintable). */
export const printable = escapeUnprintable;

/** Who runs a CLI command, for the audit log: `cli:` and the system user (the CLI has no admin token). */
function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/**
 * Records a write made by a CLI command in the audit log beside the Admin API's writes
 * (`GET /admin/v1/audit`): method `CLI`, the command as the route (`issuers add`), the status the
 * Admin API would have answered, secrets masked by the store. Loaded on use, so `--help` loads no store code.
 */
export async function auditCli(db: Db, command: string, note: { status: number; targetId: string; before?: unknown; after?: unknown }): Promise<void> {
  const [{ recordAudit }, { newId }] = await Promise.all([import('../store/audit.ts'), import('../domain/ids.ts')]);
  await recordAudit(db, {
    tokenName: cliActor(),
    method: 'CLI',
    route: command,
    targetId: note.targetId,
    status: note.status,
    before: note.before ?? null,
    after: note.after ?? null,
    correlationId: newId('corr'),
  });
}

/**
 * Commander checks required options before unknown ones, so a typo (`--nme`) read as a missing `--name`.
 * Every command's required options are checked here instead, in a preAction hook: commander has refused
 * an unknown option by then, with its "Did you mean …?" suggestion. Called once every command is registered.
 */
export function requireOptionsAfterUnknownOnes(program: Command): void {
  const required = new WeakSet<Option>();
  const walk = (cmd: Command) => {
    for (const option of cmd.options) {
      if (!option.mandatory) continue;
      required.add(option);
      option.makeOptionMandatory(false);
      // Commander's help does not mark a mandatory option; the reader of --help must see it.
      option.description = `(required) ${option.description}`;
    }
    for (const sub of cmd.commands) walk(sub);
  };
  walk(program);
  program.hook('preAction', (_program, action) => {
    for (const option of action.options) {
      if (required.has(option) && action.getOptionValue(option.attributeName()) === undefined) {
        action.error(`error: required option '${option.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue', exitCode: 2 });
      }
    }
  });
}
