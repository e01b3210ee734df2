// The registry's publish attestation (in-toto + npm publish predicate, DSSE, Sigstore bundle with a
// key hint and no log entry) and its verifier, against our own bundles and npm's real ones.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bundleFromJSON, BUNDLE_V01_MEDIA_TYPE, BUNDLE_V02_MEDIA_TYPE, BUNDLE_V03_LEGACY_MEDIA_TYPE, BUNDLE_V03_MEDIA_TYPE } from '@sigstore/bundle';
import { PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, VerificationError, Verifier } from '@sigstore/verify';
import { isAttestryError } from '../../src/core/errors.ts';
import { IN_TOTO_PAYLOAD_TYPE, NPM_PUBLISH_PREDICATE } from '../../src/security/provenance/predicates.ts';
import { publishAttestation, verifyPublishAttestation } from '../../src/security/signing/publish-attestation.ts';
import { RegistryKeyRing, type RegistryPublicKey } from '../../src/security/signing/registry-keys.ts';

const scratch = mkdtempSync(join(tmpdir(), 'attestry-att-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const FIXTURES = new URL('../../../shared/fixtures/sigstore/', import.meta.url);
const fixture = (path: string): string => readFileSync(new URL(path, FIXTURES), 'utf8');

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
let now = T0;
const ring = RegistryKeyRing.open(join(scratch, 'ring.json'), () => now);
const stranger = RegistryKeyRing.open(join(scratch, 'stranger.json'), () => now);
const sha512hex = createHash('sha512').update('tarball').digest('hex');
const INPUT = { name: '@acme/widget', version: '1.2.3', sha512hex, registry: 'https://registry.example.test/' };
const EXPECT = { name: INPUT.name, version: INPUT.version, sha512hex };

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ours = (): Json => JSON.parse(publishAttestation(ring.active(), INPUT)) as Json;
const statementOf = (bundle: Json): Json => JSON.parse(Buffer.from(bundle.dsseEnvelope.payload as string, 'base64').toString('utf8')) as Json;

function refusedWith(reason: string, fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isAttestryError(e), String(e));
    assert.equal(e.code, 'PUBLISH_ATTESTATION_INVALID');
    assert.equal(e.detail?.reason, reason, e.message);
    return true;
  });
}

const EMPTY_ROOT = TrustedRoot.fromJSON({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] });

/** @sigstore/verify used directly, as any Sigstore client would, with the key served by the registry. */
function sigstoreVerify(bundleJson: unknown, key: RegistryPublicKey, thresholds = { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }): void {
  const bundle = bundleFromJSON(bundleJson);
  const material = toTrustMaterial(EMPTY_ROOT, {
    [key.keyId]: { rawBytes: key.publicKeyDer, keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256, validFor: { start: new Date(key.createdAt), end: undefined } },
  });
  new Verifier(material, thresholds).verify(toSignedEntity(bundle));
}

