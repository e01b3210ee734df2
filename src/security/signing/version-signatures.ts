// npm registry signatures (`dist.signatures`) and the keys document clients verify them with
// (`GET /-/npm/v1/keys`).
//
// What clients check (read from their source):
// - npm CLI 11 (pacote/lib/registry.js, `npm audit signatures`): message `${name}@${version}:${integrity}`
//   with integrity = String(ssri.parse(dist.integrity)); for each entry of dist.signatures the key
//   with the same keyid (missing → EMISSINGSIGNATUREKEY); if the key has `expires`, the version's
//   publish time (packument `time[version]`, 2015-01-01 when absent) must be strictly before it
//   (else EEXPIREDSIGNATUREKEY); then crypto.createVerify('SHA256').verify(PEM of `key`, sig, 'base64').
// - pnpm 12 (`pnpm audit signatures`, native): the same keys endpoint and messages, and it refuses a
//   version pinned by a non-sha512 integrity. Its self-installer (get-pnpm) checks expiry against
//   *now*, not the publish time, using keys pinned in the package.
// So: sign exactly one sha512 SRI string, and never drop a retired key from the document.
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { invalid } from '../../core/errors.ts';
import { decodeBase64Strict, keyIdOf } from './key-id.ts';
import type { RegistryPublicKey, RegistrySigner } from './registry-keys.ts';

/** A single sha512 SRI: what npm normalises to unchanged, and the only kind pnpm accepts. */
const SHA512_SRI = /^sha512-[A-Za-z0-9+/]{86}==$/;
const KEY_TYPE = 'ecdsa-sha2-nistp256';
const MAX_KEYS = 100;

export function signatureMessage(name: string, version: string, integrity: string): Buffer {
  return Buffer.from(`${name}@${version}:${integrity}`, 'utf8');
}

export function signVersion(signer: RegistrySigner, name: string, version: string, integrity: string): { keyid: string; sig: string } {
  if (typeof name !== 'string' || name.length === 0 || typeof version !== 'string' || version.length === 0) {
    throw invalid('SIGNATURE_INPUT_INVALID', 'a registry signature needs a package name and version');
  }
  if (typeof integrity !== 'string' || !SHA512_SRI.test(integrity)) {
    throw invalid('SIGNATURE_INPUT_INVALID', 'a registry signature covers exactly one sha512 integrity string');
  }
  return { keyid: signer.keyId, sig: signer.sign(signatureMessage(name, version, integrity)).toString('base64') };
}

/** npm's semantics: the key with that id exists, had not expired at `publishedAt` (ms), and the signature verifies. Never throws. */
export function verifyVersionSignature(
  keys: readonly RegistryPublicKey[],
  name: string,
  version: string,
  integrity: string,
  sig: { keyid: string; sig: string },
  publishedAt: number,
): boolean {
  try {
    const key = keys.find((k) => k.keyId === sig.keyid);
    if (!key || !Number.isFinite(publishedAt)) return false;
    if (key.expiresAt !== null && !(publishedAt < key.expiresAt)) return false;
    const signature = typeof sig.sig === 'string' ? decodeBase64Strict(sig.sig) : null;
    if (!signature) return false;
    const publicKey = createPublicKey({ key: key.publicKeyDer, format: 'der', type: 'spki' });
    return cryptoVerify('sha256', signatureMessage(name, version, integrity), { key: publicKey, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

/** The body of GET /-/npm/v1/keys (newest first, retired keys with their expiry), serialised once. */
export function keysDocument(keys: readonly RegistryPublicKey[]): string {
  return JSON.stringify({
    keys: keys.map((k) => ({
      expires: k.expiresAt === null ? null : new Date(k.expiresAt).toISOString(),
      keyid: k.keyId,
      keytype: KEY_TYPE,
      scheme: KEY_TYPE,
      key: k.publicKeyDer.toString('base64'),
    })),
  });
}

/**
 * Parses a keys document fetched from a registry. Every entry must be an ECDSA P-256 key whose keyid
 * is its fingerprint (how npm labels keys), `expires` null/absent or an ISO-8601 time; unknown fields are
 * ignored. The document does not say when a key was created, so createdAt is 0.
 */
export function parseKeysDocument(body: unknown): RegistryPublicKey[] {
  const fail = (reason: string): never => {
    throw invalid('KEYS_DOCUMENT_INVALID', `registry keys document: ${reason}`);
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail('not a JSON object');
  const list = (body as Record<string, unknown>).keys;
  if (!Array.isArray(list)) return fail('keys is not an array');
  if (list.length > MAX_KEYS) return fail(`more than ${MAX_KEYS} keys`);
  const seen = new Set<string>();
  return list.map((raw: unknown, i): RegistryPublicKey => {
    const at = `keys[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(`${at} is not an object`);
    const entry = raw as Record<string, unknown>;
    if (entry.keytype !== KEY_TYPE || entry.scheme !== KEY_TYPE) return fail(`${at} is not an ${KEY_TYPE} key`);
    if (typeof entry.keyid !== 'string') return fail(`${at}.keyid is not a string`);
    const der = typeof entry.key === 'string' ? decodeBase64Strict(entry.key) : null;
    if (!der) return fail(`${at}.key is not base64`);
    let keyId: string;
    try {
      keyId = keyIdOf(der);
    } catch {
      return fail(`${at}.key is not an ECDSA P-256 public key`);
    }
    if (entry.keyid !== keyId) return fail(`${at}.keyid is not the fingerprint of its key`);
    if (seen.has(keyId)) return fail(`${at}.keyid appears twice`);
    seen.add(keyId);
    let expiresAt: number | null = null;
    // npm treats a missing `expires` like null (`!publicKey.expires`).
    if (entry.expires !== null && entry.expires !== undefined) {
      const ms = typeof entry.expires === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(entry.expires) ? Date.parse(entry.expires) : Number.NaN;
      if (!Number.isFinite(ms)) return fail(`${at}.expires is neither null nor an ISO-8601 time`);
      expiresAt = ms;
    }
    return { keyId, publicKeyDer: der, createdAt: 0, expiresAt };
  });
}
