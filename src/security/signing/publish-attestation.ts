// The registry's publish attestation: "this registry accepted this tarball as <name>@<version>",
// an in-toto statement with npm's publish predicate, in a DSSE envelope signed with the registry
// key, packed as a Sigstore bundle whose `publicKey.hint` is the key id (npm's shape).
//
// Ours carry no transparency-log entry (there is no log here yet), so they are bundle v0.3
// with `tlogEntries: []`: @sigstore/bundle accepts zero entries for every media type (the v0.2+
// inclusion-proof rule applies per entry), and @sigstore/verify accepts them with its tlog, ctlog and
// timestamp thresholds at 0 (test/unit/signing-attestation.test.ts proves both).
//
// When was it signed? The key's validity window must contain the signing time. A bundle with a
// verified time (a Rekor entry's signed integrated time, or an RFC 3161 token) is judged at that
// time, which @sigstore/verify checks against the key window for every such timestamp — this is what
// the npm CLI does (integratedTime < expires) and why npm's 2023 attestations still verify after
// their key expired in 2025. A bundle without one (ours) carries no time an attacker could not
// forge, so it is judged at `options.at`: the version's publish time from a source the caller
// trusts (the registry's own database), or now. Stripping the log entry from a real attestation
// therefore only makes it harder to pass.
//
// Compatibility note: the npm CLI reads `tlogEntries[0].integratedTime` of keyed attestations
// without a guard and then requires a tlog entry, so a bundle without one must not be advertised
// to it in `dist.attestations` until the registry has a log.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { bundleFromJSON, BUNDLE_V01_MEDIA_TYPE, BUNDLE_V02_MEDIA_TYPE, BUNDLE_V03_LEGACY_MEDIA_TYPE, BUNDLE_V03_MEDIA_TYPE, type Bundle } from '@sigstore/bundle';
import { toSignedEntity, toTrustMaterial, Verifier, type SignedEntity, type TrustMaterial } from '@sigstore/verify';
import { invalid, isAttestryError, type AttestryError } from '../../core/errors.ts';
import { IN_TOTO_PAYLOAD_TYPE, NPM_PUBLISH_PREDICATE, npmPurl } from '../provenance/predicates.ts';
import { buildTrustRoots, publicGoodTrustedRoot, TrustRootError } from '../provenance/trust-roots.ts';
import type { RegistryPublicKey, RegistrySigner } from './registry-keys.ts';

export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** npm's 2023 attestations use the older statement type; the fields we read are the same. */
const IN_TOTO_STATEMENT_TYPES: readonly string[] = [IN_TOTO_STATEMENT_V1, 'https://in-toto.io/Statement/v0.1'];
const ACCEPTED_MEDIA_TYPES: readonly string[] = [BUNDLE_V01_MEDIA_TYPE, BUNDLE_V02_MEDIA_TYPE, BUNDLE_V03_LEGACY_MEDIA_TYPE, BUNDLE_V03_MEDIA_TYPE];
const SHA512_HEX = /^[0-9a-f]{128}$/;
/** A publish attestation is a few kilobytes; anything near this is not one. */
const MAX_BUNDLE_BYTES = 256 * 1024;

/** DSSE pre-authentication encoding: what the envelope signature covers. */
export function dssePae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

/** The registry's publish attestation for one version, as Sigstore bundle JSON text. */
export function publishAttestation(signer: RegistrySigner, input: { name: string; version: string; sha512hex: string; registry: string }): string {
  const { name, version, sha512hex, registry } = input;
  if (typeof name !== 'string' || name === '' || typeof version !== 'string' || version === '' || typeof registry !== 'string' || registry === '') {
    throw invalid('PUBLISH_ATTESTATION_INPUT_INVALID', 'a publish attestation needs a name, a version and the registry URL');
  }
  if (typeof sha512hex !== 'string' || !SHA512_HEX.test(sha512hex)) {
    throw invalid('PUBLISH_ATTESTATION_INPUT_INVALID', 'a publish attestation needs the tarball sha512 as 128 lowercase hex digits');
  }
  const statement = {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: npmPurl(name, version), digest: { sha512: sha512hex } }],
    predicateType: NPM_PUBLISH_PREDICATE,
    predicate: { name, version, registry },
  };
  const payload = Buffer.from(JSON.stringify(statement), 'utf8');
  const sig = signer.sign(dssePae(IN_TOTO_PAYLOAD_TYPE, payload));
  return JSON.stringify({
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: signer.keyId }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    dsseEnvelope: {
      payload: payload.toString('base64'),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: sig.toString('base64'), keyid: signer.keyId }],
    },
  });
}

