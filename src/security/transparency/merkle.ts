// RFC 6962 §2.1 Merkle tree hashing (SHA-256), inclusion and consistency proofs, and the
// "stored hash" layout of a log that keeps every complete subtree hash (the layout the Go checksum
// database uses and that C2SP tlog-tiles serves). Pure functions: no storage, no clock.
//
// Two ways to reach hashes:
//  - a synchronous `SubtreeHashGetter` (level, n) → hash, for the in-memory tree;
//  - an asynchronous `HashReader` over stored-hash indexes, for a database or fetched tiles.
// Every proof is computed in two steps — plan the complete subtrees it needs, then fold the
// hashes — so both ways share one implementation and a reader is asked once per proof.
//
// Producing a proof refuses impossible requests with AttestryError; checking a proof never throws:
// a bad or malformed proof is simply `false`.
import { createHash } from 'node:crypto';
import { invalid } from '../../core/errors.ts';

export const HASH_SIZE = 32;

/** SHA-256 of the empty string: the root of the empty tree (RFC 6962 §2.1, MTH({})). */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** MTH({d}) = SHA-256(0x00 || d). */
export function leafHash(data: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

/** Interior node: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/** Returns the hash of the complete subtree at `level` (0 = leaves) with index `n` in that level. */
export type SubtreeHashGetter = (level: number, n: number) => Uint8Array;

/** Reads stored hashes by their stored-hash index (see storedHashIndex); same order and length. */
export interface HashReader {
  readHashes(indexes: readonly number[]): Promise<readonly Uint8Array[]>;
}

// ---- integer helpers: sizes go past 2^32, so no bitwise operators on them ----

const MAX = Number.MAX_SAFE_INTEGER;
const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;
const half = (n: number): number => Math.floor(n / 2);
const odd = (n: number): boolean => n % 2 === 1;

function popcount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x = half(x)) c += x % 2;
  return c;
}

/** Largest power of two strictly below n (n ≥ 2): the RFC 6962 split point k. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function requireCount(value: number, code: string, what: string): void {
  if (!isCount(value)) throw invalid(code, `${what} must be a non-negative safe integer`, { [what]: value });
}

// ---- stored hash indexing ----

/**
 * Number of hashes stored for a log of n records: each record stores its leaf hash plus one
 * hash per subtree it completes, 2n − popcount(n) in total.
 */
export function storedHashCount(n: number): number {
  requireCount(n, 'merkle_size_invalid', 'size');
  return 2 * n - popcount(n);
}

/**
 * The position of the hash of subtree (level, n) in the stored-hash sequence. That hash is stored
 * right after the leaf of the last record it covers, record (n+1)·2^level − 1, one slot per level.
 */
export function storedHashIndex(level: number, n: number): number {
  if (!Number.isInteger(level) || level < 0 || level > 52) throw invalid('merkle_level_invalid', 'level must be 0..52', { level });
  requireCount(n, 'merkle_index_invalid', 'index');
  const lastRecord = (n + 1) * 2 ** level - 1;
  if (!Number.isSafeInteger(lastRecord)) throw invalid('merkle_index_invalid', 'subtree out of range', { level, n });
  return storedHashCount(lastRecord) + level;
}

/** Inverse of storedHashIndex. */
export function splitStoredHashIndex(index: number): { level: number; n: number } {
  requireCount(index, 'merkle_index_invalid', 'index');
  // The record r whose hashes contain `index` is the largest r with storedHashCount(r) ≤ index;
  // storedHashCount(r) ≥ 2r − 53, so start just above index/2 and walk down.
  let r = Math.min(half(index) + 27, half(MAX));
  while (storedHashCount(r) > index) r--;
  const level = index - storedHashCount(r);
  // Record r completes as many levels as it has trailing one bits (+1 for its own leaf).
  let completes = 0;
  for (let x = r; odd(x); x = half(x)) completes++;
  if (level > completes) throw invalid('merkle_index_invalid', 'not a stored hash index', { index }); // unreachable for valid r
  return { level, n: (r + 1) / 2 ** level - 1 };
}

