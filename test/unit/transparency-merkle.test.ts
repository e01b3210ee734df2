// RFC 6962 Merkle hashing and proofs: the published reference vectors first, then refusals, then
// properties over every size up to a few hundred (every proof verifies; every tampering fails).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isAttestryError } from '../../src/core/errors.ts';
import {
  EMPTY_ROOT,
  InMemoryTree,
  consistencyProof,
  consistencyProofFromReader,
  inclusionProof,
  inclusionProofFromReader,
  leafHash,
  nodeHash,
  rootFromLeafHashes,
  splitStoredHashIndex,
  storedHashCount,
  storedHashIndex,
  storedHashesForRecord,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from '../../src/security/transparency/merkle.ts';
import type { HashReader } from '../../src/security/transparency/merkle.ts';

interface Vectors {
  leafInputsHex: string[];
  nodeHashesHex: string[][];
  rootHashesHex: string[];
  inclusionProofs: { leaf: number; size: number; proofHex: string[] }[];
  consistencyProofs: { size1: number; size2: number; proofHex: string[] }[];
}
const V = JSON.parse(readFileSync(new URL('../vectors/transparency/rfc6962-reference.json', import.meta.url), 'utf8')) as Vectors;
const hx = (h: string): Buffer => Buffer.from(h, 'hex');
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const leaves = V.leafInputsHex.map(hx);

const codeOf = (code: string) => (e: unknown) => isAttestryError(e) && e.code === code;
function must<T>(value: T | undefined): T {
  assert.ok(value !== undefined, 'fixture value missing');
  return value;
}

function treeOf(n: number, prefix = 'leaf'): InMemoryTree {
  const t = new InMemoryTree();
  for (let i = 0; i < n; i++) t.append(Buffer.from(`${prefix} ${i}`));
  return t;
}

function flip(h: Uint8Array, byte = 0, bit = 0): Uint8Array {
  const c = Buffer.from(h);
  c[byte] = (c[byte] as number) ^ (1 << bit);
  return c;
}

describe('RFC 6962 reference vectors (transparency-dev/merkle)', () => {
  const tree = new InMemoryTree();
  for (const l of leaves) tree.append(l);

  it('hashes leaves and nodes, and the empty tree', () => {
    assert.equal(hexOf(EMPTY_ROOT), V.rootHashesHex[0]);
    V.nodeHashesHex[0]?.forEach((h, i) => assert.equal(hexOf(leafHash(leaves[i] as Buffer)), h));
    assert.equal(hexOf(nodeHash(hx(must(must(V.nodeHashesHex[0])[0])), hx(must(must(V.nodeHashesHex[0])[1])))), must(V.nodeHashesHex[1])[0]);
  });

  it('stores every complete subtree hash at its stored-hash index', () => {
    V.nodeHashesHex.forEach((level, l) => level.forEach((h, n) => assert.equal(hexOf(tree.hashAt(l, n)), h, `level ${l} n ${n}`)));
    assert.equal(tree.storedHashes().length, storedHashCount(8));
  });

  it('computes the root of every prefix size 0..8', () => {
    V.rootHashesHex.forEach((h, size) => {
      assert.equal(hexOf(tree.root(size)), h, `size ${size}`);
      assert.equal(hexOf(rootFromLeafHashes(leaves.slice(0, size).map(leafHash))), h);
    });
  });

  it('produces and verifies the published inclusion proofs', async () => {
    for (const p of V.inclusionProofs) {
      const index = p.leaf - 1;
      assert.deepEqual(tree.inclusionProof(index, p.size).map(hexOf), p.proofHex, `leaf ${p.leaf} size ${p.size}`);
      assert.deepEqual((await inclusionProofFromReader(index, p.size, tree)).map(hexOf), p.proofHex);
      const root = hx(must(V.rootHashesHex[p.size]));
      assert.equal(verifyInclusion(leafHash(must(leaves[index])), index, p.size, p.proofHex.map(hx), root), true);
    }
  });

  it('produces and verifies the published consistency proofs', async () => {
    for (const p of V.consistencyProofs) {
      assert.deepEqual(tree.consistencyProof(p.size1, p.size2).map(hexOf), p.proofHex, `${p.size1}→${p.size2}`);
      assert.deepEqual((await consistencyProofFromReader(p.size1, p.size2, tree)).map(hexOf), p.proofHex);
      const ok = verifyConsistency(p.size1, p.size2, p.proofHex.map(hx), hx(must(V.rootHashesHex[p.size1])), hx(must(V.rootHashesHex[p.size2])));
      assert.equal(ok, true);
    }
  });

  it('rejects the reference corruptions of each published proof', () => {
    const some = hx('abacaba000000000000000000000000000000000000000000060061e00123456');
    for (const p of V.inclusionProofs.filter((x) => x.proofHex.length > 0)) {
      const i = p.leaf - 1;
      const proof = p.proofHex.map(hx);
      const root = hx(must(V.rootHashesHex[p.size]));
      const leaf = leafHash(must(leaves[i]));
      const probes: [number, number, Uint8Array, Uint8Array[], Uint8Array][] = [
        [i - 1, p.size, leaf, proof, root],
        [i + 1, p.size, leaf, proof, root],
        [i ^ 2, p.size, leaf, proof, root],
        [i, p.size * 2, leaf, proof, root],
        [i, Math.floor(p.size / 2), leaf, proof, root],
        [i, p.size, Buffer.from('WrongLeaf'), proof, root],
        [i, p.size, leaf, proof, EMPTY_ROOT],
        [i, p.size, leaf, proof, some],
        [i, p.size, leaf, [...proof, Buffer.alloc(0)], root],
        [i, p.size, leaf, [...proof, root], root],
        [i, p.size, leaf, [Buffer.alloc(0), ...proof], root],
        [i, p.size, leaf, [root, ...proof], root],
        [i, p.size, leaf, proof.slice(0, -1), root],
        ...proof.map((_, k): [number, number, Uint8Array, Uint8Array[], Uint8Array] => [i, p.size, leaf, proof.map((h, j) => (j === k ? flip(h, 0, 3) : h)), root]),
      ];
      if (proof.length > 1) probes.push([i, p.size, leaf, [must(proof[0]), some, ...proof.slice(1)], root]);
      for (const [idx, size, l, pr, r] of probes) assert.equal(verifyInclusion(l, idx, size, pr, r), false, `leaf ${p.leaf} size ${p.size}`);
    }
  });
});

describe('refusals', () => {
  const tree = treeOf(10);

  it('refuses proofs for impossible positions with typed codes', () => {
    assert.throws(() => tree.inclusionProof(10, 10), codeOf('merkle_index_out_of_range'));
    assert.throws(() => tree.inclusionProof(0, 0), codeOf('merkle_index_out_of_range'));
    assert.throws(() => tree.inclusionProof(-1, 5), codeOf('merkle_index_invalid'));
    assert.throws(() => tree.inclusionProof(1.5, 5), codeOf('merkle_index_invalid'));
    assert.throws(() => tree.inclusionProof(0, 11), codeOf('merkle_size_out_of_range'));
    assert.throws(() => tree.consistencyProof(6, 5), codeOf('merkle_sizes_out_of_order'));
    assert.throws(() => tree.consistencyProof(-1, 5), codeOf('merkle_size_invalid'));
    assert.throws(() => tree.root(11), codeOf('merkle_size_out_of_range'));
    assert.throws(() => inclusionProof(0, 2 ** 60, tree.hashAt), codeOf('merkle_size_invalid'));
    assert.throws(() => tree.hashAt(4, 0), codeOf('merkle_hash_missing'));
    assert.throws(() => storedHashIndex(-1, 0), codeOf('merkle_level_invalid'));
    assert.throws(() => storedHashIndex(0, -1), codeOf('merkle_index_invalid'));
    assert.throws(() => tree.appendLeafHash(Buffer.alloc(31)), codeOf('merkle_hash_invalid'));
  });

  it('refuses a reader that returns the wrong number or size of hashes', async () => {
    const short: HashReader = { readHashes: async (ix) => ix.slice(1).map(() => Buffer.alloc(32)) };
    const wrongSize: HashReader = { readHashes: async (ix) => ix.map(() => Buffer.alloc(31)) };
    await assert.rejects(treeHash(3, short), codeOf('merkle_reader_mismatch'));
    await assert.rejects(inclusionProofFromReader(0, 5, wrongSize), codeOf('merkle_reader_mismatch'));
    await assert.rejects(storedHashesForRecord(1, Buffer.alloc(32), short), codeOf('merkle_reader_mismatch'));
  });

  it('never throws on malformed verification input, only answers false', () => {
    const root = tree.root();
    const leaf = tree.hashAt(0, 3);
    const proof = tree.inclusionProof(3);
    const bad = [
      () => verifyInclusion(leaf, 3, 10, proof, Buffer.alloc(31)),
      () => verifyInclusion(Buffer.alloc(33), 3, 10, proof, root),
      () => verifyInclusion(leaf, -3, 10, proof, root),
      () => verifyInclusion(leaf, 3, Number.NaN, proof, root),
      () => verifyInclusion(leaf, 3, 2 ** 60, proof, root),
      () => verifyInclusion(leaf, 10, 10, proof, root),
      () => verifyInclusion(leaf, 3, 10, null as unknown as Uint8Array[], root),
      () => verifyInclusion(leaf, 3, 10, ['x' as unknown as Uint8Array], root),
      () => verifyConsistency(5, 4, [], root, root),
      () => verifyConsistency(1, 1, [], root, flip(root)),
      () => verifyConsistency(1, 1, [root], root, root),
      () => verifyConsistency(3, 10, [], root, root),
      () => verifyConsistency(3, 10, tree.consistencyProof(3), Buffer.alloc(2), root),
      () => verifyConsistency(0, 1, [root], root, root),
    ];
    for (const f of bad) assert.equal(f(), false);
  });

  it('accepts the trivially consistent cases only with an empty proof', () => {
    const r = tree.root();
    assert.equal(verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT), true);
    assert.equal(verifyConsistency(0, 10, [], EMPTY_ROOT, r), true);
    assert.equal(verifyConsistency(10, 10, [], r, r), true);
    assert.deepEqual(tree.consistencyProof(0, 10), []);
    assert.deepEqual(tree.consistencyProof(10, 10), []);
  });
});

