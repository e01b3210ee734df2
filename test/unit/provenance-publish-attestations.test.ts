// Key-signed bundles: npm's publish attestations (verified with npm's attestation keys) and the
// shape the registry will sign itself (v0.3, publicKey.hint, no tlog entry).
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isAttestryError } from '../../src/core/errors.ts';
import { checkNpmStatement } from '../../src/security/provenance/npm-statement.ts';
import { NPM_PUBLISH_PREDICATE } from '../../src/security/provenance/predicates.ts';
import { buildTrustRoots, publicGoodTrustedRoot } from '../../src/security/provenance/trust-roots.ts';
import { keysFromKeyList, sigstoreKeyHint, type VerificationKey } from '../../src/security/provenance/verification-keys.ts';
import { verifyBundle } from '../../src/security/provenance/verify-bundle.ts';
import { ROOT } from '../support/paths.ts';

const FIXTURES = path.join(ROOT, '..', 'shared', 'fixtures', 'sigstore');
const NPM = path.join(FIXTURES, 'npm');
const NPM_KEY = 'SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA';
const IN_TOTO = 'application/vnd.in-toto+json';

const roots = buildTrustRoots([{ name: 'public-good', json: publicGoodTrustedRoot() }]);
const keyList = JSON.parse(readFileSync(path.join(FIXTURES, 'trusted-roots', 'npm-attestation-keys.json'), 'utf8')) as unknown;
const attestationKeys = keysFromKeyList(keyList, 'npm:attestations');
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test fixtures are edited freely
const json = (file: string): Json => JSON.parse(readFileSync(path.join(NPM, file), 'utf8')) as Json;
const sha512 = (file: string): string => createHash('sha512').update(readFileSync(path.join(NPM, file))).digest('hex');

function refused(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isAttestryError(e), `expected a typed refusal, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

const PUBLISH_ATTESTATIONS: { label: string; bundle: () => Json; name: string; version: string; tarball: string; logIndex: string }[] = [
  { label: 'sigstore-1.3.0.publish.sigstore.json', bundle: () => json('sigstore-1.3.0.publish.sigstore.json'), name: 'sigstore', version: '1.3.0', tarball: 'sigstore-1.3.0.tgz', logIndex: '18300940' },
  { label: 'sigstore-1.0.0.attestations.json, second entry', bundle: () => (json('sigstore-1.0.0.attestations.json').attestations as Json[])[1]?.bundle as Json, name: 'sigstore', version: '1.0.0', tarball: 'sigstore-1.0.0.tgz', logIndex: '12988399' },
  { label: 'tuf-js-1.0.0.attestations.json, second entry', bundle: () => (json('tuf-js-1.0.0.attestations.json').attestations as Json[])[1]?.bundle as Json, name: 'tuf-js', version: '1.0.0', tarball: 'tuf-js-1.0.0.tgz', logIndex: '12987349' },
];

describe('npm publish attestations', () => {
  it('the key list yields the attestation keys with their windows', () => {
    assert.deepEqual([...attestationKeys.keys()].sort(), ['SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U', NPM_KEY]);
    const key = attestationKeys.get(NPM_KEY);
    assert.equal(key?.validFrom, Date.parse('2022-12-01T00:00:00.000Z'));
    assert.equal(key?.validUntil, Date.parse('2025-01-29T00:00:00.000Z'));
    assert.equal(attestationKeys.get('SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U')?.validUntil, null);
  });

  for (const a of PUBLISH_ATTESTATIONS) {
    it(`${a.label} verifies with npm's attestation keys`, () => {
      const v = verifyBundle(a.bundle(), roots, { keys: attestationKeys });
      assert.equal(v.signer, 'public-key');
      assert.equal(v.identity, null);
      assert.equal(v.publicKeyHint, NPM_KEY);
      assert.equal(v.tlog?.logIndex, a.logIndex);
      assert.equal(v.signedAt, v.tlog?.integratedTime);
      assert.ok(v.dsse);
      const statement = checkNpmStatement(v.dsse.payloadType, v.dsse.payload, { name: a.name, version: a.version, sha512hex: sha512(a.tarball) });
      assert.equal(statement.predicateType, NPM_PUBLISH_PREDICATE);
    });

    it(`${a.label} fails without keys`, () => {
      refused(() => verifyBundle(a.bundle(), roots), 'PROVENANCE_KEY_UNKNOWN');
      refused(() => verifyBundle(a.bundle(), roots, { keys: new Map() }), 'PROVENANCE_KEY_UNKNOWN');
    });
  }

  it('a key whose window closed before the signed log time is refused', () => {
    const real = attestationKeys.get(NPM_KEY) as VerificationKey;
    const closed = new Map([[NPM_KEY, { ...real, validUntil: Date.parse('2023-01-01T00:00:00Z') }]]);
    refused(() => verifyBundle(json('sigstore-1.3.0.publish.sigstore.json'), roots, { keys: closed }), 'PROVENANCE_KEY_NOT_VALID');
    const notYet = new Map([[NPM_KEY, { ...real, validFrom: Date.parse('2024-01-01T00:00:00Z') }]]);
    refused(() => verifyBundle(json('sigstore-1.3.0.publish.sigstore.json'), roots, { keys: notYet }), 'PROVENANCE_KEY_NOT_VALID');
  });

  it('the right hint with another key is refused', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const wrong = new Map([[NPM_KEY, { publicKey, validFrom: 0, validUntil: null }]]);
    refused(() => verifyBundle(json('sigstore-1.3.0.publish.sigstore.json'), roots, { keys: wrong }), 'PROVENANCE_SIGNATURE_INVALID');
  });

  it('an edited payload is refused', () => {
    const bundle = json('sigstore-1.3.0.publish.sigstore.json');
    const original = Buffer.from(bundle.dsseEnvelope.payload as string, 'base64').toString('utf8');
    const payload = original.replace('sigstore@1.3.0', 'sigstore@1.3.1');
    assert.notEqual(payload, original);
    bundle.dsseEnvelope.payload = Buffer.from(payload).toString('base64');
    refused(() => verifyBundle(bundle, roots, { keys: attestationKeys }), 'PROVENANCE_TLOG_INVALID');
  });
});

