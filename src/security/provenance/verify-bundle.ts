// Offline verification of one Sigstore bundle against the configured trusted roots: the generic
// layer under npm provenance, the conformance suite and `attestry verify`. @sigstore/verify does
// the cryptography; this file adds what it lacks (input limits, a known media type, a checkpoint
// on every inclusion proof, the root-in-chain rule, key-signed bundles without a log entry) and
// turns every failure, whatever threw it, into an AttestryError with a PROVENANCE_CODES code.
import { BUNDLE_V01_MEDIA_TYPE, BUNDLE_V02_MEDIA_TYPE, BUNDLE_V03_LEGACY_MEDIA_TYPE, BUNDLE_V03_MEDIA_TYPE, bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import { PolicyError, toSignedEntity, VerificationError, Verifier, type SignedEntity } from '@sigstore/verify';
import { AttestryError, invalid } from '../../core/errors.ts';
import { identityOf, type CertificateIdentity } from './certificate-identity.ts';
import type { ProvenanceCode } from './codes.ts';
import type { TrustRootEntry, TrustRoots } from './trust-roots.ts';
import { keyFinder, keyValidAt, type VerificationKeys } from './verification-keys.ts';

/** Real bundles are 5–12 KB; a chain plus TSA tokens and a large SLSA predicate stay far below this. */
export const MAX_BUNDLE_BYTES = 64 * 1024;

export const BUNDLE_MEDIA_TYPES: readonly string[] = [BUNDLE_V01_MEDIA_TYPE, BUNDLE_V02_MEDIA_TYPE, BUNDLE_V03_LEGACY_MEDIA_TYPE, BUNDLE_V03_MEDIA_TYPE];

export interface BundleVerification {
  mediaType: string;
  /** 'certificate' (Fulcio) or 'public-key' (key-signed, e.g. a registry publish attestation) */
  signer: 'certificate' | 'public-key';
  /** Decoded from the leaf certificate; null for key-signed bundles. */
  identity: CertificateIdentity | null;
  publicKeyHint: string | null;
  /** null for message-signature bundles */
  dsse: { payloadType: string; payload: Buffer } | null;
  /** The first tlog entry; null when the bundle has none. */
  tlog: { logIndex: string; integratedTime: number | null; logId: string; kind: string; version: string } | null;
  /** Name of the root it verified against (for a key-signed bundle without log entry, which uses no root material: the first root). */
  trustRoot: string;
  /** ms: the earliest verified timestamp (signed log time or TSA token); `now` for a key-signed bundle that has none. */
  signedAt: number;
}

export interface VerifyOptions {
  /** default MAX_BUNDLE_BYTES */
  maxBytes?: number;
  /** The signed bytes, for message-signature bundles only (DSSE bundles carry their payload). */
  artifact?: Buffer;
  /** Keys for key-signed bundles, by the bundle's publicKey.hint. */
  keys?: VerificationKeys;
  /** Exact match; the registry's own identity policy is applied by the caller on `identity`. */
  identity?: { subjectAlternativeName: string; issuer: string };
  /** ms; the time a key-signed bundle without any timestamp is taken to be signed at. Default Date.now(). */
  now?: number;
}

const refuse = (code: ProvenanceCode, message: string): AttestryError => invalid(code, message);

function reason(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause: unknown = (e as { cause?: unknown }).cause;
  return cause instanceof Error && cause.message !== e.message ? `${e.message} (${cause.message})` : e.message;
}

type Json = Record<string, unknown>;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The size limit (before parsing) and JSON parse every entry point shares. */
export function parseBundleInput(input: string | Buffer | object, maxBytes: number = MAX_BUNDLE_BYTES): Json {
  let text: string;
  if (typeof input === 'string') {
    if (Buffer.byteLength(input, 'utf8') > maxBytes) throw refuse('PROVENANCE_TOO_LARGE', `the bundle is larger than ${maxBytes} bytes`);
    text = input;
  } else if (input instanceof Uint8Array) {
    if (input.byteLength > maxBytes) throw refuse('PROVENANCE_TOO_LARGE', `the bundle is larger than ${maxBytes} bytes`);
    try {
      text = utf8.decode(input);
    } catch {
      throw refuse('PROVENANCE_MALFORMED', 'the bundle is not UTF-8 text');
    }
  } else {
    // Already parsed by the caller: the same limit applies to its serialised size.
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw refuse('PROVENANCE_MALFORMED', 'the bundle is not a JSON object');
    let size: number;
    try {
      size = Buffer.byteLength(JSON.stringify(input), 'utf8');
    } catch (e) {
      throw refuse('PROVENANCE_MALFORMED', `the bundle is not JSON data: ${reason(e)}`);
    }
    if (size > maxBytes) throw refuse('PROVENANCE_TOO_LARGE', `the bundle is larger than ${maxBytes} bytes`);
    return input as Json;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw refuse('PROVENANCE_MALFORMED', `the bundle is not JSON: ${reason(e)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw refuse('PROVENANCE_MALFORMED', 'the bundle is not a JSON object');
  return parsed as Json;
}

interface ChainCertificate {
  der: Buffer;
  selfIssued: boolean;
}

interface ParsedBundle {
  bundle: Bundle;
  signer: 'certificate' | 'public-key';
  chain: ChainCertificate[];
  hint: string | null;
  entity: SignedEntity;
}

function parseBundle(json: Json, options: VerifyOptions): ParsedBundle {
  const mediaType = json.mediaType;
  if (typeof mediaType !== 'string' || !BUNDLE_MEDIA_TYPES.includes(mediaType)) {
    throw refuse('PROVENANCE_BAD_BUNDLE', `unknown bundle media type ${JSON.stringify(mediaType)?.slice(0, 120) ?? 'undefined'}`);
  }
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(json);
  } catch (e) {
    throw refuse('PROVENANCE_BAD_BUNDLE', `not a valid bundle: ${reason(e)}${fieldsOf(e)}`);
  }
  bundle.verificationMaterial.tlogEntries.forEach((entry, i) => {
    // The library dereferences the checkpoint unguarded (a TypeError; conformance bundle-with-root-cert_fail).
    if (entry.inclusionProof !== undefined && !entry.inclusionProof.checkpoint?.envelope) {
      throw refuse('PROVENANCE_BAD_BUNDLE', `tlog entry ${i} has an inclusion proof without a checkpoint`);
    }
  });
  const material = bundle.verificationMaterial.content;
  let signer: 'certificate' | 'public-key';
  let chain: ChainCertificate[] = [];
  let hint: string | null = null;
  switch (material.$case) {
    case 'publicKey':
      signer = 'public-key';
      hint = material.publicKey.hint;
      break;
    case 'x509CertificateChain':
      signer = 'certificate';
      chain = material.x509CertificateChain.certificates.map((c, i) => chainCertificate(Buffer.from(c.rawBytes), i));
      break;
    case 'certificate':
      signer = 'certificate';
      chain = [chainCertificate(Buffer.from(material.certificate.rawBytes), 0)];
      break;
    default:
      throw refuse('PROVENANCE_BAD_BUNDLE', 'the bundle carries no certificate and no public key');
  }
  if (signer === 'certificate' && bundle.verificationMaterial.tlogEntries.length === 0) {
    throw refuse('PROVENANCE_TLOG_INVALID', 'the bundle has no transparency log entry');
  }
  if (signer === 'public-key' && (hint === null || options.keys?.get(hint) === undefined)) {
    throw refuse('PROVENANCE_KEY_UNKNOWN', `the bundle is signed by key ${JSON.stringify((hint ?? '').slice(0, 100))}, which is not a known verification key`);
  }
  if (bundle.content.$case === 'messageSignature' && options.artifact === undefined) {
    throw refuse('PROVENANCE_ARTIFACT_REQUIRED', 'a message-signature bundle can only be verified against the artifact it signs');
  }
  let entity: SignedEntity;
  try {
    entity = toSignedEntity(bundle, options.artifact);
  } catch (e) {
    throw refuse('PROVENANCE_BAD_BUNDLE', `the bundle cannot be decoded: ${reason(e)}`);
  }
  return { bundle, signer, chain, hint, entity };
}

function fieldsOf(e: unknown): string {
  const fields: unknown = (e as { fields?: unknown } | null)?.fields;
  return Array.isArray(fields) && fields.length > 0 ? ` (${fields.slice(0, 5).join(', ')})` : '';
}

function chainCertificate(der: Buffer, i: number): ChainCertificate {
  try {
    const cert = X509Certificate.parse(der as Buffer<ArrayBuffer>);
    return { der, selfIssued: cert.subject.equals(cert.issuer) };
  } catch (e) {
    throw refuse('PROVENANCE_CERTIFICATE_INVALID', `certificate ${i} of the bundle does not parse: ${reason(e)}`);
  }
}

/**
 * 2023 npm provenance (v0.1 bundles) often carries the whole chain, Fulcio root included; the
 * conformance suite wants clients to refuse roots in chains. Middle ground: the chain may END with
 * a self-signed certificate only if it is byte-identical to a CA certificate of the root verified
 * against; any other self-signed certificate is refused. (The library ignores every certificate
 * but the leaf, so this is the only place the rest of the chain matters.)
 */
function checkChainRoots(chain: readonly ChainCertificate[], entry: TrustRootEntry): void {
  chain.forEach((c, i) => {
    if (!c.selfIssued) return;
    const trustedTrailingRoot = i > 0 && i === chain.length - 1 && entry.caCertificates.some((ca) => ca.equals(c.der));
    if (!trustedTrailingRoot) {
      throw refuse('PROVENANCE_UNTRUSTED_ROOT_IN_CHAIN', `certificate ${i} of the bundle is self-signed and is not the trailing CA certificate of trusted root ${entry.name}`);
    }
  });
}

interface KeyVerifiers {
  withTlog: Verifier;
  withoutTlog: Verifier;
}
const keyVerifierCache = new WeakMap<VerificationKeys, WeakMap<TrustRootEntry, KeyVerifiers>>();

function verifierFor(entry: TrustRootEntry, parsed: ParsedBundle, keys: VerificationKeys | undefined): Verifier {
  if (parsed.signer === 'certificate' || keys === undefined) return entry.verifier;
  let perRoot = keyVerifierCache.get(keys);
  if (perRoot === undefined) {
    perRoot = new WeakMap();
    keyVerifierCache.set(keys, perRoot);
  }
  let verifiers = perRoot.get(entry);
  if (verifiers === undefined) {
    const material = { ...entry.material, publicKey: keyFinder(keys) };
    verifiers = {
      withTlog: new Verifier(material),
      // The registry's own publish attestations carry no log entry and no timestamp: nothing to
      // count, so thresholds 0. Only reachable for key-signed bundles without tlog entries; the
      // key's validity window is then checked at signedAt = now (below, and by the caller).
      withoutTlog: new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }),
    };
    perRoot.set(entry, verifiers);
  }
  return parsed.bundle.verificationMaterial.tlogEntries.length === 0 ? verifiers.withoutTlog : verifiers.withTlog;
}

interface Refusal {
  error: AttestryError;
  /** How far verification got: with several roots, the refusal from the root that got furthest is the informative one. */
  rank: number;
}

function mapError(e: unknown): Refusal {
  if (e instanceof AttestryError) return { error: e, rank: e.code === 'PROVENANCE_UNTRUSTED_ROOT_IN_CHAIN' ? 0 : 2 };
  if (e instanceof VerificationError) {
    const why = reason(e);
    switch (e.code) {
      case 'TIMESTAMP_ERROR':
        return { error: refuse('PROVENANCE_TIMESTAMP_INVALID', `no verifiable timestamp: ${why}`), rank: 1 };
      case 'CERTIFICATE_ERROR':
        return { error: refuse('PROVENANCE_CERTIFICATE_INVALID', `the signing certificate is not trusted: ${why}`), rank: 2 };
      case 'PUBLIC_KEY_ERROR':
        return { error: refuse('PROVENANCE_KEY_NOT_VALID', `the signing key is not valid: ${why}`), rank: 2 };
      case 'TLOG_ERROR':
      case 'TLOG_INCLUSION_PROOF_ERROR':
      case 'TLOG_INCLUSION_PROMISE_ERROR':
      case 'TLOG_MISSING_INCLUSION_ERROR':
      case 'TLOG_BODY_ERROR':
        return { error: refuse('PROVENANCE_TLOG_INVALID', `the transparency log entry does not verify: ${why}`), rank: 3 };
      case 'SIGNATURE_ERROR':
        return { error: refuse('PROVENANCE_SIGNATURE_INVALID', `the signature does not verify: ${why}`), rank: 4 };
      default:
        return { error: refuse('PROVENANCE_BAD_BUNDLE', `the bundle cannot be verified: ${why}`), rank: 3 };
    }
  }
  if (e instanceof PolicyError) return { error: refuse('PROVENANCE_IDENTITY_MISMATCH', `the signer is not the required identity: ${reason(e)}`), rank: 5 };
  // TypeError, OpenSSL decode errors, ValidationError: the bundle holds something undecodable.
  return { error: refuse('PROVENANCE_BAD_BUNDLE', `the bundle cannot be verified: ${reason(e)}`), rank: 3 };
}

/** Tries each trusted root in order; never throws anything but an AttestryError of kind 'invalid' with a PROVENANCE_CODES code. */
export function verifyBundle(input: string | Buffer | object, roots: TrustRoots, options: VerifyOptions = {}): BundleVerification {
  try {
    return verifyOrThrow(input, roots, options);
  } catch (e) {
    throw mapError(e).error;
  }
}

function verifyOrThrow(input: string | Buffer | object, roots: TrustRoots, options: VerifyOptions): BundleVerification {
  const parsed = parseBundle(parseBundleInput(input, options.maxBytes ?? MAX_BUNDLE_BYTES), options);
  let verifiedWith: TrustRootEntry | undefined;
  let best: Refusal | undefined;
  for (const entry of roots.entries) {
    try {
      checkChainRoots(parsed.chain, entry);
      verifierFor(entry, parsed, options.keys).verify(parsed.entity);
      verifiedWith = entry;
      break;
    } catch (e) {
      const refusal = mapError(e);
      if (best === undefined || refusal.rank > best.rank) best = refusal;
    }
  }
  if (verifiedWith === undefined) {
    if (best === undefined) throw refuse('PROVENANCE_CERTIFICATE_INVALID', 'no trusted root to verify against');
    throw roots.entries.length > 1 ? invalid(best.error.code, `${best.error.message} (checked against ${roots.entries.length} trusted roots)`) : best.error;
  }
  return describe(parsed, verifiedWith, options);
}

function describe(parsed: ParsedBundle, root: TrustRootEntry, options: VerifyOptions): BundleVerification {
  const { bundle, entity } = parsed;
  const times = entity.timestamps.flatMap((t) => {
    if (t.$case === 'timestamp-authority') return [t.timestamp.signingTime.getTime()];
    // The verifier dates a log entry only by its signed entry timestamp.
    return t.tlogEntry.inclusionPromise !== undefined ? [Number(t.tlogEntry.integratedTime) * 1000] : [];
  });
  let signedAt: number;
  if (times.length > 0) {
    signedAt = Math.min(...times);
  } else {
    signedAt = options.now ?? Date.now();
    const key = parsed.hint === null ? undefined : options.keys?.get(parsed.hint);
    if (key === undefined || !keyValidAt(key, signedAt)) {
      throw refuse('PROVENANCE_KEY_NOT_VALID', `the signing key is not valid at ${new Date(signedAt).toISOString()}, and the bundle carries no timestamp`);
    }
  }
  const leaf = parsed.chain[0];
  const identity = parsed.signer === 'certificate' && leaf !== undefined ? identityOf(leaf.der) : null;
  if (options.identity !== undefined) {
    const want = options.identity;
    if (identity === null || identity.subjectAlternativeName !== want.subjectAlternativeName || identity.issuer !== want.issuer) {
      throw refuse('PROVENANCE_IDENTITY_MISMATCH', identity === null
        ? 'the bundle is key-signed, but a certificate identity is required'
        : `the bundle was signed by ${identity.subjectAlternativeName} (issuer ${identity.issuer}), not by ${want.subjectAlternativeName} (issuer ${want.issuer})`);
    }
  }
  const first = bundle.verificationMaterial.tlogEntries[0];
  const integrated = first === undefined ? 0 : Number(first.integratedTime);
  return {
    mediaType: bundle.mediaType,
    signer: parsed.signer,
    identity,
    publicKeyHint: parsed.hint,
    dsse: bundle.content.$case === 'dsseEnvelope'
      ? { payloadType: bundle.content.dsseEnvelope.payloadType, payload: Buffer.from(bundle.content.dsseEnvelope.payload) }
      : null,
    tlog: first === undefined ? null : {
      logIndex: first.logIndex,
      integratedTime: Number.isFinite(integrated) && integrated > 0 ? integrated * 1000 : null,
      logId: Buffer.from(first.logId.keyId).toString('base64'),
      kind: first.kindVersion.kind,
      version: first.kindVersion.version,
    },
    trustRoot: root.name,
    signedAt,
  };
}