describe('publishAttestation: the bundle', () => {
  it("has npm's shape: v0.3 bundle, key hint, in-toto statement with the publish predicate and a purl subject", () => {
    const bundle = ours();
    assert.equal(bundle.mediaType, BUNDLE_V03_MEDIA_TYPE);
    assert.deepEqual(bundle.verificationMaterial.publicKey, { hint: ring.active().keyId });
    assert.deepEqual(bundle.verificationMaterial.tlogEntries, []);
    assert.equal(bundle.dsseEnvelope.payloadType, IN_TOTO_PAYLOAD_TYPE);
    assert.deepEqual(bundle.dsseEnvelope.signatures.map((s: Json) => s.keyid), [ring.active().keyId]);
    assert.deepEqual(statementOf(bundle), {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'pkg:npm/%40acme/widget@1.2.3', digest: { sha512: sha512hex } }],
      predicateType: NPM_PUBLISH_PREDICATE,
      predicate: { name: '@acme/widget', version: '1.2.3', registry: 'https://registry.example.test/' },
    });
  });

  it('verifies with @sigstore/verify directly, given the key and zero tlog/ctlog/timestamp thresholds', () => {
    const key = ring.publicKeys()[0];
    assert.ok(key);
    sigstoreVerify(ours(), key);
  });

  it('needs those zero thresholds: the library defaults demand a timestamp and a log entry', () => {
    const key = ring.publicKeys()[0];
    assert.ok(key);
    assert.throws(() => sigstoreVerify(ours(), key, { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 }), (e: unknown) => e instanceof VerificationError && e.code === 'TIMESTAMP_ERROR');
    assert.throws(() => sigstoreVerify(ours(), key, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 0 }), (e: unknown) => e instanceof VerificationError && e.code === 'TLOG_ERROR');
  });

  it('@sigstore/bundle accepts zero tlog entries under every bundle media type, with or without timestamp data', () => {
    for (const mediaType of [BUNDLE_V01_MEDIA_TYPE, BUNDLE_V02_MEDIA_TYPE, BUNDLE_V03_LEGACY_MEDIA_TYPE, BUNDLE_V03_MEDIA_TYPE]) {
      const bundle: Json = { ...ours(), mediaType };
      assert.equal(bundleFromJSON(bundle).mediaType, mediaType);
      const { timestampVerificationData: _dropped, ...material } = bundle.verificationMaterial as Json;
      assert.equal(bundleFromJSON({ ...bundle, verificationMaterial: material }).verificationMaterial.tlogEntries.length, 0);
    }
  });

  it('@sigstore/verify refuses it with another key, and with an edited payload', () => {
    const strangerKey = stranger.publicKeys()[0];
    const key = ring.publicKeys()[0];
    assert.ok(strangerKey && key);
    assert.throws(() => sigstoreVerify(ours(), { ...strangerKey, keyId: key.keyId }), (e: unknown) => e instanceof VerificationError && e.code === 'SIGNATURE_ERROR');
    assert.throws(() => sigstoreVerify(ours(), strangerKey), (e: unknown) => e instanceof VerificationError && e.code === 'PUBLIC_KEY_ERROR');
    const edited = ours();
    edited.dsseEnvelope.payload = Buffer.from(JSON.stringify({ ...statementOf(edited), predicate: { ...statementOf(edited).predicate, version: '9.9.9' } })).toString('base64');
    assert.throws(() => sigstoreVerify(edited, key), (e: unknown) => e instanceof VerificationError && e.code === 'SIGNATURE_ERROR');
  });

  it('refuses to sign a malformed digest or missing fields', () => {
    for (const bad of [{ ...INPUT, sha512hex: sha512hex.toUpperCase() }, { ...INPUT, sha512hex: sha512hex.slice(2) }, { ...INPUT, name: '' }, { ...INPUT, registry: '' }]) {
      assert.throws(() => publishAttestation(ring.active(), bad), (e: unknown) => isAttestryError(e) && e.code === 'PUBLISH_ATTESTATION_INPUT_INVALID');
    }
  });
});

