// The client's memory of a log, kept between runs in a state directory: the pinned log key (trust
// on first use), the newest checkpoint this client has verified (so the next run can prove the log
// only grew from it: a fork or a rewrite shows up as an inconsistency), the monitor's position and
// a cache of full tiles (immutable by the tlog-tiles spec, so they never need refetching).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';

export interface LogState {
  origin: string;
  /** The pinned verifier key (golang.org/x/mod/sumdb/note format). */
  key: string;
  /** The newest signed checkpoint verified so far (the whole note). */
  checkpoint?: string;
  /** `attestry log monitor`: the next log index to read and the checkpoint it was read under. */
  monitor?: { next: number; checkpoint: string };
}

export function defaultStateDir(): string {
  return process.env.ATTESTRY_LOG_STATE ?? join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'attestry', 'tlog');
}

/** One directory per log: the origin hashed, so any origin is a safe file name. */
export function logDir(stateDir: string, origin: string): string {
  const slug = origin.replace(/[^A-Za-z0-9.-]+/g, '_').slice(0, 60);
  return join(stateDir, `${slug}-${createHash('sha256').update(origin).digest('hex').slice(0, 12)}`);
}

export function loadState(stateDir: string, origin: string): LogState | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(logDir(stateDir, origin), 'state.json'), 'utf8')) as LogState;
    return parsed.origin === origin && typeof parsed.key === 'string' ? parsed : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Written to a temporary file and renamed: a crash never leaves half a state file. */
export function saveState(stateDir: string, state: LogState): void {
  const dir = logDir(stateDir, state.origin);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `state.json.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, join(dir, 'state.json'));
}
