// The on-disk form of the registry key ring (one JSON document) and its strict reader. The reader
// never repairs anything: a file that does not parse exactly is reported, and left alone, because
// replacing it would silently drop keys that clients already trust.
import { createPrivateKey, createPublicKey, generateKeyPairSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { AttestryError } from '../../core/errors.ts';
import { decodeBase64Strict, keyIdOf } from './key-id.ts';

export const KEY_RING_FORMAT = 'attestry-registry-keys/1';
const ALGORITHM = 'ecdsa-p256-sha256';

export interface StoredKey {
  keyId: string;
  publicKeyDer: Buffer;
  createdAt: number;
  expiresAt: number | null;
  /** Only the active key has one. */
  privateKey: KeyObject | null;
}

/** Thrown for a ring file that exists but cannot be used; the message names the file, never its content. */
export function keyRingError(code: 'KEY_RING_CORRUPT' | 'KEY_RING_UNREADABLE' | 'KEY_RING_PERMISSIONS' | 'KEY_RING_CHANGED', file: string, reason: string): AttestryError {
  return new AttestryError('unavailable', code, `registry key ring ${file}: ${reason}`);
}

export function generateStoredKey(now: number): StoredKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const publicKeyDer = publicKey.export({ type: 'spki', format: 'der' });
  return { keyId: keyIdOf(publicKeyDer), publicKeyDer, createdAt: now, expiresAt: null, privateKey };
}

export function serializeKeyRing(keys: readonly StoredKey[]): string {
  const entries = keys.map((k) => ({
    keyId: k.keyId,
    algorithm: ALGORITHM,
    publicKey: k.publicKeyDer.toString('base64'),
    createdAt: new Date(k.createdAt).toISOString(),
    expiresAt: k.expiresAt === null ? null : new Date(k.expiresAt).toISOString(),
    ...(k.privateKey ? { privateKey: k.privateKey.export({ type: 'pkcs8', format: 'pem' }) } : {}),
  }));
  return `${JSON.stringify({ format: KEY_RING_FORMAT, keys: entries }, null, 2)}\n`;
}

function isoTime(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) && new Date(ms).toISOString() === value ? ms : null;
}

function parseEntry(raw: unknown, index: number, fail: (reason: string) => never): StoredKey {
  const at = `keys[${index}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${at} is not an object`);
  const entry = raw as Record<string, unknown>;
  if (entry.algorithm !== ALGORITHM) fail(`${at}.algorithm is not ${ALGORITHM}`);
  const publicKeyDer = typeof entry.publicKey === 'string' ? decodeBase64Strict(entry.publicKey) : null;
  if (!publicKeyDer) fail(`${at}.publicKey is not base64`);
  let keyId: string;
  try {
    keyId = keyIdOf(publicKeyDer);
  } catch {
    fail(`${at}.publicKey is not an ECDSA P-256 public key`);
  }
  if (entry.keyId !== keyId) fail(`${at}.keyId does not match its public key`);
  const createdAt = isoTime(entry.createdAt);
  if (createdAt === null) fail(`${at}.createdAt is not an ISO-8601 UTC time`);
  const expiresAt = entry.expiresAt === null ? null : isoTime(entry.expiresAt);
  if (entry.expiresAt !== null && (expiresAt === null || expiresAt < createdAt)) fail(`${at}.expiresAt is not null or an ISO-8601 UTC time after createdAt`);
  let privateKey: KeyObject | null = null;
  if (entry.privateKey !== undefined) {
    if (typeof entry.privateKey !== 'string') fail(`${at}.privateKey is not a PEM string`);
    try {
      privateKey = createPrivateKey({ key: entry.privateKey, format: 'pem' });
    } catch {
      // The parser's message is dropped on purpose: nothing from a private key reaches a log.
      fail(`${at}.privateKey is not a PKCS#8 PEM private key`);
    }
    const derived = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    if (derived.length !== publicKeyDer.length || !timingSafeEqual(derived, publicKeyDer)) fail(`${at}.privateKey does not belong to its public key`);
  }
  return { keyId, publicKeyDer, createdAt, expiresAt, privateKey };
}

/** Parses and checks the whole ring: exactly one active key, first, unexpired, with its private key; every other key retired without one. */
export function parseKeyRing(text: string, file: string): StoredKey[] {
  const fail: (reason: string) => never = (reason) => {
    throw keyRingError('KEY_RING_CORRUPT', file, `${reason}; the file was left untouched (restore it from a backup rather than deleting it: clients trust the keys it holds)`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // JSON.parse quotes the text around the error, which may be private key material.
    fail('not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail('not a JSON object');
  const { format, keys } = doc as Record<string, unknown>;
  if (format !== KEY_RING_FORMAT) fail(`format is not ${KEY_RING_FORMAT}`);
  if (!Array.isArray(keys) || keys.length === 0) fail('keys is not a non-empty array');
  const parsed = (keys as unknown[]).map((k, i) => parseEntry(k, i, fail));
  const ids = new Set(parsed.map((k) => k.keyId));
  if (ids.size !== parsed.length) fail('a key id appears twice');
  const [active, ...retired] = parsed;
  if (!active?.privateKey || active.expiresAt !== null) fail('keys[0] is not an active key (with a private key and no expiry)');
  if (retired.some((k) => k.privateKey !== null || k.expiresAt === null)) fail('a key other than keys[0] still has a private key or no expiry');
  return parsed;
}
