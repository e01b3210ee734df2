// Signed checkpoints of the transparency log (C2SP tlog-checkpoint). Each server process signs one
// for the current size when the log has grown, on a timer; at start-up; and on demand. Ed25519 is
// deterministic, so two processes signing the same size and root produce the same note, and the
// store keeps the first one per size (insert-if-absent): no coordination is needed.
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { LogCheckpointRecord, MetadataOps } from '../../storage/metadata/store.ts';
import { treeHash, type HashReader } from '../../security/transparency/merkle.ts';
import { signCheckpoint } from '../../security/transparency/checkpoint.ts';
import type { LogKey } from './log-key.ts';

type CheckpointStore = Pick<MetadataOps, 'logSize' | 'readLogHashes' | 'latestLogCheckpoint' | 'insertLogCheckpoint' | 'findLogCheckpoint'>;

export interface CheckpointDeps {
  store: CheckpointStore;
  key: LogKey;
  clock: Clock;
}

/** A HashReader over the store's committed stored hashes. */
export function storeHashReader(store: Pick<MetadataOps, 'readLogHashes'>): HashReader {
  return { readHashes: (ids) => store.readLogHashes(ids) };
}

/**
 * Signs and stores a checkpoint for the log's current size, unless the newest stored one already
 * has that size; returns the checkpoint for that size (ours or the one another process stored).
 */
export async function issueCheckpoint(d: CheckpointDeps): Promise<LogCheckpointRecord> {
  const size = await d.store.logSize();
  const latest = await d.store.latestLogCheckpoint();
  if (latest && latest.size >= size) return latest;
  // The size was read committed, so every stored hash the root needs is committed too.
  const root = await treeHash(size, storeHashReader(d.store));
  // After a rotation the previous key cosigns, so clients that pinned it can follow the handover.
  const note = signCheckpoint({ origin: d.key.origin, size, rootHash: root, extensions: [] }, d.key.signer, d.key.previous ? [d.key.previous] : []);
  const record: LogCheckpointRecord = { size, root, note, createdAt: d.clock() };
  if (await d.store.insertLogCheckpoint(record)) return record;
  return (await d.store.findLogCheckpoint(size)) ?? record;
}

/**
 * Issues a checkpoint now (so the log always has one to serve), then every `intervalMs` while the
 * log grows. The timer is unref'd (it never keeps the process alive); `stop` waits for a round in
 * flight so shutdown does not close the store under it.
 */
export async function startCheckpoints(d: CheckpointDeps, intervalMs: number, log: Logger): Promise<() => Promise<void>> {
  await issueCheckpoint(d);
  let running: Promise<void> | null = null;
  const round = async (): Promise<void> => {
    try {
      const before = await d.store.latestLogCheckpoint();
      const issued = await issueCheckpoint(d);
      if (issued.size !== before?.size) log.debug('transparency checkpoint signed', { size: issued.size });
    } catch (e) {
      log.error('signing a transparency checkpoint failed', { error: (e as Error)?.stack ?? String(e) });
    }
  };
  const timer = setInterval(() => {
    if (running) return; // a slow round (a large catch-up) is not run twice at once
    running = round().finally(() => {
      running = null;
    });
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