describe('verifyPublishAttestation: ours', () => {
  it('returns the statement and key id (from text or an object)', () => {
    const text = publishAttestation(ring.active(), INPUT);
    for (const input of [text, JSON.parse(text) as object]) {
      const result = verifyPublishAttestation(input, ring.publicKeys(), EXPECT);
      assert.equal(result.keyId, ring.active().keyId);
      assert.equal(result.signedAt, null, 'no log entry: nothing dates it');
      assert.deepEqual(result.statement, statementOf(JSON.parse(text) as Json));
    }
  });

  it('refuses another key', () => {
    refusedWith('key-not-found', () => verifyPublishAttestation(ours(), stranger.publicKeys(), EXPECT));
    const impostor = { ...(stranger.publicKeys()[0] as RegistryPublicKey), keyId: ring.active().keyId };
    refusedWith('signature', () => verifyPublishAttestation(ours(), [impostor], EXPECT));
  });

  it('refuses another name, version or digest', () => {
    refusedWith('subject-name', () => verifyPublishAttestation(ours(), ring.publicKeys(), { ...EXPECT, name: '@acme/widgets' }));
    refusedWith('subject-name', () => verifyPublishAttestation(ours(), ring.publicKeys(), { ...EXPECT, version: '1.2.4' }));
    refusedWith('subject-digest', () => verifyPublishAttestation(ours(), ring.publicKeys(), { ...EXPECT, sha512hex: createHash('sha512').update('other').digest('hex') }));
    refusedWith('subject-digest', () => verifyPublishAttestation(ours(), ring.publicKeys(), { ...EXPECT, sha512hex: 'abc' }));
  });

  it('refuses an edited payload, signature or envelope', () => {
    const edited = ours();
    const statement = statementOf(edited);
    statement.subject[0].digest.sha512 = createHash('sha512').update('evil').digest('hex');
    edited.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    refusedWith('signature', () => verifyPublishAttestation(edited, ring.publicKeys(), { ...EXPECT, sha512hex: statement.subject[0].digest.sha512 as string }));

    const flipped = ours();
    const sig = Buffer.from(flipped.dsseEnvelope.signatures[0].sig as string, 'base64');
    sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 1;
    flipped.dsseEnvelope.signatures[0].sig = sig.toString('base64');
    refusedWith('signature', () => verifyPublishAttestation(flipped, ring.publicKeys(), EXPECT));

    const retyped = ours();
    retyped.dsseEnvelope.payloadType = 'application/json';
    refusedWith('payload-type', () => verifyPublishAttestation(retyped, ring.publicKeys(), EXPECT));

    const twoNames = ours();
    twoNames.dsseEnvelope.signatures[0].keyid = stranger.active().keyId;
    refusedWith('key-hint', () => verifyPublishAttestation(twoNames, [...ring.publicKeys(), ...stranger.publicKeys()], EXPECT));
  });

  it('refuses a statement that is not a publish attestation', () => {
    const signer = ring.active();
    const resign = (statement: Json): Json => {
      const payload = Buffer.from(JSON.stringify(statement));
      const pae = Buffer.concat([Buffer.from(`DSSEv1 ${IN_TOTO_PAYLOAD_TYPE.length} ${IN_TOTO_PAYLOAD_TYPE} ${payload.length} `), payload]);
      const bundle = ours();
      bundle.dsseEnvelope.payload = payload.toString('base64');
      bundle.dsseEnvelope.signatures[0].sig = signer.sign(pae).toString('base64');
      return bundle;
    };
    const base = statementOf(ours());
    // The resigning helper is itself correct: the unchanged statement passes.
    verifyPublishAttestation(resign(base), ring.publicKeys(), EXPECT);
    refusedWith('predicate-type', () => verifyPublishAttestation(resign({ ...base, predicateType: 'https://slsa.dev/provenance/v1' }), ring.publicKeys(), EXPECT));
    refusedWith('subject-count', () => verifyPublishAttestation(resign({ ...base, subject: [...(base.subject as Json[]), ...(base.subject as Json[])] }), ring.publicKeys(), EXPECT));
    refusedWith('statement', () => verifyPublishAttestation(resign({ ...base, _type: 'https://example.test/Statement' }), ring.publicKeys(), EXPECT));
    refusedWith('predicate', () => verifyPublishAttestation(resign({ ...base, predicate: { ...base.predicate, version: '0.0.1' } }), ring.publicKeys(), EXPECT));
  });

  it('judges the key at `at` (default now): valid before its retirement, refused from it on', () => {
    const local = RegistryKeyRing.open(join(scratch, 'rotating.json'), () => now);
    const bundle = publishAttestation(local.active(), INPUT);
    now = T0 + 1000;
    local.rotate();
    now = T0;
    verifyPublishAttestation(bundle, local.publicKeys(), EXPECT, { at: T0 + 999 });
    refusedWith('key-not-valid', () => verifyPublishAttestation(bundle, local.publicKeys(), EXPECT, { at: T0 + 1000 }));
    refusedWith('key-not-valid', () => verifyPublishAttestation(bundle, local.publicKeys(), EXPECT));
    // Before the key existed is outside its window too.
    refusedWith('key-not-valid', () => verifyPublishAttestation(bundle, local.publicKeys(), EXPECT, { at: T0 - 1 }));
    // The new key's own attestations verify now.
    verifyPublishAttestation(publishAttestation(local.active(), INPUT), local.publicKeys(), EXPECT);
  });

  it('refuses what is not a key-signed publish bundle at all', () => {
    refusedWith('malformed', () => verifyPublishAttestation('{', ring.publicKeys(), EXPECT));
    refusedWith('malformed', () => verifyPublishAttestation('[]', ring.publicKeys(), EXPECT));
    refusedWith('too-large', () => verifyPublishAttestation(' '.repeat(300 * 1024), ring.publicKeys(), EXPECT));
    refusedWith('media-type', () => verifyPublishAttestation({ ...ours(), mediaType: 'application/vnd.dev.sigstore.bundle+json;version=9.9' }, ring.publicKeys(), EXPECT));
    refusedWith('bundle-schema', () => verifyPublishAttestation({ ...ours(), dsseEnvelope: { ...ours().dsseEnvelope, signatures: [] } }, ring.publicKeys(), EXPECT));
    // npm provenance is certificate-signed: not a registry publish attestation.
    refusedWith('not-key-signed', () => verifyPublishAttestation(fixture('npm/sigstore-1.3.0.provenance.sigstore.json'), ring.publicKeys(), EXPECT));
  });
});

