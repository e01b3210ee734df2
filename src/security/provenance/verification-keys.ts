// Plain public keys for key-signed bundles (npm's publish attestations, the registry's own),
// looked up by the bundle's `publicKey.hint`, each with the window in which it may have signed.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import type { KeyFinderFunc } from '@sigstore/verify';
import { invalid } from '../../core/errors.ts';
import { TrustRootError } from './trust-root-error.ts';

export interface VerificationKey {
  publicKey: KeyObject;
  /** ms */
  validFrom: number;
  /** ms; null = no end */
  validUntil: number | null;
}

export type VerificationKeys = ReadonlyMap<string, VerificationKey>;

export const keyValidAt = (key: VerificationKey, at: number): boolean => key.validFrom <= at && (key.validUntil === null || at <= key.validUntil);

/** The hint Sigstore clients (cosign, sigstore-js) write for a managed key: base64 sha256 of the SPKI DER. npm's keys use their own ids ("SHA256:…"). */
export function sigstoreKeyHint(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
}

/** The finder @sigstore/verify calls with the bundle's hint; an unknown hint is our typed refusal, not the library's. */
export function keyFinder(keys: VerificationKeys | undefined): KeyFinderFunc {
  return (hint: string) => {
    const key = keys?.get(hint);
    if (key === undefined) throw invalid('PROVENANCE_KEY_UNKNOWN', `the bundle is signed by key ${JSON.stringify(hint.slice(0, 100))}, which is not a known verification key`);
    return { publicKey: key.publicKey, validFor: (date: Date) => keyValidAt(key, date.getTime()) };
  };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The keys with the given usage (e.g. 'npm:attestations') from a key list in npm's keys.json shape:
 * `{keys: [{keyId, keyUsage, publicKey: {rawBytes (SPKI DER, base64), keyDetails, validFor: {start, end?}}}]}`.
 */
export function keysFromKeyList(json: unknown, usage: string, name = 'key list'): Map<string, VerificationKey> {
  const fail = (why: string): never => {
    throw new TrustRootError('TRUST_KEYS_INVALID', `${name}: ${why}`);
  };
  if (!isObj(json) || !Array.isArray(json.keys)) return fail('expected {"keys": [...]}');
  const out = new Map<string, VerificationKey>();
  json.keys.forEach((k: unknown, i) => {
    if (!isObj(k) || k.keyUsage !== usage) return;
    const pk = k.publicKey;
    if (typeof k.keyId !== 'string' || k.keyId === '') fail(`keys[${i}].keyId is missing`);
    if (!isObj(pk) || typeof pk.rawBytes !== 'string') return fail(`keys[${i}].publicKey.rawBytes is missing`);
    const validFor = pk.validFor;
    const start = isObj(validFor) && typeof validFor.start === 'string' ? Date.parse(validFor.start) : NaN;
    if (!Number.isFinite(start)) fail(`keys[${i}].publicKey.validFor.start is missing or not a time`);
    let end: number | null = null;
    if (isObj(validFor) && validFor.end !== undefined && validFor.end !== null) {
      end = typeof validFor.end === 'string' ? Date.parse(validFor.end) : NaN;
      if (!Number.isFinite(end)) fail(`keys[${i}].publicKey.validFor.end is not a time`);
    }
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: Buffer.from(pk.rawBytes, 'base64'), format: 'der', type: 'spki' });
    } catch (e) {
      return fail(`keys[${i}].publicKey does not parse (${e instanceof Error ? e.message : String(e)})`);
    }
    out.set(k.keyId as string, { publicKey, validFrom: start, validUntil: end });
  });
  return out;
}
