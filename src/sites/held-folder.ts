import { constants, existsSync } from 'node:fs';
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The inbox's folders, opened without following links and held open while the hub works in them
 * (src/sites/inbox.ts): what makes a folder swapped for a link half-way change nothing.
 */

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;
/** Linux names an open descriptor by a path that no rename or link swap can redirect. */
const FD_PATHS = existsSync('/proc/self/fd');

/** Something in an inbox the hub will not use: a link, a hard-linked file, not a regular file or folder. */
export class Refused extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

export const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/**
 * A folder opened without following a link and held open while the hub works in it. `path(name)`
 * names an entry through the open descriptor where the system allows it, so the folder cannot be
 * swapped for a link between the check and the use; `shown(name)` is the same entry for logs.
 */
export class HeldFolder {
  private constructor(
    private readonly shownPath: string,
    private readonly base: string,
    private readonly handle: FileHandle,
  ) {}

  /** `via` reaches the folder (through its parent's descriptor); `create` makes it (0700) when missing. */
  static async open(shownPath: string, via: string, create: boolean): Promise<HeldFolder> {
    // mkdir never follows a link in the last place (EEXIST), so a link there is found by the open below.
    if (create) await mkdir(via, { mode: 0o700 }).catch((err) => (errno(err) === 'EEXIST' ? undefined : Promise.reject(err)));
    let handle: FileHandle;
    try {
      handle = await open(via, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (err) {
      if (errno(err) === 'ELOOP' || errno(err) === 'ENOTDIR') throw new Refused(shownPath, 'not a real directory (a link or a file)');
      throw err;
    }
    // Stryker disable next-line StringLiteral: with this path emptied, every name resolves against the test runner's working folder, and the inbox imports and moves the project's own files: it wrecked two mutation runs.
    return new HeldFolder(shownPath, FD_PATHS ? `/proc/self/fd/${handle.fd}` : via, handle);
  }

  sub(name: string, create: boolean): Promise<HeldFolder> {
    return HeldFolder.open(this.shown(name), this.path(name), create);
  }

  path(name: string): string {
    return join(this.base, name);
  }

  shown(name = ''): string {
    return join(this.shownPath, name);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
