// The registry's signing keys: a key ring kept in one JSON file (mode 0600) that remembers every key
// ever used, so signatures made before a rotation stay verifiable, and keeps the private key of the
// active one only.
import { mkdirSync } from 'node:fs';
import { sign as cryptoSign, type KeyObject } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { systemClock, type Clock } from '../../core/clock.ts';
import { readPrivateFile, writeFileAtomic } from './atomic-file.ts';
import { generateStoredKey, keyRingError, parseKeyRing, serializeKeyRing, type StoredKey } from './key-ring-file.ts';

export { keyIdOf } from './key-id.ts';

export interface RegistryPublicKey {
  keyId: string;
  /** DER SubjectPublicKeyInfo of an ECDSA P-256 key. */
  publicKeyDer: Buffer;
  /** ms since the epoch; 0 when unknown (keys read from another registry's keys document). */
  createdAt: number;
  /** ms since the epoch; null while the key is active. Signatures made before it stay valid. */
  expiresAt: number | null;
}

export interface RegistrySigner {
  readonly keyId: string;
  /** ECDSA P-256 over SHA-256 of `data`, DER-encoded signature. */
  sign(data: Buffer): Buffer;
  /** The same, computed on libuv's thread pool so a publish does not hold the event loop for it. */
  signAsync?(data: Buffer): Promise<Buffer>;
}

/**
 * Where signatures come from. The key ring below is the built-in one; a KMS or HSM plugs in by
 * implementing this:
 * - `active()` returns a signer whose `keyId` is `keyIdOf(its SPKI DER)` and whose `sign(data)`
 *   returns a DER ECDSA P-256/SHA-256 signature over `data` (synchronously: signing happens inside
 *   the publish transaction; a remote KMS needs a local cache or a different call site).
 * - `publicKeys()` returns every key that ever signed, newest first, the active one with
 *   `expiresAt: null`, retired ones with the time they stopped signing. Dropping a retired key
 *   makes every signature it made unverifiable.
 */
export interface KeySource {
  active(): RegistrySigner;
  publicKeys(): readonly RegistryPublicKey[];
}

function signerFor(keyId: string, privateKey: KeyObject): RegistrySigner {
  // The key lives in this closure only: the signer object has nothing to print or serialise.
  return Object.freeze({
    keyId,
    // The KeyObject itself (ECDSA signs DER by default): an options object costs a slow key-preparation path per call.
    sign: (data: Buffer): Buffer => cryptoSign('sha256', data, privateKey),
    signAsync: (data: Buffer): Promise<Buffer> => new Promise((resolve, reject) => {
      cryptoSign('sha256', data, privateKey, (err, sig) => (err ? reject(err) : resolve(sig)));
    }),
  });
}

function publicView(keys: readonly StoredKey[]): readonly RegistryPublicKey[] {
  return Object.freeze(keys.map((k) => Object.freeze({ keyId: k.keyId, publicKeyDer: Buffer.from(k.publicKeyDer), createdAt: k.createdAt, expiresAt: k.expiresAt })));
}

function readRing(file: string): StoredKey[] | null {
  const text = readPrivateFile(file, (problem, reason) => keyRingError(problem === 'permissions' ? 'KEY_RING_PERMISSIONS' : 'KEY_RING_UNREADABLE', file, reason));
  return text === null ? null : parseKeyRing(text, file);
}

export class RegistryKeyRing implements KeySource {
  readonly file: string;
  readonly #clock: Clock;
  #keys: readonly StoredKey[];
  #signer: RegistrySigner;
  #public: readonly RegistryPublicKey[];

  private constructor(file: string, keys: readonly StoredKey[], clock: Clock) {
    this.file = file;
    this.#clock = clock;
    this.#keys = keys;
    this.#signer = RegistryKeyRing.#activeSigner(keys);
    this.#public = publicView(keys);
  }

  static #activeSigner(keys: readonly StoredKey[]): RegistrySigner {
    const active = keys[0];
    // parseKeyRing and rotate() guarantee this; the check keeps a broken invariant from signing.
    if (!active?.privateKey) throw new Error('registry key ring has no active key');
    return signerFor(active.keyId, active.privateKey);
  }

  /**
   * Opens the ring at `file`, creating it (and its directory, mode 0700) with one new key when it
   * does not exist. A file that exists but is unreadable, readable by others, or not exactly a valid
   * ring throws an AttestryError (KEY_RING_UNREADABLE / KEY_RING_PERMISSIONS / KEY_RING_CORRUPT)
   * and is never replaced.
   */
  static open(file: string, clock: Clock = systemClock): RegistryKeyRing {
    const path = resolve(file);
    const existing = readRing(path);
    if (existing) return new RegistryKeyRing(path, existing, clock);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const first = [generateStoredKey(clock())];
    if (writeFileAtomic(path, serializeKeyRing(first), 'create')) return new RegistryKeyRing(path, first, clock);
    // Another process created it between our read and our link: use theirs.
    const theirs = readRing(path);
    if (!theirs) throw keyRingError('KEY_RING_UNREADABLE', path, 'appeared and disappeared while being created');
    return new RegistryKeyRing(path, theirs, clock);
  }

  active(): RegistrySigner {
    return this.#signer;
  }

  publicKeys(): readonly RegistryPublicKey[] {
    return this.#public;
  }

  /**
   * Makes a new active key; the previous one gets expiresAt = now and its private key is dropped
   * from the file. The new file replaces the old one atomically, so a crash leaves either ring
   * whole. Refuses (KEY_RING_CHANGED) when the file on disk no longer has this ring's active key,
   * e.g. another process rotated it meanwhile. Other processes holding the ring keep signing with
   * the old key until they reopen it.
   */
  rotate(): string {
    const onDisk = readRing(this.file);
    if (!onDisk || onDisk[0]?.keyId !== this.#keys[0]?.keyId) {
      throw keyRingError('KEY_RING_CHANGED', this.file, 'changed on disk since it was opened; reopen it and retry');
    }
    const [previous, ...older] = onDisk;
    if (!previous) throw keyRingError('KEY_RING_CORRUPT', this.file, 'has no keys');
    const now = this.#clock();
    const next = generateStoredKey(now);
    const retired: StoredKey = { ...previous, expiresAt: Math.max(now, previous.createdAt), privateKey: null };
    const keys = [next, retired, ...older];
    writeFileAtomic(this.file, serializeKeyRing(keys), 'replace');
    this.#keys = keys;
    this.#signer = RegistryKeyRing.#activeSigner(keys);
    this.#public = publicView(keys);
    return next.keyId;
  }
}