describe('stored hash indexing', () => {
  it('numbers the stored hashes in append order and inverts', () => {
    const tree = treeOf(300);
    let seen = 0;
    for (let i = 0; i < tree.storedHashes().length; i++) {
      const { level, n } = splitStoredHashIndex(i);
      assert.equal(storedHashIndex(level, n), i);
      assert.equal(hexOf(tree.hashAt(level, n)), hexOf(must(tree.storedHashes()[i])));
      seen++;
    }
    assert.equal(seen, storedHashCount(300));
    // Far beyond 2^32, where bitwise arithmetic would break.
    for (const [level, n] of [[0, 2 ** 40 + 7], [17, 2 ** 30 + 3], [40, 5], [0, 2 ** 51]] as const) {
      assert.deepEqual(splitStoredHashIndex(storedHashIndex(level, n)), { level, n });
    }
  });

  it('the reader-based append writes the same hashes as the in-memory tree', async () => {
    const mem = treeOf(130);
    const stored: Uint8Array[] = [];
    const reader: HashReader = { readHashes: async (ix) => ix.map((i) => must(stored[i])) };
    for (let n = 0; n < 130; n++) {
      assert.equal(stored.length, storedHashCount(n));
      stored.push(...(await storedHashesForRecord(n, leafHash(Buffer.from(`leaf ${n}`)), reader)));
    }
    assert.deepEqual(stored.map(hexOf), mem.storedHashes().map(hexOf));
    for (const size of [0, 1, 2, 3, 64, 65, 129, 130]) assert.equal(hexOf(await treeHash(size, reader)), hexOf(mem.root(size)));
  });
});

