// C2SP tlog-tiles (c2sp.org/tlog-tiles): the static layout a log serves so that any client can
// fetch the Merkle tree and compute its own proofs.
//   tile/<L>/<N>[.p/<W>]        hash tile: 256 consecutive hashes of tree level 8·L
//   tile/entries/<N>[.p/<W>]    entry bundle: the entries of level-0 tile N, each as uint16 BE length || data
// <N> is written in 3-digit groups, all but the last prefixed with "x" (1234067 → x001/x234/067);
// ".p/<W>" marks a partial tile of width 1..255. Every path has exactly one spelling.
import { invalid } from '../../core/errors.ts';
import { HASH_SIZE, rootFromLeafHashes, splitStoredHashIndex, storedHashIndex } from './merkle.ts';
import type { HashReader } from './merkle.ts';

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
export const MAX_TILE_LEVEL = 63;
export const MAX_ENTRY_SIZE = 0xffff;

/** A hash tile: `width` hashes (256 when full) of tree level 8·level, starting at index·256. */
export interface HashTile {
  level: number;
  index: number;
  width: number;
}

export interface EntryBundle {
  index: number;
  width: number;
}

export type TilePath = ({ kind: 'hash' } & HashTile) | ({ kind: 'entries' } & EntryBundle);

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

function checkTile(level: number, index: number, width: number): void {
  if (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL) throw invalid('tile_level_invalid', 'tile level must be 0..63', { level });
  if (!isCount(index)) throw invalid('tile_index_invalid', 'tile index must be a non-negative safe integer', { index });
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) throw invalid('tile_width_invalid', 'tile width must be 1..256', { width });
}