// ---- planning: which complete subtrees a computation needs ----

interface Subtree {
  level: number;
  n: number;
}

/** The complete subtrees, left to right, whose hashes make MTH(D[lo:hi]) for an aligned lo. */
function subtreesOfRange(lo: number, hi: number): Subtree[] {
  const out: Subtree[] = [];
  let at = lo;
  while (at < hi) {
    let level = 0;
    while (at % 2 ** (level + 1) === 0 && at + 2 ** (level + 1) <= hi) level++;
    out.push({ level, n: at / 2 ** level });
    at += 2 ** level;
  }
  return out;
}

/** Folds the hashes of consecutive complete subtrees (left to right) into their range hash. */
function foldRange(hashes: readonly Uint8Array[]): Uint8Array {
  let h = hashes[hashes.length - 1];
  if (h === undefined) return EMPTY_ROOT;
  for (let i = hashes.length - 2; i >= 0; i--) h = nodeHash(hashes[i] as Uint8Array, h);
  return h;
}

type Range = [lo: number, hi: number];

function inclusionRanges(index: number, lo: number, hi: number, out: Range[]): void {
  if (hi - lo <= 1) return;
  const k = splitPoint(hi - lo);
  if (index < lo + k) {
    inclusionRanges(index, lo, lo + k, out);
    out.push([lo + k, hi]);
  } else {
    inclusionRanges(index, lo + k, hi, out);
    out.push([lo, lo + k]);
  }
}

// RFC 6962 §2.1.2 SUBPROOF(m, D[lo:hi], b).
function consistencyRanges(m: number, lo: number, hi: number, whole: boolean, out: Range[]): void {
  const n = hi - lo;
  if (m === n) {
    if (!whole) out.push([lo, hi]);
    return;
  }
  const k = splitPoint(n);
  if (m <= k) {
    consistencyRanges(m, lo, lo + k, whole, out);
    out.push([lo + k, hi]);
  } else {
    consistencyRanges(m - k, lo + k, hi, false, out);
    out.push([lo, lo + k]);
  }
}

/** A computation expressed as ranges of leaves; each range's hash is the fold of its subtrees. */
interface Plan {
  ranges: Subtree[][];
}

const planOf = (ranges: readonly Range[]): Plan => ({ ranges: ranges.map(([lo, hi]) => subtreesOfRange(lo, hi)) });

function planInclusion(index: number, size: number): Plan {
  requireCount(index, 'merkle_index_invalid', 'index');
  requireCount(size, 'merkle_size_invalid', 'size');
  if (index >= size) throw invalid('merkle_index_out_of_range', 'leaf index must be below the tree size', { index, size });
  const ranges: Range[] = [];
  inclusionRanges(index, 0, size, ranges);
  return planOf(ranges);
}

function planConsistency(m: number, n: number): Plan {
  requireCount(m, 'merkle_size_invalid', 'size');
  requireCount(n, 'merkle_size_invalid', 'size');
  if (m > n) throw invalid('merkle_sizes_out_of_order', 'the old tree size must not exceed the new one', { m, n });
  const ranges: Range[] = [];
  if (m > 0 && m < n) consistencyRanges(m, 0, n, true, ranges);
  return planOf(ranges);
}

function planTree(size: number): Plan {
  requireCount(size, 'merkle_size_invalid', 'size');
  return planOf(size === 0 ? [] : [[0, size]]);
}

function runSync(plan: Plan, get: SubtreeHashGetter): Uint8Array[] {
  return plan.ranges.map((subtrees) => foldRange(subtrees.map((s) => get(s.level, s.n))));
}

async function runAsync(plan: Plan, reader: HashReader): Promise<Uint8Array[]> {
  const indexes = plan.ranges.flatMap((subtrees) => subtrees.map((s) => storedHashIndex(s.level, s.n)));
  const hashes = await readExactly(reader, indexes);
  let at = 0;
  return plan.ranges.map((subtrees) => foldRange(subtrees.map(() => hashes[at++] as Uint8Array)));
}

