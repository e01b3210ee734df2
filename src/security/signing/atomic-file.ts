// Small secret files (key rings, the log key). Writing: a private temp file next to the target,
// fsync, then rename (or link, to create without clobbering) over it and fsync the directory — a
// crash at any instant leaves either the old file or the new one, never a torn one. Reading:
// only a regular file nobody else may read.
import { closeSync, fchmodSync, fstatSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

function fsyncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch (e) {
    // Windows cannot open a directory for fsync; the rename itself is what matters there.
    if (process.platform === 'win32') return;
    throw e;
  }
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `content` to `file` with mode 0600. `mode: 'replace'` renames over an existing file;
 * `mode: 'create'` links into place and returns false (writing nothing) when the file already
 * exists, so two processes creating it at once cannot overwrite each other.
 */
export function writeFileAtomic(file: string, content: string, mode: 'create' | 'replace'): boolean {
  const dir = dirname(file);
  const temp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, 'wx', 0o600);
  let placed = false;
  try {
    try {
      fchmodSync(fd, 0o600); // the umask can only narrow 0600, but be explicit about a secret
      writeFileSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (mode === 'create') {
      try {
        linkSync(temp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e;
      }
    } else {
      renameSync(temp, file);
      placed = true;
    }
    fsyncDirectory(dir);
    return true;
  } finally {
    // After a link the temp name is a second name for the same file; after a rename it is gone.
    if (!placed) rmSync(temp, { force: true });
  }
}

/** Why a private file could not be read: callers turn it into their own typed error. */
export type PrivateFileProblem = 'unreadable' | 'permissions';

/**
 * The text of a file that holds a private key, or null when it does not exist. Refuses (through
 * `fail`) a file that cannot be opened or read, is not a regular file, or is readable by others —
 * checked on the open descriptor, so the file read is the file checked.
 */
export function readPrivateFile(file: string, fail: (problem: PrivateFileProblem, reason: string) => Error): string | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fail('unreadable', `cannot be opened (${(e as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw fail('unreadable', 'is not a regular file');
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      throw fail('permissions', `holds a private key but is readable by others (mode ${(stat.mode & 0o777).toString(8)}); run chmod 600 on it`);
    }
    try {
      return readFileSync(fd, 'utf8');
    } catch (e) {
      throw fail('unreadable', `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'unknown error'})`);
    }
  } finally {
    closeSync(fd);
  }
}