// npm's keys file: Sigstore PublicKey form, one entry per usage with its validity window.
const npmAttestationKeys = (): RegistryPublicKey[] =>
  (JSON.parse(fixture('trusted-roots/npm-attestation-keys.json')) as { keys: { keyId: string; keyUsage: string; publicKey: { rawBytes: string; validFor: { start: string; end?: string } } }[] }).keys
    .filter((k) => k.keyUsage === 'npm:attestations')
    .map((k) => ({ keyId: k.keyId, publicKeyDer: Buffer.from(k.publicKey.rawBytes, 'base64'), createdAt: Date.parse(k.publicKey.validFor.start), expiresAt: k.publicKey.validFor.end ? Date.parse(k.publicKey.validFor.end) : null }));

describe("verifyPublishAttestation: npm's real publish attestations", () => {
  const sigstore130 = { name: 'sigstore', version: '1.3.0', sha512hex: createHash('sha512').update(readFileSync(new URL('npm/sigstore-1.3.0.tgz', FIXTURES))).digest('hex') };

  it('verifies sigstore@1.3.0 at its Rekor signing time (2023), though its key expired in 2025', () => {
    const keys = npmAttestationKeys();
    assert.equal(keys.find((k) => k.keyId === 'SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA')?.expiresAt, Date.parse('2025-01-29T00:00:00.000Z'));
    const result = verifyPublishAttestation(fixture('npm/sigstore-1.3.0.publish.sigstore.json'), keys, sigstore130);
    assert.equal(result.keyId, 'SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA');
    assert.equal(result.signedAt, 1681839916 * 1000);
    assert.equal(result.statement.predicateType, NPM_PUBLISH_PREDICATE);
    // `at` does not override a verified signing time.
    verifyPublishAttestation(fixture('npm/sigstore-1.3.0.publish.sigstore.json'), keys, sigstore130, { at: Date.parse('2030-01-01T00:00:00Z') });
  });

  it('verifies the publish attestation from the npm attestations endpoint body of sigstore@1.0.0', () => {
    const body = JSON.parse(fixture('npm/sigstore-1.0.0.attestations.json')) as { attestations: { predicateType: string; bundle: object }[] };
    const publish = body.attestations.find((a) => a.predicateType === NPM_PUBLISH_PREDICATE);
    assert.ok(publish);
    const sha = createHash('sha512').update(readFileSync(new URL('npm/sigstore-1.0.0.tgz', FIXTURES))).digest('hex');
    assert.equal(verifyPublishAttestation(publish.bundle, npmAttestationKeys(), { name: 'sigstore', version: '1.0.0', sha512hex: sha }).signedAt, 1675965362 * 1000);
  });

  it('stripping the log entry only hurts: the expired key is then judged now', () => {
    const stripped = JSON.parse(fixture('npm/sigstore-1.3.0.publish.sigstore.json')) as Json;
    stripped.verificationMaterial.tlogEntries = [];
    refusedWith('key-not-valid', () => verifyPublishAttestation(stripped, npmAttestationKeys(), sigstore130));
    // … and at a time inside the key's window it verifies, which shows the signature itself is fine.
    verifyPublishAttestation(stripped, npmAttestationKeys(), sigstore130, { at: Date.parse('2023-04-18T00:00:00Z') });
  });

  it('a log entry is verified, not just read: a forged time, an unknown log, or a key window that excludes it are refused', () => {
    const moved = JSON.parse(fixture('npm/sigstore-1.3.0.publish.sigstore.json')) as Json;
    moved.verificationMaterial.tlogEntries[0].integratedTime = String(1681839916 + 1);
    refusedWith('tlog', () => verifyPublishAttestation(moved, npmAttestationKeys(), sigstore130));
    refusedWith('tlog', () => verifyPublishAttestation(fixture('npm/sigstore-1.3.0.publish.sigstore.json'), npmAttestationKeys(), sigstore130, { timeAuthorities: { tlogs: [], timestampAuthorities: [] } }));
    const lateStart = npmAttestationKeys().map((k) => ({ ...k, createdAt: Date.parse('2024-01-01T00:00:00Z') }));
    refusedWith('key-not-valid', () => verifyPublishAttestation(fixture('npm/sigstore-1.3.0.publish.sigstore.json'), lateStart, sigstore130));
    refusedWith('subject-digest', () => verifyPublishAttestation(fixture('npm/sigstore-1.3.0.publish.sigstore.json'), npmAttestationKeys(), { ...sigstore130, sha512hex: sha512hex }));
  });
});
