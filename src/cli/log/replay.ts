// Replaying the log from its entry bundles (audit: from index 0; monitor: from where it stopped).
// The leaves are recomputed from the entries themselves and the root from those leaves, so a root
// equal to the signed checkpoint's proves every replayed entry is exactly what the log committed
// to, at its position. Subtrees entirely before the replayed range come from hash tiles (the
// signed root authenticates them too: any wrong hash changes the root). Then every hash tile the
// registry serves for the range must equal the recomputed tree, so other clients computing proofs
// from tiles get the same answers.
import { AttestryError, isAttestryError } from '../../core/errors.ts';
import { decodeEntry, type LogEntry } from '../../core/transparency/entry.ts';
import { leafHash, nodeHash, splitStoredHashIndex, storedHashIndex, treeHash, type HashReader } from '../../security/transparency/merkle.ts';
import { entryBundlesForSize, hashTilePath, hashTilesForSize, readTileData, splitTileData, TileHashReader, TILE_WIDTH } from '../../security/transparency/tiles.ts';
import { logFailure, type LogClient } from './client.ts';
import type { SignedCheckpoint } from './trust.ts';

/** Stored hashes of a tree whose leaves from `start` on are known; earlier complete subtrees come from `before`. */
export class ReplayReader implements HashReader {
  private readonly memo = new Map<number, Uint8Array>();
  private readonly start: number;
  private readonly leaves: readonly Uint8Array[];
  private readonly before: HashReader;

  constructor(start: number, leaves: readonly Uint8Array[], before: HashReader) {
    this.start = start;
    this.leaves = leaves;
    this.before = before;
  }

  get size(): number {
    return this.start + this.leaves.length;
  }

  readHashes(indexes: readonly number[]): Promise<readonly Uint8Array[]> {
    return Promise.all(indexes.map((i) => {
      const { level, n } = splitStoredHashIndex(i);
      return this.hash(level, n);
    }));
  }

  private async hash(level: number, n: number): Promise<Uint8Array> {
    const width = 2 ** level;
    const lo = n * width;
    if (lo + width > this.size) throw logFailure('tlog_replay_range', 'that subtree is not complete in the replayed tree', { level, n });
    if (lo + width <= this.start) return (await this.before.readHashes([storedHashIndex(level, n)]))[0] as Uint8Array;
    if (lo >= this.start) return this.known(level, n);
    return nodeHash(await this.hash(level - 1, 2 * n), await this.hash(level - 1, 2 * n + 1));
  }

  private known(level: number, n: number): Uint8Array {
    if (level === 0) return this.leaves[n - this.start] as Uint8Array;
    const key = storedHashIndex(level, n);
    let h = this.memo.get(key);
    if (h === undefined) {
      h = nodeHash(this.known(level - 1, 2 * n), this.known(level - 1, 2 * n + 1));
      this.memo.set(key, h);
    }
    return h;
  }
}

export interface ReplayedEntry {
  index: number;
  entry: LogEntry;
}

export interface ReplayResult {
  size: number;
  from: number;
  entries: ReplayedEntry[];
  tilesChecked: number;
  reader: HashReader;
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);

/** Runs `work` over `items` with at most `limit` in flight, keeping the order of results. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i] as T);
    }
  });
  await Promise.all(lanes);
  return out;
}

/** Finds why replayed leaves do not give the signed root: the first entry whose leaf differs from the served level-0 tile. */
async function diagnose(client: LogClient, start: number, leaves: readonly Uint8Array[], size: number): Promise<AttestryError> {
  for (let t = Math.floor(start / TILE_WIDTH); t * TILE_WIDTH < size; t++) {
    const width = Math.min(TILE_WIDTH, size - t * TILE_WIDTH);
    let tile: Uint8Array[];
    try {
      tile = splitTileData(await client.fetchTile({ level: 0, index: t, width }), width);
    } catch {
      break;
    }
    for (let k = 0; k < width; k++) {
      const i = t * TILE_WIDTH + k;
      if (i < start || same(leaves[i - start] as Uint8Array, tile[k] as Uint8Array)) continue;
      const swapped = tile.findIndex((h, j) => j !== k && same(h, leaves[i - start] as Uint8Array) && same(tile[k] as Uint8Array, leaves[t * TILE_WIDTH + j - start] ?? new Uint8Array()));
      if (swapped >= 0) {
        return logFailure('tlog_entries_reordered', `entries ${i} and ${t * TILE_WIDTH + swapped} are served in each other's place: the entry bundle does not match the signed tree`, { indexes: [i, t * TILE_WIDTH + swapped] });
      }
      return logFailure('tlog_entry_tampered', `entry ${i} in the entry bundle does not hash to the leaf the signed tree holds: it was altered`, { index: i });
    }
  }
  return logFailure('tlog_root_mismatch', 'the entries do not hash to the signed checkpoint\'s root (and the served tiles agree with them: both were rewritten)');
}

/**
 * Replays entries [from, size) of the tree the checkpoint signs. Fails with a stable code: a
 * malformed bundle (a dropped or extra entry), an altered or reordered entry, a root that is not
 * the signed one, an entry that does not decode, a served tile that differs from the replay.
 */
export async function replay(client: LogClient, current: SignedCheckpoint, from: number, options: { concurrency?: number } = {}): Promise<ReplayResult> {
  const { size, rootHash } = current.opened.checkpoint;
  if (from > size) throw logFailure('tlog_checkpoint_rollback', `the log has ${size} entries, fewer than the ${from} this client already read`, { size, from });
  const start = Math.floor(from / TILE_WIDTH) * TILE_WIDTH;
  const bundles = entryBundlesForSize(size, from);
  const concurrency = options.concurrency ?? 8;
  const contents = await mapLimited(bundles, concurrency, (b) => client.entryBundle(b));
  const raw = contents.flat();
  const leaves = raw.map((e) => leafHash(e));
  const tiles = new TileHashReader(size, client.fetchTile);
  const reader = new ReplayReader(start, leaves, tiles);
  if (!same(await treeHash(size, reader), rootHash)) throw await diagnose(client, start, leaves, size);

  const entries: ReplayedEntry[] = [];
  raw.forEach((bytes, k) => {
    const index = start + k;
    let entry: LogEntry;
    try {
      entry = decodeEntry(bytes);
    } catch (e) {
      if (isAttestryError(e)) throw new AttestryError(e.kind, e.code, `entry ${index}: ${e.message}`, { index });
      throw e;
    }
    if (index >= from) entries.push({ index, entry });
  });

  const toCheck = hashTilesForSize(size, from);
  await mapLimited(toCheck, concurrency, async (tile) => {
    const expected = await readTileData(tile, reader);
    if (!Buffer.from(await client.fetchTile(tile)).equals(expected)) {
      throw logFailure('tlog_tile_mismatch', `the served tile ${hashTilePath(tile)} differs from the tree the signed entries make: proofs computed from it would be wrong`, { path: hashTilePath(tile) });
    }
  });
  return { size, from, entries, tilesChecked: toCheck.length, reader };
}