async function readExactly(reader: HashReader, indexes: readonly number[]): Promise<readonly Uint8Array[]> {
  if (indexes.length === 0) return [];
  const hashes = await reader.readHashes(indexes);
  if (hashes.length !== indexes.length || hashes.some((h) => h.length !== HASH_SIZE)) {
    throw invalid('merkle_reader_mismatch', 'the hash reader returned the wrong number or size of hashes', {
      wanted: indexes.length,
      got: hashes.length,
    });
  }
  return hashes;
}

// ---- public computations ----

/** MTH of a list of leaf hashes (RFC 6962 §2.1). */
export function rootFromLeafHashes(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_ROOT;
  let level: Uint8Array[] = [...leaves];
  // Pairing left to right and carrying an odd last node up reproduces the k-split definition.
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i] as Uint8Array, level[i + 1] as Uint8Array));
    if (level.length % 2 === 1) next.push(level[level.length - 1] as Uint8Array);
    level = next;
  }
  return level[0] as Uint8Array;
}

/** Root of the first `size` leaves, from complete subtree hashes. */
export function treeHashSync(size: number, get: SubtreeHashGetter): Uint8Array {
  return runSync(planTree(size), get)[0] ?? EMPTY_ROOT;
}

export async function treeHash(size: number, reader: HashReader): Promise<Uint8Array> {
  return (await runAsync(planTree(size), reader))[0] ?? EMPTY_ROOT;
}

/** RFC 6962 §2.1.1 PATH(index, D[size]), ordered from the leaf up. */
export function inclusionProof(index: number, size: number, get: SubtreeHashGetter): Uint8Array[] {
  return runSync(planInclusion(index, size), get);
}

export function inclusionProofFromReader(index: number, size: number, reader: HashReader): Promise<Uint8Array[]> {
  return runAsync(planInclusion(index, size), reader);
}

/** RFC 6962 §2.1.2 PROOF(m, D[n]); empty when m is 0 or m = n. */
export function consistencyProof(m: number, n: number, get: SubtreeHashGetter): Uint8Array[] {
  return runSync(planConsistency(m, n), get);
}

export function consistencyProofFromReader(m: number, n: number, reader: HashReader): Promise<Uint8Array[]> {
  return runAsync(planConsistency(m, n), reader);
}

/** The stored-hash indexes whose hashes storedHashesForRecord needs. */
function recordPlan(n: number): number[] {
  requireCount(n, 'merkle_index_invalid', 'index');
  const indexes: number[] = [];
  // Appending record n completes one subtree per trailing one bit of n; each needs its left sibling.
  for (let m = n, level = 0; odd(m); m = half(m), level++) indexes.push(storedHashIndex(level, m - 1));
  return indexes;
}

function foldRecord(leaf: Uint8Array, siblings: readonly Uint8Array[]): Uint8Array[] {
  if (leaf.length !== HASH_SIZE) throw invalid('merkle_hash_invalid', 'a leaf hash is 32 bytes');
  const out: Uint8Array[] = [leaf];
  let h = leaf;
  for (const left of siblings) {
    h = nodeHash(left, h);
    out.push(h);
  }
  return out;
}

/**
 * The hashes to store, in order, when appending record n (whose leaf hash is given) to a log of n
 * records: they go at stored-hash indexes storedHashCount(n) … storedHashCount(n+1) − 1.
 */
export async function storedHashesForRecord(n: number, leaf: Uint8Array, reader: HashReader): Promise<Uint8Array[]> {
  return foldRecord(leaf, await readExactly(reader, recordPlan(n)));
}

export function storedHashesForRecordSync(n: number, leaf: Uint8Array, readStored: (index: number) => Uint8Array): Uint8Array[] {
  return foldRecord(leaf, recordPlan(n).map(readStored));
}

// ---- verification (RFC 9162 §2.1.3.2 and §2.1.4.2); never throws ----

