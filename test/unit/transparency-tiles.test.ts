// C2SP tlog-tiles: path encoding (the spec's examples, round trips, every non-canonical spelling
// refused), which tiles a tree has, tile contents, and proofs recomputed from served tiles alone.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { isAttestryError } from '../../src/core/errors.ts';
import {
  InMemoryTree,
  consistencyProofFromReader,
  inclusionProofFromReader,
  leafHash,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from '../../src/security/transparency/merkle.ts';
import {
  TileHashReader,
  decodeEntryBundle,
  encodeEntryBundle,
  entryBundlePath,
  entryBundlesForSize,
  formatTileIndex,
  hashTilePath,
  hashTilesForSize,
  parseTilePath,
  readTileData,
  splitTileData,
} from '../../src/security/transparency/tiles.ts';
import type { HashTile } from '../../src/security/transparency/tiles.ts';

interface TileVectors {
  indexEncoding: { index: number; encoded: string }[];
  treeTiles: { size: number; tiles: { level: number; full: number; partialWidth: number }[] }[];
}
const T = JSON.parse(readFileSync(new URL('../vectors/transparency/tlog-tiles-examples.json', import.meta.url), 'utf8')) as TileVectors;
const codeOf = (code: string) => (e: unknown) => isAttestryError(e) && e.code === code;
function must<T>(value: T | undefined): T {
  assert.ok(value !== undefined, 'fixture value missing');
  return value;
}
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('tile paths', () => {
  it('encodes indexes in x-prefixed 3-digit groups (spec example and edges)', () => {
    for (const v of T.indexEncoding) assert.equal(formatTileIndex(v.index), v.encoded);
    const cases: [number, string][] = [[0, '000'], [5, '005'], [999, '999'], [1000, 'x001/000'], [256000, 'x256/000'], [1000000, 'x001/x000/000']];
    for (const [n, s] of cases) assert.equal(formatTileIndex(n), s);
    assert.equal(hashTilePath({ level: 0, index: 1234067, width: 256 }), 'tile/0/x001/x234/067');
    assert.equal(hashTilePath({ level: 2, index: 1234067, width: 8 }), 'tile/2/x001/x234/067.p/8');
    assert.equal(entryBundlePath({ index: 1234067, width: 255 }), 'tile/entries/x001/x234/067.p/255');
    assert.equal(entryBundlePath({ index: 0, width: 256 }), 'tile/entries/000');
  });

  it('parses every path it formats back to the same tile', () => {
    const indexes = [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 65535, 1234067, 2 ** 32, Number.MAX_SAFE_INTEGER];
    for (const index of indexes) {
      for (const width of [1, 17, 255, 256]) {
        for (const level of [0, 1, 9, 63]) assert.deepEqual(parseTilePath(hashTilePath({ level, index, width })), { kind: 'hash', level, index, width });
        assert.deepEqual(parseTilePath(entryBundlePath({ index, width })), { kind: 'entries', index, width });
      }
    }
  });

  it('refuses every non-canonical or malformed spelling', () => {
    const bad = [
      'tile/0/x000/001', // leading zero group
      'tile/0/x000/000',
      'tile/00/001',
      'tile/64/001',
      'tile/-1/001',
      'tile/0/1',
      'tile/0/0001',
      'tile/0/x001',
      'tile/0/001/000',
      'tile/0/X001/000',
      'tile/0/001.p/0',
      'tile/0/001.p/256',
      'tile/0/001.p/08',
      'tile/0/001.p',
      'tile/0/001.p/',
      'tile/0/001.p/1/',
      'tile/0/001.q/1',
      'tile/0/x001.p/1/000',
      '/tile/0/001',
      'tile/0/001/',
      'tile//001',
      'tile/x/001',
      'tile/entries/x000/001',
      'tile/entries/001.p/256',
      'tile/entries',
      'tiles/0/001',
      'tile/0/x009/x007/x199/x254/x740/993', // beyond 2^53
      `tile/0/${'x001/'.repeat(60)}000`,
    ];
    for (const p of bad) assert.throws(() => parseTilePath(p), codeOf('tile_path_invalid'), p);
  });

  it('refuses impossible tiles when formatting', () => {
    assert.throws(() => hashTilePath({ level: 64, index: 0, width: 256 }), codeOf('tile_level_invalid'));
    assert.throws(() => hashTilePath({ level: 0, index: -1, width: 256 }), codeOf('tile_index_invalid'));
    assert.throws(() => hashTilePath({ level: 0, index: 0, width: 0 }), codeOf('tile_width_invalid'));
    assert.throws(() => hashTilePath({ level: 0, index: 0, width: 257 }), codeOf('tile_width_invalid'));
    assert.throws(() => formatTileIndex(2 ** 60), codeOf('tile_index_invalid'));
  });
});

describe('the tiles of a tree', () => {
  it('matches the spec examples (sizes 70,000 and 256)', () => {
    for (const ex of T.treeTiles) {
      const tiles = hashTilesForSize(ex.size);
      for (const level of ex.tiles) {
        const at = tiles.filter((t) => t.level === level.level);
        assert.equal(at.filter((t) => t.width === 256).length, level.full, `size ${ex.size} level ${level.level}`);
        const partial = at.filter((t) => t.width < 256);
        assert.deepEqual(partial.map((t) => t.width), level.partialWidth === 0 ? [] : [level.partialWidth]);
      }
      assert.equal(Math.max(...tiles.map((t) => t.level)), must(ex.tiles[ex.tiles.length - 1]).level);
    }
    assert.deepEqual(hashTilesForSize(0), []);
    assert.deepEqual(hashTilesForSize(1), [{ level: 0, index: 0, width: 1 }]);
    assert.deepEqual(entryBundlesForSize(257), [{ index: 0, width: 256 }, { index: 1, width: 1 }]);
  });

  it('lists only the tiles that changed since an earlier size', () => {
    const changed = (from: number, to: number) => hashTilesForSize(to, from).map((t) => hashTilePath(t));
    assert.deepEqual(changed(300, 301), ['tile/0/001.p/45', 'tile/1/000.p/1']);
    assert.deepEqual(changed(511, 512), ['tile/0/001', 'tile/1/000.p/2']);
    assert.deepEqual(changed(70000, 70000).length, 3); // the partial tiles are re-listed, full ones are not
    // Every tile of the new tree is either listed or identical in the old one.
    for (const [from, to] of [[0, 1000], [256, 70000], [65535, 65537]] as const) {
      const listed = new Set(changed(from, to));
      const old = new Set(hashTilesForSize(from).map((t) => hashTilePath(t)));
      for (const t of hashTilesForSize(to)) {
        const p = hashTilePath(t);
        assert.ok(listed.has(p) || old.has(p), `${p} for ${from}→${to}`);
      }
    }
  });
});

describe('serving and reading tiles', () => {
  const SIZE = 70000;
  const tree = new InMemoryTree();
  const served = new Map<string, Buffer>();
  const entries: Buffer[] = [];

  before(async () => {
    for (let i = 0; i < SIZE; i++) {
      const e = Buffer.from(`{"n":${i},"name":"left-pad"}`);
      entries.push(e);
      tree.append(e);
    }
    // Serve the tiles of two checkpoints: 1000 (partial tiles) and 70,000.
    for (const size of [1000, SIZE]) {
      for (const tile of hashTilesForSize(size)) served.set(hashTilePath(tile), await readTileData(tile, tree));
      for (const b of entryBundlesForSize(size)) served.set(entryBundlePath(b), encodeEntryBundle(entries.slice(b.index * 256, b.index * 256 + b.width)));
    }
  });

  const fetcher = (store: Map<string, Buffer>) => async (tile: HashTile) => {
    const data = store.get(hashTilePath(tile));
    if (data === undefined) throw new Error(`404 ${hashTilePath(tile)}`);
    return data;
  };

  it('a tile holds the hashes of its level, and entry bundles hash to level-0 tiles', () => {
    const t0 = splitTileData(must(served.get('tile/0/005')), 256);
    assert.equal(hexOf(must(t0[3])), hexOf(tree.hashAt(0, 5 * 256 + 3)));
    const t1 = splitTileData(must(served.get('tile/1/000')), 256);
    assert.equal(hexOf(must(t1[7])), hexOf(tree.hashAt(8, 7)));
    const t2 = splitTileData(must(served.get('tile/2/000.p/1')), 1);
    assert.equal(hexOf(must(t2[0])), hexOf(tree.hashAt(16, 0)));
    const bundle = decodeEntryBundle(must(served.get('tile/entries/273.p/112')), 112);
    const level0 = splitTileData(must(served.get('tile/0/273.p/112')), 112);
    bundle.forEach((e, i) => assert.equal(hexOf(leafHash(e)), hexOf(must(level0[i]))));
  });

  it('roots and proofs computed from tiles alone equal the log\'s, for both checkpoints', async () => {
    for (const size of [1000, SIZE]) {
      const reader = new TileHashReader(size, fetcher(served));
      const root = await treeHash(size, reader);
      assert.equal(hexOf(root), hexOf(tree.root(size)));
      for (const index of [0, 1, 255, 256, 511, 999, 65535, 65536, 69999].filter((i) => i < size)) {
        const proof = await inclusionProofFromReader(index, size, reader);
        assert.deepEqual(proof.map(hexOf), tree.inclusionProof(index, size).map(hexOf));
        assert.equal(verifyInclusion(tree.hashAt(0, index), index, size, proof, root), true);
      }
    }
    const reader = new TileHashReader(SIZE, fetcher(served));
    const proof = await consistencyProofFromReader(1000, SIZE, reader);
    assert.equal(verifyConsistency(1000, SIZE, proof, tree.root(1000), tree.root(SIZE)), true);
  });

  it('a tampered tile yields a root that no longer matches the signed one', async () => {
    const evil = new Map(served);
    const tile = Buffer.from(must(served.get('tile/0/273.p/112')));
    tile[40] = (tile[40] as number) ^ 1; // edits the stored hash of entry 69889
    evil.set('tile/0/273.p/112', tile);
    const root = await treeHash(SIZE, new TileHashReader(SIZE, fetcher(evil)));
    assert.notEqual(hexOf(root), hexOf(tree.root(SIZE)));
    // A proof for the edited leaf from the evil tiles does not verify against the real root.
    const reader = new TileHashReader(SIZE, fetcher(evil));
    const proof = await inclusionProofFromReader(69889, SIZE, reader);
    assert.equal(verifyInclusion(tree.hashAt(0, 69889), 69889, SIZE, proof, tree.root(SIZE)), true); // its own leaf is intact
    const other = await inclusionProofFromReader(69888, SIZE, reader); // sibling path crosses the edit
    assert.equal(verifyInclusion(tree.hashAt(0, 69888), 69888, SIZE, other, tree.root(SIZE)), false);
  });

  it('refuses tiles of the wrong length and hashes a tree of that size does not have', async () => {
    const short = new Map(served);
    short.set('tile/0/000', must(served.get('tile/0/000')).subarray(0, 8160));
    await assert.rejects(new TileHashReader(SIZE, fetcher(short)).readHashes([0]), codeOf('tile_size_mismatch'));
    const small = new TileHashReader(1000, fetcher(served));
    await assert.rejects(inclusionProofFromReader(0, 1001, small), codeOf('tile_hash_unavailable'));
    await assert.rejects(treeHash(1024, small), codeOf('tile_hash_unavailable'));
    assert.throws(() => new TileHashReader(-1, fetcher(served)), codeOf('tile_tree_size_invalid'));
  });

  it('a failed fetch is not cached', async () => {
    let fail = true;
    const reader = new TileHashReader(SIZE, async (tile) => {
      if (fail) throw new Error('network');
      return must(served.get(hashTilePath(tile)));
    });
    await assert.rejects(reader.readHashes([0]));
    fail = false;
    assert.equal((await reader.readHashes([0])).length, 1);
  });
});

describe('entry bundles', () => {
  it('round-trips entries as big-endian uint16 length + data', () => {
    const entries = [Buffer.alloc(0), Buffer.from('a'), Buffer.alloc(300, 7), Buffer.alloc(65535, 1)];
    const bundle = encodeEntryBundle(entries);
    assert.deepEqual([...bundle.subarray(0, 5)], [0, 0, 0, 1, 0x61]);
    assert.deepEqual(decodeEntryBundle(bundle).map((e) => Buffer.from(e)), entries);
    assert.equal(decodeEntryBundle(bundle, 4).length, 4);
  });

  it('refuses oversize entries, bad widths and truncated or overlong bundles', () => {
    assert.throws(() => encodeEntryBundle([Buffer.alloc(65536)]), codeOf('entry_too_large'));
    assert.throws(() => encodeEntryBundle([]), codeOf('entry_bundle_width_invalid'));
    assert.throws(() => encodeEntryBundle(Array.from({ length: 257 }, () => Buffer.alloc(1))), codeOf('entry_bundle_width_invalid'));
    const ok = encodeEntryBundle([Buffer.from('abc'), Buffer.from('de')]);
    assert.throws(() => decodeEntryBundle(ok.subarray(0, ok.length - 1)), codeOf('entry_bundle_malformed'));
    assert.throws(() => decodeEntryBundle(Buffer.concat([ok, Buffer.from([0])])), codeOf('entry_bundle_malformed'));
    assert.throws(() => decodeEntryBundle(ok, 3), codeOf('entry_bundle_malformed'));
    const tooMany = Buffer.concat(Array.from({ length: 257 }, () => Buffer.from([0, 0])));
    assert.throws(() => decodeEntryBundle(tooMany), codeOf('entry_bundle_malformed'));
  });
});