/** 1234067 → "x001/x234/067"; 5 → "005". */
export function formatTileIndex(index: number): string {
  if (!isCount(index)) throw invalid('tile_index_invalid', 'tile index must be a non-negative safe integer', { index });
  let digits = String(index);
  digits = digits.padStart(Math.ceil(digits.length / 3) * 3, '0');
  const groups = digits.match(/\d{3}/g) ?? [];
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

const suffix = (width: number): string => (width === TILE_WIDTH ? '' : `.p/${width}`);

export function hashTilePath(tile: HashTile): string {
  checkTile(tile.level, tile.index, tile.width);
  return `tile/${tile.level}/${formatTileIndex(tile.index)}${suffix(tile.width)}`;
}

export function entryBundlePath(bundle: EntryBundle): string {
  checkTile(0, bundle.index, bundle.width);
  return `tile/entries/${formatTileIndex(bundle.index)}${suffix(bundle.width)}`;
}

/** Parses a tile or entry-bundle path (relative to the log prefix); refuses any other spelling. */
export function parseTilePath(path: string): TilePath {
  const bad = () => invalid('tile_path_invalid', 'not a canonical tile path', { path: path.slice(0, 200) });
  if (path.length > 200) throw bad();
  const segments = path.split('/');
  if (segments.length < 3 || segments[0] !== 'tile') throw bad();
  const kindText = segments[1] as string;
  let rest = segments.slice(2);
  let width = TILE_WIDTH;
  const beforeLast = rest[rest.length - 2];
  if (beforeLast !== undefined && beforeLast.endsWith('.p')) {
    const w = rest[rest.length - 1] as string;
    if (!/^[1-9][0-9]{0,2}$/.test(w) || Number(w) > TILE_WIDTH - 1) throw bad();
    width = Number(w);
    rest = [...rest.slice(0, -2), beforeLast.slice(0, -2)];
  }
  const groupsOk = rest.every((g, i) => (i < rest.length - 1 ? /^x[0-9]{3}$/ : /^[0-9]{3}$/).test(g));
  if (!groupsOk) throw bad();
  const index = Number(rest.map((g) => g.replace('x', '')).join(''));
  if (!isCount(index)) throw bad();
  let parsed: TilePath;
  if (kindText === 'entries') {
    parsed = { kind: 'entries', index, width };
  } else {
    if (!/^(0|[1-9][0-9]?)$/.test(kindText) || Number(kindText) > MAX_TILE_LEVEL) throw bad();
    parsed = { kind: 'hash', level: Number(kindText), index, width };
  }
  // Leading zero groups ("x000/001") and the like re-encode differently: refuse them.
  const canonical = parsed.kind === 'entries' ? entryBundlePath(parsed) : hashTilePath(parsed);
  if (canonical !== path) throw bad();
  return parsed;
}

// ---- which tiles a tree has ----

function checkSize(size: number): void {
  if (!isCount(size)) throw invalid('tile_tree_size_invalid', 'tree size must be a non-negative safe integer', { size });
}

/**
 * The hash tiles of a tree of `size` leaves that cover any leaf at or after `from` (all tiles when
 * from is 0): full tiles, then at most one partial tile, per level. Entry bundles mirror level 0.
 */
export function hashTilesForSize(size: number, from = 0): HashTile[] {
  checkSize(size);
  checkSize(from);
  const tiles: HashTile[] = [];
  for (let level = 0; level <= MAX_TILE_LEVEL; level++) {
    const hashesAtLevel = Math.floor(size / TILE_WIDTH ** level);
    if (hashesAtLevel === 0) break;
    const full = Math.floor(hashesAtLevel / TILE_WIDTH);
    // Tiles whose span ends at or before `from` are unchanged since the tree had `from` leaves.
    const first = Math.floor(from / TILE_WIDTH ** (level + 1));
    for (let index = first; index < full; index++) tiles.push({ level, index, width: TILE_WIDTH });
    const partial = hashesAtLevel % TILE_WIDTH;
    if (partial > 0) tiles.push({ level, index: full, width: partial });
  }
  return tiles;
}

export function entryBundlesForSize(size: number, from = 0): EntryBundle[] {
  return hashTilesForSize(size, from)
    .filter((t) => t.level === 0)
    .map(({ index, width }) => ({ index, width }));
}

/** The tile (at `size`) holding the hash of tree level 8·tileLevel with index n, or undefined. */
export function tileHolding(tileLevel: number, n: number, size: number): { tile: HashTile; position: number } | undefined {
  checkSize(size);
  const index = Math.floor(n / TILE_WIDTH);
  const hashesAtLevel = Math.floor(size / TILE_WIDTH ** tileLevel);
  if (n >= hashesAtLevel) return undefined;
  const full = Math.floor(hashesAtLevel / TILE_WIDTH);
  const width = index < full ? TILE_WIDTH : hashesAtLevel % TILE_WIDTH;
  return { tile: { level: tileLevel, index, width }, position: n % TILE_WIDTH };
}

// ---- tile contents ----

/** The bytes of a hash tile, read from stored hashes. */
export async function readTileData(tile: HashTile, reader: HashReader): Promise<Buffer> {
  checkTile(tile.level, tile.index, tile.width);
  const indexes: number[] = [];
  for (let i = 0; i < tile.width; i++) indexes.push(storedHashIndex(TILE_HEIGHT * tile.level, tile.index * TILE_WIDTH + i));
  const hashes = await reader.readHashes(indexes);
  if (hashes.length !== indexes.length || hashes.some((h) => h.length !== HASH_SIZE)) {
    throw invalid('merkle_reader_mismatch', 'the hash reader returned the wrong number or size of hashes');
  }
  return Buffer.concat(hashes);
}

export function splitTileData(data: Uint8Array, width: number): Uint8Array[] {
  if (data.length !== width * HASH_SIZE) throw invalid('tile_size_mismatch', 'tile data does not match its width', { bytes: data.length, width });
  const out: Uint8Array[] = [];
  for (let i = 0; i < width; i++) out.push(data.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
  return out;
}

export type TileFetcher = (tile: HashTile) => Promise<Uint8Array>;

/**
 * A HashReader over the tiles of a tree of `size` leaves, as fetched from a log. Hashes between
 * tile levels are recomputed from the tile below. Tiles are NOT authenticated here: the caller
 * must check what it computes (a root, a proof) against a signed checkpoint of this size.
 */
export class TileHashReader implements HashReader {
  private readonly cache = new Map<string, Promise<Uint8Array[]>>();

  private readonly size: number;
  private readonly fetchTile: TileFetcher;

  constructor(size: number, fetchTile: TileFetcher) {
    checkSize(size);
    this.size = size;
    this.fetchTile = fetchTile;
  }

  async readHashes(indexes: readonly number[]): Promise<readonly Uint8Array[]> {
    return Promise.all(indexes.map((i) => this.readOne(i)));
  }

  private async readOne(storedIndex: number): Promise<Uint8Array> {
    const { level, n } = splitStoredHashIndex(storedIndex);
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const span = 2 ** (level % TILE_HEIGHT); // hashes of the tile level under this subtree
    if ((n + 1) * 2 ** level > this.size) {
      throw invalid('tile_hash_unavailable', 'that subtree is not complete in a tree of this size', { level, n, size: this.size });
    }
    const first = n * span;
    const holder = tileHolding(tileLevel, first + span - 1, this.size);
    if (holder === undefined) throw invalid('tile_hash_unavailable', 'no tile holds that hash', { level, n });
    const hashes = await this.tile(holder.tile);
    const start = first % TILE_WIDTH;
    return span === 1 ? (hashes[start] as Uint8Array) : rootFromLeafHashes(hashes.slice(start, start + span));
  }

  private tile(tile: HashTile): Promise<Uint8Array[]> {
    const key = hashTilePath(tile);
    let pending = this.cache.get(key);
    if (pending === undefined) {
      pending = this.fetchTile(tile).then((data) => splitTileData(data, tile.width));
      // A failed fetch must not poison the cache.
      pending.catch(() => this.cache.delete(key));
      this.cache.set(key, pending);
    }
    return pending;
  }
}

// ---- entry bundles ----

export function encodeEntryBundle(entries: readonly Uint8Array[]): Buffer {
  if (entries.length === 0 || entries.length > TILE_WIDTH) throw invalid('entry_bundle_width_invalid', 'an entry bundle holds 1..256 entries');
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    if (e.length > MAX_ENTRY_SIZE) throw invalid('entry_too_large', 'a log entry is at most 65535 bytes', { size: e.length });
    const len = Buffer.alloc(2);
    len.writeUInt16BE(e.length);
    parts.push(len, e);
  }
  return Buffer.concat(parts);
}

/** Splits an entry bundle; with `width`, the bundle must hold exactly that many entries. */
export function decodeEntryBundle(data: Uint8Array, width?: number): Uint8Array[] {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.length);
  const entries: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (entries.length === TILE_WIDTH) throw invalid('entry_bundle_malformed', 'more than 256 entries in a bundle');
    if (at + 2 > bytes.length) throw invalid('entry_bundle_malformed', 'truncated entry length');
    const len = bytes.readUInt16BE(at);
    if (at + 2 + len > bytes.length) throw invalid('entry_bundle_malformed', 'truncated entry');
    entries.push(bytes.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  if (width !== undefined && entries.length !== width) {
    throw invalid('entry_bundle_malformed', 'the bundle does not hold the expected number of entries', { expected: width, got: entries.length });
  }
  return entries;
}