const isHash = (h: unknown): h is Uint8Array => h instanceof Uint8Array && h.length === HASH_SIZE;
const sameHash = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);

/** Root implied by an inclusion proof, or undefined when the proof cannot be for (index, size). */
export function rootFromInclusionProof(leaf: Uint8Array, index: number, size: number, proof: readonly Uint8Array[]): Uint8Array | undefined {
  if (!isCount(index) || !isCount(size) || index >= size || !isHash(leaf) || !Array.isArray(proof) || !proof.every(isHash)) return undefined;
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leaf;
  for (const p of proof) {
    if (sn === 0) return undefined;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) {
        do {
          fn = half(fn);
          sn = half(sn);
        } while (!odd(fn) && fn !== 0);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : undefined;
}

export function verifyInclusion(leaf: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!isHash(root)) return false;
  const computed = rootFromInclusionProof(leaf, index, size, proof);
  return computed !== undefined && sameHash(computed, root);
}

export function verifyConsistency(m: number, n: number, proof: readonly Uint8Array[], oldRoot: Uint8Array, newRoot: Uint8Array): boolean {
  if (!isCount(m) || !isCount(n) || m > n || !isHash(oldRoot) || !isHash(newRoot)) return false;
  if (!Array.isArray(proof) || !proof.every(isHash)) return false;
  if (m === n) return proof.length === 0 && sameHash(oldRoot, newRoot);
  // Every tree extends the empty tree; there is nothing to prove.
  if (m === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  // When m is a power of two the old root is itself a node of the new tree and is not sent.
  const path = Number.isInteger(Math.log2(m)) ? [oldRoot, ...proof] : [...proof];
  let fn = m - 1;
  let sn = n - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0] as Uint8Array;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!odd(fn)) {
        do {
          fn = half(fn);
          sn = half(sn);
        } while (!odd(fn) && fn !== 0);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(fr, oldRoot) && sameHash(sr, newRoot);
}

// ---- in-memory tree (tests, the auditor's replay) ----

/** An append-only tree keeping every stored hash in memory; also a HashReader over them. */
export class InMemoryTree implements HashReader {
  private readonly stored: Uint8Array[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Appends a record by its data; returns its index. */
  append(data: Uint8Array): number {
    return this.appendLeafHash(leafHash(data));
  }

  appendLeafHash(leaf: Uint8Array): number {
    const n = this.count;
    const hashes = storedHashesForRecordSync(n, leaf, (i) => this.stored[i] as Uint8Array);
    this.stored.push(...hashes);
    this.count++;
    return n;
  }

  /** Hash of complete subtree (level, n); refuses one the tree does not have yet. */
  readonly hashAt: SubtreeHashGetter = (level, n) => {
    const index = storedHashIndex(level, n);
    const h = this.stored[index];
    if (h === undefined) throw invalid('merkle_hash_missing', 'the tree does not have that subtree yet', { level, n });
    return h;
  };

  storedHashes(): readonly Uint8Array[] {
    return this.stored;
  }

  async readHashes(indexes: readonly number[]): Promise<readonly Uint8Array[]> {
    return indexes.map((i) => {
      const h = this.stored[i];
      if (h === undefined) throw invalid('merkle_hash_missing', 'no stored hash at that index', { index: i });
      return h;
    });
  }

  root(size: number = this.count): Uint8Array {
    this.checkSize(size);
    return treeHashSync(size, this.hashAt);
  }

  inclusionProof(index: number, size: number = this.count): Uint8Array[] {
    this.checkSize(size);
    return inclusionProof(index, size, this.hashAt);
  }

  consistencyProof(m: number, n: number = this.count): Uint8Array[] {
    this.checkSize(n);
    return consistencyProof(m, n, this.hashAt);
  }

  private checkSize(size: number): void {
    requireCount(size, 'merkle_size_invalid', 'size');
    if (size > this.count) throw invalid('merkle_size_out_of_range', 'the tree is smaller than that', { size, have: this.count });
  }
}
