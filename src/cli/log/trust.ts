// What makes the client's view of the log trustworthy across runs: the log key is pinned at first
// use (or given with --log-key) and a changed key is refused; every checkpoint must carry the
// pinned key's signature; and a new checkpoint must extend the last one this client saved — two
// different roots for one size, or a larger tree that does not contain the saved one, is a fork
// (a split view: the registry showed different histories to different clients).
import { setTimeout as sleep } from 'node:timers/promises';
import { isAttestryError } from '../../core/errors.ts';
import { consistencyProofFromReader, verifyConsistency, type HashReader } from '../../security/transparency/merkle.ts';
import { openCheckpoint, type OpenedCheckpoint } from '../../security/transparency/checkpoint.ts';
import { parseVerifierKey } from '../../security/transparency/signed-note.ts';
import { logFailure, type LogClient } from './client.ts';
import { loadState, saveState, type LogState } from './state.ts';

export interface SignedCheckpoint {
  note: string;
  opened: OpenedCheckpoint;
}

export interface PinnedKey {
  key: string;
  /** How the key was established, for the report. */
  source: 'given' | 'pinned' | 'first-use' | 'unpinned' | 'rotated';
  state: LogState | undefined;
}

/**
 * The key to verify checkpoints with. Without a state directory nothing can be pinned: the key the
 * registry serves now is used, and the report says so.
 */
export async function establishKey(client: LogClient, origin: string, stateDir: string | undefined, given: string | undefined): Promise<PinnedKey> {
  const state = stateDir ? loadState(stateDir, origin) : undefined;
  if (given !== undefined) {
    parseVerifierKey(given); // refuses a malformed key with its own code
    return { key: given, source: 'given', state };
  }
  const served = await client.key();
  parseVerifierKey(served);
  if (state && state.key !== served && stateDir && (await handedOver(client, state.key, served))) {
    // The pinned key vouches for the new one: follow the rotation and pin the new key.
    const next: LogState = { ...state, key: served };
    saveState(stateDir, next);
    return { key: served, source: 'rotated', state: next };
  }
  if (state && state.key !== served) {
    throw logFailure('tlog_key_changed', 'the registry serves a different log key than the one pinned at first use; if the log key was rotated on purpose, pass the new one with --log-key', { pinned: state.key, served });
  }
  if (!stateDir) return { key: served, source: 'unpinned', state };
  if (state) return { key: served, source: 'pinned', state };
  const fresh: LogState = { origin, key: served };
  saveState(stateDir, fresh);
  return { key: served, source: 'first-use', state: fresh };
}

/**
 * A log-key rotation (`attestry keys rotate-log`) is followed only when the checkpoint served now
 * carries valid signatures by both the pinned key and the served one: the old key vouches for
 * the tree signed by the new one (and that tree holds the rotation's `keys.rotated` entry).
 */
async function handedOver(client: LogClient, pinned: string, served: string): Promise<boolean> {
  const note = await client.checkpointNote();
  try {
    const a = openCheckpoint(note, { logKey: pinned });
    const b = openCheckpoint(note, { logKey: served });
    return a.checkpoint.origin === b.checkpoint.origin;
  } catch (e) {
    if (isAttestryError(e)) return false;
    throw e;
  }
}

export function openSigned(note: string, key: string): SignedCheckpoint {
  return { note, opened: openCheckpoint(note, { logKey: key }) };
}

/** The latest checkpoint, polled until it covers `minSize` leaves or `waitSeconds` have passed. */
export async function fetchCheckpoint(client: LogClient, key: string, minSize = 0, waitSeconds = 0): Promise<SignedCheckpoint> {
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    const signed = openSigned(await client.checkpointNote(), key);
    if (signed.opened.checkpoint.size >= minSize) return signed;
    if (Date.now() >= deadline) {
      throw logFailure('tlog_checkpoint_too_old', `no signed checkpoint covers log index ${minSize - 1} yet (latest size ${signed.opened.checkpoint.size}); retry later or raise --wait`, { size: signed.opened.checkpoint.size, needed: minSize });
    }
    await sleep(Math.min(1000, Math.max(50, deadline - Date.now())));
  }
}

/**
 * The checks that need no tree: run before any replay or proof, so a split view is reported as
 * the fork it is rather than as whatever mismatch the replay would hit first.
 */
export function forkPrecheck(savedNote: string | undefined, current: SignedCheckpoint, key: string): void {
  if (savedNote === undefined) return;
  let saved: SignedCheckpoint;
  try {
    saved = openSigned(savedNote, key);
  } catch {
    return;
  }
  const a = saved.opened.checkpoint;
  const b = current.opened.checkpoint;
  const both = { saved: savedNote, served: current.note };
  if (a.size === b.size && !Buffer.from(a.rootHash).equals(b.rootHash)) {
    throw logFailure('tlog_fork', `FORK: the log signed two different trees of size ${a.size} — this client saw one before, the registry now serves another`, { size: a.size, ...both });
  }
  if (a.size > b.size) {
    throw logFailure('tlog_checkpoint_rollback', `the registry serves a checkpoint of size ${b.size}, older than the one of size ${a.size} this client already verified`, { savedSize: a.size, servedSize: b.size, ...both });
  }
}

export type Reconciled = { relation: 'first' | 'same' | 'extends' | 'saved-unreadable'; savedSize?: number };

/**
 * Checks `current` against a checkpoint saved earlier. `reader` serves the stored hashes of the
 * current tree (from tiles or from a replay): the consistency proof is computed from it and
 * verified against both signed roots, so a wrong hash from the server can only make it fail.
 */
export async function reconcile(savedNote: string | undefined, current: SignedCheckpoint, key: string, reader: HashReader): Promise<Reconciled> {
  if (savedNote === undefined) return { relation: 'first' };
  let saved: SignedCheckpoint;
  try {
    saved = openSigned(savedNote, key);
  } catch {
    // Saved under a key given with --log-key since: nothing this key can compare against.
    return { relation: 'saved-unreadable' };
  }
  forkPrecheck(savedNote, current, key);
  const a = saved.opened.checkpoint;
  const b = current.opened.checkpoint;
  const both = { saved: savedNote, served: current.note };
  if (a.size === b.size) return { relation: 'same', savedSize: a.size };
  const proof = await consistencyProofFromReader(a.size, b.size, reader);
  if (!verifyConsistency(a.size, b.size, proof, a.rootHash, b.rootHash)) {
    throw logFailure('tlog_inconsistent', `FORK: the tree of size ${b.size} does not extend the tree of size ${a.size} this client saw before — the log's history was rewritten`, { savedSize: a.size, servedSize: b.size, ...both });
  }
  return { relation: 'extends', savedSize: a.size };
}

/** Remembers the newer checkpoint (never goes back to an older one). */
export function rememberCheckpoint(stateDir: string | undefined, state: Omit<LogState, 'key'> & { key: string }, current: SignedCheckpoint, extra: Partial<LogState> = {}): void {
  if (!stateDir) return;
  saveState(stateDir, { ...state, checkpoint: current.note, ...extra });
}
