// The log client's pure pieces: the replay reader (leaves from entries, earlier subtrees from
// tiles) agrees with the whole tree for every split point, a wrong tile hash cannot go unnoticed,
// fork/rollback/consistency checks give their codes, the state file round-trips.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { isAttestryError } from '../../src/core/errors.ts';
import { InMemoryTree, consistencyProofFromReader, leafHash, treeHash, verifyConsistency } from '../../src/security/transparency/merkle.ts';
import { signCheckpoint } from '../../src/security/transparency/checkpoint.ts';
import { generateSignerKey, parseSignerKey } from '../../src/security/transparency/signed-note.ts';
import { readTileData, TileHashReader } from '../../src/security/transparency/tiles.ts';
import { ReplayReader } from '../../src/cli/log/replay.ts';
import { forkPrecheck, openSigned, reconcile } from '../../src/cli/log/trust.ts';
import { loadState, saveState } from '../../src/cli/log/state.ts';
import { originFor } from '../../src/cli/log/client.ts';
import { describeEntry } from '../../src/cli/log/log-command.ts';

const codeOf = (code: string) => (e: unknown) => isAttestryError(e) && e.code === code;
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function treeOf(n: number, salt = ''): InMemoryTree {
  const t = new InMemoryTree();
  for (let i = 0; i < n; i++) t.append(Buffer.from(`entry ${i}${i >= 40 ? salt : ''}`));
  return t;
}
const tilesOf = (t: InMemoryTree, size: number) => new TileHashReader(size, (tile) => readTileData(tile, t));
const leavesFrom = (start: number, size: number, salt = '') => Array.from({ length: size - start }, (_v, k) => leafHash(Buffer.from(`entry ${start + k}${start + k >= 40 ? salt : ''}`)));

describe('ReplayReader', () => {
  it('gives the same root and tiles as the whole tree, for every start (tile-aligned or not)', async () => {
    const tree = treeOf(700);
    for (const size of [1, 255, 256, 257, 511, 700]) {
      for (const start of [0, 1, 100, 256, 257, 512, size - 1]) {
        if (start > size) continue;
        const aligned = Math.floor(start / 256) * 256;
        const reader = new ReplayReader(aligned, leavesFrom(aligned, size), tilesOf(tree, size));
        assert.deepEqual(Buffer.from(await treeHash(size, reader)), Buffer.from(tree.root(size)), `size ${size} start ${start}`);
      }
    }
    const reader = new ReplayReader(0, leavesFrom(0, 700), tilesOf(tree, 700));
    assert.deepEqual(await readTileData({ level: 1, index: 0, width: 2 }, reader), await readTileData({ level: 1, index: 0, width: 2 }, tree));
    const proof = await consistencyProofFromReader(300, 700, reader);
    assert.ok(verifyConsistency(300, 700, proof, tree.root(300), tree.root(700)));
  });

  it('an altered leaf or an altered earlier subtree changes the root', async () => {
    const tree = treeOf(600);
    const leaves = leavesFrom(512, 600);
    leaves[3] = leafHash(Buffer.from('forged'));
    assert.notDeepEqual(Buffer.from(await treeHash(600, new ReplayReader(512, leaves, tilesOf(tree, 600)))), Buffer.from(tree.root(600)));
    const lying = new TileHashReader(600, async (tile) => {
      const data = Buffer.from(await readTileData(tile, tree));
      data[0] = (data[0] as number) ^ 1;
      return data;
    });
    assert.notDeepEqual(Buffer.from(await treeHash(600, new ReplayReader(512, leavesFrom(512, 600), lying))), Buffer.from(tree.root(600)));
  });

  it('refuses a subtree beyond the replayed tree', async () => {
    await assert.rejects(new ReplayReader(0, leavesFrom(0, 3), treeOf(3)).readHashes([2 * 4 - 1]), codeOf('tlog_replay_range'));
  });
});

describe('checkpoint reconciliation', () => {
  const origin = 'registry.test/-/tlog';
  const { signerKey, verifierKey } = generateSignerKey(origin);
  const note = (t: InMemoryTree, size: number) => signCheckpoint({ origin, size, rootHash: t.root(size), extensions: [] }, parseSignerKey(signerKey));
  const honest = treeOf(100);
  const forked = treeOf(100, 'x');

  it('first, same, extends', async () => {
    const current = openSigned(note(honest, 100), verifierKey);
    assert.deepEqual(await reconcile(undefined, current, verifierKey, honest), { relation: 'first' });
    assert.deepEqual(await reconcile(note(honest, 100), current, verifierKey, honest), { relation: 'same', savedSize: 100 });
    assert.deepEqual(await reconcile(note(honest, 30), current, verifierKey, honest), { relation: 'extends', savedSize: 30 });
  });

  it('a fork of the same size, a rollback, an inconsistent larger tree', async () => {
    const current = openSigned(note(forked, 100), verifierKey);
    assert.throws(() => forkPrecheck(note(honest, 100), current, verifierKey), codeOf('tlog_fork'));
    assert.throws(() => forkPrecheck(note(honest, 100), openSigned(note(honest, 99), verifierKey), verifierKey), codeOf('tlog_checkpoint_rollback'));
    await assert.rejects(reconcile(note(honest, 50), current, verifierKey, forked), codeOf('tlog_inconsistent'));
    // Before the fork point the trees agree: consistent.
    assert.equal((await reconcile(note(honest, 40), current, verifierKey, forked)).relation, 'extends');
  });

  it('a saved checkpoint under another key is not compared', async () => {
    const other = generateSignerKey(origin);
    const saved = signCheckpoint({ origin, size: 10, rootHash: forked.root(10), extensions: [] }, parseSignerKey(other.signerKey));
    assert.deepEqual(await reconcile(saved, openSigned(note(honest, 100), verifierKey), verifierKey, honest), { relation: 'saved-unreadable' });
  });
});

describe('client odds and ends', () => {
  it('the origin of a registry URL', () => {
    assert.equal(originFor('http://127.0.0.1:4873/'), '127.0.0.1:4873/-/tlog');
    assert.equal(originFor('https://registry.example.internal/npm'), 'registry.example.internal/npm/-/tlog');
  });

  it('the state file round-trips per origin', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attestry-tlog-state-'));
    dirs.push(dir);
    assert.equal(loadState(dir, 'a/-/tlog'), undefined);
    saveState(dir, { origin: 'a/-/tlog', key: 'k', monitor: { next: 3, checkpoint: 'c' } });
    assert.deepEqual(loadState(dir, 'a/-/tlog'), { origin: 'a/-/tlog', key: 'k', monitor: { next: 3, checkpoint: 'c' } });
    assert.equal(loadState(dir, 'b/-/tlog'), undefined);
  });

  it('one line per monitored entry', () => {
    const at = 1;
    assert.equal(describeEntry({ index: 7, entry: { kind: 'release.published', ecosystem: 'npm', name: '@acme/a', version: '1.0.0', at, artifacts: [], provenance: null, publisher: { kind: 'trusted-publisher', ref: 'github:acme/a' } } }), '7 release.published @acme/a@1.0.0 by trusted-publisher:github:acme/a');
    assert.equal(describeEntry({ index: 8, entry: { kind: 'release.deprecated', ecosystem: 'npm', name: 'a', version: '1.0.0', at, message: null } }), '8 release.deprecated a@1.0.0 (lifted)');
    assert.equal(describeEntry({ index: 9, entry: { kind: 'keys.rotated', at, purpose: 'log', keyId: 'k2', previousKeyId: 'k1' } }), '9 keys.rotated log k2');
  });
});