export interface VerifyPublishAttestationOptions {
  /** When to judge the key's validity if the bundle carries no verified time (ms; default now). */
  at?: number;
  /**
   * Logs and timestamp authorities that date a bundle (e.g. the `material` of a provenance trust
   * root). Only consulted when the bundle has a log entry or a timestamp; default: the public-good
   * Sigstore root embedded in @sigstore/tuf.
   */
  timeAuthorities?: Pick<TrustMaterial, 'tlogs' | 'timestampAuthorities'>;
}

export interface VerifiedPublishAttestation {
  statement: Record<string, unknown>;
  keyId: string;
  /** The verified signing time (ms) from the bundle's log entry or timestamp; null when it has none and `at` was used. */
  signedAt: number | null;
}

const refuse = (reason: string, message: string): AttestryError => invalid('PUBLISH_ATTESTATION_INVALID', `publish attestation refused: ${message}`, { reason });

let publicGood: Pick<TrustMaterial, 'tlogs' | 'timestampAuthorities'> | undefined;
function publicGoodAuthorities(): Pick<TrustMaterial, 'tlogs' | 'timestampAuthorities'> {
  if (!publicGood) {
    const entry = buildTrustRoots([{ name: 'public-good', json: publicGoodTrustedRoot() }]).entries[0];
    if (!entry) throw new Error('public-good trusted root did not build');
    publicGood = { tlogs: entry.material.tlogs, timestampAuthorities: entry.material.timestampAuthorities };
  }
  return publicGood;
}

interface WindowedKey {
  key: RegistryPublicKey;
  publicKey: KeyObject;
}

/** Sigstore's window, with npm's exclusive end: createdAt <= t < expiresAt. */
const validAt = (key: RegistryPublicKey, t: number): boolean => key.createdAt <= t && (key.expiresAt === null || t < key.expiresAt);

