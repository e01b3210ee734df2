// Crash-safe replacement of a small secret file: write a private temp file next to it, fsync, then
// rename (or link, to create without clobbering) over the target and fsync the directory. A crash
// at any instant leaves either the old file or the new one, never a torn one.
import { closeSync, fchmodSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