describe('properties', () => {
  const MAX = 300;
  const tree = treeOf(MAX);
  const leafHashes = Array.from({ length: MAX }, (_, i) => tree.hashAt(0, i));

  it(`roots of every size 1..${MAX} match the RFC 6962 definition`, () => {
    for (let size = 1; size <= MAX; size++) assert.equal(hexOf(tree.root(size)), hexOf(rootFromLeafHashes(leafHashes.slice(0, size))));
  });

  it(`every inclusion proof for every size 1..${MAX} verifies, and fails when tampered`, () => {
    for (let size = 1; size <= MAX; size++) {
      const root = tree.root(size);
      for (let index = 0; index < size; index++) {
        const leaf = must(leafHashes[index]);
        const proof = tree.inclusionProof(index, size);
        assert.equal(verifyInclusion(leaf, index, size, proof, root), true, `${index}/${size}`);
        // Cheap tamperings on every proof; the full set (every byte) on a sample below.
        if (size > 1) {
          assert.equal(verifyInclusion(leaf, (index + 1) % size, size, proof, root), false);
          assert.equal(verifyInclusion(must(leafHashes[(index + 1) % size]), index, size, proof, root), false);
          assert.equal(verifyInclusion(leaf, index, size, proof.slice(0, -1), root), false);
        }
        // A neighbouring size can share the proof's shape (the root, signed with its size in a
        // checkpoint, is what binds the size), so tamper with the size the way RFC tests do.
        assert.equal(verifyInclusion(leaf, index, size * 2, proof, root), false);
        assert.equal(verifyInclusion(leaf, index, Math.floor(size / 2), proof, root), false);
        assert.equal(verifyInclusion(leaf, index, size, [...proof, root], root), false);
        assert.equal(verifyInclusion(flip(leaf, 31, 7), index, size, proof, root), false);
        assert.equal(verifyInclusion(leaf, index, size, proof, flip(root, 5)), false);
      }
    }
  });

  it('an inclusion proof fails when any byte of any of its hashes changes', () => {
    for (const [index, size] of [[0, 300], [137, 300], [299, 300], [5, 7], [255, 256], [128, 129]] as const) {
      const root = tree.root(size);
      const proof = tree.inclusionProof(index, size);
      for (let k = 0; k < proof.length; k++) {
        for (let byte = 0; byte < 32; byte++) {
          const tampered = proof.map((h, j) => (j === k ? flip(h, byte, byte % 8) : h));
          assert.equal(verifyInclusion(must(leafHashes[index]), index, size, tampered, root), false);
        }
      }
    }
  });

  it('consistency proofs for every m ≤ n ≤ 130 verify, and fail when tampered', () => {
    const N = 130;
    const roots = Array.from({ length: N + 1 }, (_, s) => tree.root(s));
    for (let n = 1; n <= N; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = tree.consistencyProof(m, n);
        const [oldRoot, newRoot] = [must(roots[m]), must(roots[n])];
        assert.equal(verifyConsistency(m, n, proof, oldRoot, newRoot), true, `${m}→${n}`);
        if (m === n) continue;
        assert.equal(verifyConsistency(m, n, proof, newRoot, oldRoot), false);
        assert.equal(verifyConsistency(m, n, proof, flip(oldRoot), newRoot), false);
        assert.equal(verifyConsistency(m, n, proof, oldRoot, flip(newRoot)), false);
        assert.equal(verifyConsistency(m, n, proof.slice(0, -1), oldRoot, newRoot), false);
        assert.equal(verifyConsistency(m, n, [...proof, oldRoot], oldRoot, newRoot), false);
        assert.equal(verifyConsistency(m, n, [must(proof[0]), ...proof], oldRoot, newRoot), false);
        if (m > 1) assert.equal(verifyConsistency(m - 1, n, proof, oldRoot, newRoot), false);
        if (m + 1 < n) assert.equal(verifyConsistency(m + 1, n, proof, oldRoot, newRoot), false);
        assert.equal(verifyConsistency(m, n * 2, proof, oldRoot, newRoot), false);
        assert.equal(verifyConsistency(m, Math.floor(n / 2), proof, oldRoot, newRoot), false);
        for (let k = 0; k < proof.length; k++) {
          const tampered = proof.map((h, j) => (j === k ? flip(h, (k * 7) % 32, k % 8) : h));
          assert.equal(verifyConsistency(m, n, tampered, oldRoot, newRoot), false, `${m}→${n} proof[${k}]`);
        }
      }
    }
  });

  it('a forked log (one leaf rewritten) is not consistent with the original', () => {
    const forked = new InMemoryTree();
    for (let i = 0; i < 100; i++) forked.append(Buffer.from(i === 42 ? 'rewritten' : `leaf ${i}`));
    for (const m of [43, 50, 64, 99]) {
      assert.equal(verifyConsistency(m, 100, forked.consistencyProof(m, 100), tree.root(m), forked.root(100)), false);
      assert.equal(verifyConsistency(m, 100, tree.consistencyProof(m, 100), tree.root(m), forked.root(100)), false);
    }
    // Before the rewritten leaf the two logs agree.
    assert.equal(verifyConsistency(42, 100, forked.consistencyProof(42, 100), tree.root(42), forked.root(100)), true);
  });

  it('proofs from a reader equal the in-memory proofs', async () => {
    for (const [a, b] of [[0, 1], [3, 7], [100, 300], [255, 256], [256, 300]] as const) {
      assert.deepEqual((await inclusionProofFromReader(a, b, tree)).map(hexOf), inclusionProof(a, b, tree.hashAt).map(hexOf));
      assert.deepEqual((await consistencyProofFromReader(a, b, tree)).map(hexOf), consistencyProof(a, b, tree.hashAt).map(hexOf));
    }
  });
});