function parseBundle(bundleJson: string | object): Bundle {
  let json: unknown = bundleJson;
  if (typeof bundleJson === 'string') {
    if (Buffer.byteLength(bundleJson, 'utf8') > MAX_BUNDLE_BYTES) throw refuse('too-large', 'larger than a publish attestation can be');
    try {
      json = JSON.parse(bundleJson);
    } catch {
      throw refuse('malformed', 'not JSON');
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw refuse('malformed', 'not a JSON object');
  const mediaType = (json as Record<string, unknown>).mediaType;
  if (typeof mediaType !== 'string' || !ACCEPTED_MEDIA_TYPES.includes(mediaType)) throw refuse('media-type', 'not a Sigstore bundle media type this registry knows');
  try {
    return bundleFromJSON(json);
  } catch {
    throw refuse('bundle-schema', 'does not follow the Sigstore bundle schema');
  }
}

function findKey(keys: readonly RegistryPublicKey[], hint: string): WindowedKey {
  const key = keys.find((k) => k.keyId === hint);
  if (!key) throw refuse('key-not-found', `signed by key ${JSON.stringify(hint.slice(0, 100))}, which is not one of the given keys`);
  try {
    return { key, publicKey: createPublicKey({ key: key.publicKeyDer, format: 'der', type: 'spki' }) };
  } catch {
    throw refuse('key-unusable', `key ${hint} does not parse`);
  }
}

/** Signature (and any log entry or timestamp) through @sigstore/verify; returns the verified signing times. */
function verifyCryptographically(entity: SignedEntity, key: WindowedKey, options: VerifyPublishAttestationOptions): number[] {
  const dated = entity.timestamps.length > 0 || entity.tlogEntries.length > 0;
  const authorities = dated ? (options.timeAuthorities ?? publicGoodAuthorities()) : { tlogs: [], timestampAuthorities: [] };
  const material: TrustMaterial = {
    ...toTrustMaterial({ mediaType: '', tlogs: [], ctlogs: [], certificateAuthorities: [], timestampAuthorities: [] }, () => ({
      publicKey: key.publicKey,
      validFor: (date: Date) => validAt(key.key, date.getTime()),
    })),
    tlogs: authorities.tlogs,
    timestampAuthorities: authorities.timestampAuthorities,
  };
  try {
    // Thresholds 0: nothing is required beyond the signature, but every entry and timestamp the
    // bundle does carry is verified, and the key window is checked at each verified time.
    new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity);
  } catch (e) {
    const code = typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : '';
    throw refuse(libraryReason(code), `does not verify${code ? ` (${code})` : ''}`);
  }
  const times: number[] = [];
  for (const t of entity.timestamps) {
    if (t.$case === 'transparency-log' && t.tlogEntry.inclusionPromise) times.push(Number(t.tlogEntry.integratedTime) * 1000);
    if (t.$case === 'timestamp-authority') times.push(t.timestamp.signingTime.getTime());
  }
  return times;
}

/** Our stable reasons for the library's codes, so callers never depend on a library version. */
function libraryReason(code: string): string {
  if (code === 'SIGNATURE_ERROR') return 'signature';
  if (code === 'PUBLIC_KEY_ERROR') return 'key-not-valid';
  if (code.startsWith('TLOG')) return 'tlog';
  if (code === 'TIMESTAMP_ERROR') return 'timestamp';
  return 'verification-error';
}

function checkStatement(payload: Buffer, expect: { name: string; version: string; sha512hex: string }): Record<string, unknown> {
  let statement: unknown;
  try {
    statement = JSON.parse(payload.toString('utf8'));
  } catch {
    throw refuse('statement', 'the signed payload is not JSON');
  }
  if (typeof statement !== 'object' || statement === null || Array.isArray(statement)) throw refuse('statement', 'the signed payload is not a JSON object');
  const s = statement as Record<string, unknown>;
  if (typeof s._type !== 'string' || !IN_TOTO_STATEMENT_TYPES.includes(s._type)) throw refuse('statement', 'the signed payload is not an in-toto statement');
  if (s.predicateType !== NPM_PUBLISH_PREDICATE) throw refuse('predicate-type', 'the statement is not a publish attestation');
  if (!Array.isArray(s.subject) || s.subject.length !== 1) throw refuse('subject-count', 'the statement must have exactly one subject');
  const subject = s.subject[0] as { name?: unknown; digest?: { sha512?: unknown } } | null;
  if (subject?.name !== npmPurl(expect.name, expect.version)) throw refuse('subject-name', 'the statement names another package or version');
  const expected = typeof expect.sha512hex === 'string' ? expect.sha512hex.toLowerCase() : '';
  if (!SHA512_HEX.test(expected) || subject.digest?.sha512 !== expected) throw refuse('subject-digest', 'the statement covers another tarball');
  const predicate = s.predicate as { name?: unknown; version?: unknown } | null;
  if (predicate?.name !== expect.name || predicate.version !== expect.version) throw refuse('predicate', 'the predicate names another package or version');
  return s;
}

/**
 * Verifies a publish attestation (ours, or npm's with a Rekor entry) with the given keys and returns
 * its statement; any failure is an AttestryError PUBLISH_ATTESTATION_INVALID whose `detail.reason`
 * says which check failed.
 */
export function verifyPublishAttestation(
  bundleJson: string | object,
  keys: readonly RegistryPublicKey[],
  expect: { name: string; version: string; sha512hex: string },
  options: VerifyPublishAttestationOptions = {},
): VerifiedPublishAttestation {
  try {
    const bundle = parseBundle(bundleJson);
    if (bundle.content.$case !== 'dsseEnvelope') throw refuse('not-dsse', 'not a DSSE envelope');
    if (bundle.verificationMaterial.content.$case !== 'publicKey') throw refuse('not-key-signed', 'not signed with a registry key');
    const envelope = bundle.content.dsseEnvelope;
    const hint = bundle.verificationMaterial.content.publicKey.hint;
    // npm clients pick the key by the envelope's keyid, @sigstore/verify by the hint: they must agree.
    const keyid = envelope.signatures[0]?.keyid ?? '';
    if (hint === '' || (keyid !== '' && keyid !== hint)) throw refuse('key-hint', 'the key hint and the signature key id differ');
    if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) throw refuse('payload-type', 'the payload is not an in-toto statement');
    const key = findKey(keys, hint);
    let entity: SignedEntity;
    try {
      entity = toSignedEntity(bundle);
    } catch {
      throw refuse('bundle-schema', 'does not follow the Sigstore bundle schema');
    }
    const times = verifyCryptographically(entity, key, options);
    if (times.length === 0) {
      const at = options.at ?? Date.now();
      if (!validAt(key.key, at)) throw refuse('key-not-valid', `key ${hint} was not valid at ${Number.isFinite(at) ? new Date(at).toISOString() : 'the given time'}`);
    }
    const statement = checkStatement(Buffer.from(envelope.payload), expect);
    return { statement, keyId: hint, signedAt: times.length > 0 ? Math.min(...times) : null };
  } catch (e) {
    if (isAttestryError(e) && e.code === 'PUBLISH_ATTESTATION_INVALID') throw e;
    // The default root failing to load is the server's problem, not the bundle's.
    if (e instanceof TrustRootError) throw e;
    // Anything else (a library TypeError on a malformed part, a decoder error) is a refusal too.
    throw refuse('verification-error', 'could not be verified');
  }
}