describe('key-signed bundles without a tlog entry (the registry\'s own attestations)', () => {
  const PAYLOAD = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'pkg:npm/widget@1.0.0', digest: { sha512: 'ab'.repeat(64) } }], predicateType: NPM_PUBLISH_PREDICATE, predicate: {} }));
  const pae = (type: string, body: Buffer): Buffer => Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);

  function signed(privateKey: KeyObject, hint: string, payload = PAYLOAD): Json {
    return {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { publicKey: { hint }, tlogEntries: [] },
      dsseEnvelope: { payload: payload.toString('base64'), payloadType: IN_TOTO, signatures: [{ sig: sign('sha256', pae(IN_TOTO, payload), privateKey).toString('base64'), keyid: '' }] },
    };
  }

  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const hint = sigstoreKeyHint(publicKey);
  const NOW = Date.parse('2026-06-01T00:00:00Z');
  const keys = new Map([[hint, { publicKey, validFrom: NOW - 86_400_000, validUntil: null }]]);

  it('verifies, dated now (signedAt = the caller\'s now)', () => {
    const v = verifyBundle(JSON.stringify(signed(privateKey, hint)), roots, { keys, now: NOW });
    assert.equal(v.signer, 'public-key');
    assert.equal(v.publicKeyHint, hint);
    assert.equal(v.tlog, null);
    assert.equal(v.signedAt, NOW);
    assert.deepEqual(v.dsse?.payload, PAYLOAD);
  });

  it('is refused when the payload was changed, the key is unknown, or the key is outside its window now', () => {
    const tampered = signed(privateKey, hint);
    tampered.dsseEnvelope.payload = Buffer.from('{"_type":"x"}').toString('base64');
    refused(() => verifyBundle(tampered, roots, { keys, now: NOW }), 'PROVENANCE_SIGNATURE_INVALID');
    refused(() => verifyBundle(signed(privateKey, hint), roots, { now: NOW }), 'PROVENANCE_KEY_UNKNOWN');
    refused(() => verifyBundle(signed(privateKey, 'another-hint'), roots, { keys, now: NOW }), 'PROVENANCE_KEY_UNKNOWN');
    refused(() => verifyBundle(signed(privateKey, hint), roots, { keys, now: NOW - 2 * 86_400_000 }), 'PROVENANCE_KEY_NOT_VALID');
    const retired = new Map([[hint, { publicKey, validFrom: 0, validUntil: NOW - 1 }]]);
    refused(() => verifyBundle(signed(privateKey, hint), roots, { keys: retired, now: NOW }), 'PROVENANCE_KEY_NOT_VALID');
  });

  it('is refused when signed by another key under the same hint', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    refused(() => verifyBundle(signed(other.privateKey, hint), roots, { keys, now: NOW }), 'PROVENANCE_SIGNATURE_INVALID');
  });

  it('the same shape signed by a Fulcio certificate still needs a tlog entry', () => {
    const bundle = json('sigstore-2.1.0.provenance.v0.3.sigstore.json');
    bundle.verificationMaterial.tlogEntries = [];
    refused(() => verifyBundle(bundle, roots, { keys, now: NOW }), 'PROVENANCE_TLOG_INVALID');
  });
});
