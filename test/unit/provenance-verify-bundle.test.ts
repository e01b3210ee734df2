// verifyBundle, the generic layer: input limits, what it reports, the root-in-chain rule, the
// checkpoint rule, the identity option, and that every failure is a typed refusal.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { bundleFromJSON } from '@sigstore/bundle';
import { RFC3161Timestamp } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { isAttestryError } from '../../src/core/errors.ts';
import { PROVENANCE_CODES } from '../../src/security/provenance/codes.ts';
import { buildTrustRoots, publicGoodTrustedRoot } from '../../src/security/provenance/trust-roots.ts';
import { MAX_BUNDLE_BYTES, verifyBundle } from '../../src/security/provenance/verify-bundle.ts';
import { ROOT } from '../support/paths.ts';

const FIXTURES = path.join(ROOT, '..', 'shared', 'fixtures', 'sigstore');
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test fixtures are edited freely
const read = (file: string): Buffer => readFileSync(path.join(FIXTURES, file));
const json = (file: string): Json => JSON.parse(read(file).toString('utf8')) as Json;
const publicGoodJson = (): Json => json('trusted-roots/public-good.trusted_root.json');
const roots = buildTrustRoots([{ name: 'public-good', json: publicGoodTrustedRoot() }]);
const GITHUB_ACTIONS = 'https://token.actions.githubusercontent.com';
const V03 = 'npm/sigstore-2.1.0.provenance.v0.3.sigstore.json';
const FULL_CHAIN = 'npm/sigstore-js-tests/bundleV01-full-cert-chain.sigstore.json';

function refused(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isAttestryError(e), `expected a typed refusal, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.kind, 'invalid');
    return true;
  });
}

/** What @sigstore/verify alone says, to show a refusal is ours and not the library's. */
function libraryAccepts(bundle: Json, artifact?: Buffer): void {
  new Verifier(toTrustMaterial(TrustedRoot.fromJSON(publicGoodJson()))).verify(toSignedEntity(bundleFromJSON(bundle), artifact));
}

const certsOf = (trustedRoot: Json, field: string, i: number): string[] => (trustedRoot[field][i].certChain.certificates as { rawBytes: string }[]).map((c) => c.rawBytes);

describe('input', () => {
  it('accepts text, bytes and a parsed object alike', () => {
    for (const input of [read(V03).toString('utf8'), read(V03), json(V03)]) assert.equal(verifyBundle(input, roots).signer, 'certificate');
  });

  it('refuses oversize input before parsing, whatever its form', () => {
    const big = ' '.repeat(MAX_BUNDLE_BYTES + 1);
    refused(() => verifyBundle(big, roots), 'PROVENANCE_TOO_LARGE');
    refused(() => verifyBundle(Buffer.from(big), roots), 'PROVENANCE_TOO_LARGE');
    refused(() => verifyBundle({ ...json(V03), padding: big }, roots), 'PROVENANCE_TOO_LARGE');
    // Multi-byte characters count as bytes, not as characters.
    refused(() => verifyBundle('é'.repeat(MAX_BUNDLE_BYTES / 2 + 1), roots), 'PROVENANCE_TOO_LARGE');
    refused(() => verifyBundle(read(V03), roots, { maxBytes: 1024 }), 'PROVENANCE_TOO_LARGE');
    assert.equal(verifyBundle(read(V03), roots, { maxBytes: read(V03).length }).signer, 'certificate');
  });

  it('refuses what is not a JSON object', () => {
    for (const text of ['', 'null', '42', '"bundle"', '[{}]', '{"mediaType":', 'mediaType=bundle']) refused(() => verifyBundle(text, roots), 'PROVENANCE_MALFORMED');
    refused(() => verifyBundle(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), roots), 'PROVENANCE_MALFORMED');
    refused(() => verifyBundle([json(V03)], roots), 'PROVENANCE_MALFORMED');
    refused(() => verifyBundle({ big: 10n }, roots), 'PROVENANCE_MALFORMED');
    const circular: Json = { mediaType: 'x' };
    circular.self = circular;
    refused(() => verifyBundle(circular, roots), 'PROVENANCE_MALFORMED');
  });

  it('refuses unknown or missing media types and schema errors', () => {
    refused(() => verifyBundle({ ...json(V03), mediaType: 'application/vnd.dev.sigstore.bundle.v0.9+json' }, roots), 'PROVENANCE_BAD_BUNDLE');
    refused(() => verifyBundle({ ...json(V03), mediaType: undefined }, roots), 'PROVENANCE_BAD_BUNDLE');
    refused(() => verifyBundle({ mediaType: json(V03).mediaType }, roots), 'PROVENANCE_BAD_BUNDLE');
    // v0.3 forbids a certificate chain.
    const v01 = json('npm/sigstore-2.1.0.provenance.v0.1.sigstore.json');
    refused(() => verifyBundle({ ...v01, mediaType: json(V03).mediaType }, roots), 'PROVENANCE_BAD_BUNDLE');
  });
});

describe('what a verification reports', () => {
  it('a v0.3 DSSE bundle', () => {
    const v = verifyBundle(read(V03), roots);
    assert.equal(v.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    assert.equal(v.signer, 'certificate');
    assert.equal(v.identity?.subjectAlternativeName, 'https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main');
    assert.equal(v.identity?.issuer, GITHUB_ACTIONS);
    assert.equal(v.publicKeyHint, null);
    assert.equal(v.dsse?.payloadType, 'application/vnd.in-toto+json');
    assert.deepEqual(v.dsse?.payload, Buffer.from(json(V03).dsseEnvelope.payload as string, 'base64'));
    assert.deepEqual(v.tlog, { logIndex: '33351527', integratedTime: Date.parse('2023-08-29T15:40:23Z'), logId: 'wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0=', kind: 'intoto', version: '0.0.2' });
    assert.equal(v.trustRoot, 'public-good');
    assert.equal(v.signedAt, Date.parse('2023-08-29T15:40:23Z'));
  });

  it('a message-signature bundle needs its artifact, and only the right one verifies', () => {
    const bundle = read('conformance/happy-path-v0.3/bundle.sigstore.json');
    const artifact = read('conformance/a.txt');
    refused(() => verifyBundle(bundle, roots), 'PROVENANCE_ARTIFACT_REQUIRED');
    const v = verifyBundle(bundle, roots, { artifact });
    assert.equal(v.dsse, null);
    assert.equal(v.tlog?.kind, 'hashedrekord');
    refused(() => verifyBundle(bundle, roots, { artifact: Buffer.concat([artifact, Buffer.from('\n')]) }), 'PROVENANCE_SIGNATURE_INVALID');
    refused(() => verifyBundle(read('conformance/wrong-material_fail/bundle.sigstore.json'), roots, { artifact: read('conformance/wrong-material_fail/artifact') }), 'PROVENANCE_SIGNATURE_INVALID');
  });

  it('a Rekor v2 bundle is dated by its TSA token, not by the log', () => {
    const dir = 'conformance/rekor2-happy-path';
    const caseRoots = buildTrustRoots([{ name: 'rekor2', json: json(`${dir}/trusted_root.json`) }]);
    const bundle = json(`${dir}/bundle.sigstore.json`);
    const v = verifyBundle(bundle, caseRoots, { artifact: read('conformance/a.txt') });
    const token = RFC3161Timestamp.parse(Buffer.from(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp as string, 'base64'));
    assert.equal(v.tlog?.integratedTime, null);
    assert.equal(v.tlog?.version, '0.0.2');
    assert.equal(v.signedAt, token.signingTime.getTime());
  });
});

describe('the identity option (exact match)', () => {
  const SAN = 'https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main';
  it('passes on an exact match and refuses anything else', () => {
    assert.equal(verifyBundle(read(V03), roots, { identity: { subjectAlternativeName: SAN, issuer: GITHUB_ACTIONS } }).identity?.subjectAlternativeName, SAN);
    refused(() => verifyBundle(read(V03), roots, { identity: { subjectAlternativeName: `${SAN}x`, issuer: GITHUB_ACTIONS } }), 'PROVENANCE_IDENTITY_MISMATCH');
    refused(() => verifyBundle(read(V03), roots, { identity: { subjectAlternativeName: SAN.replace('refs/heads/main', 'refs/heads/ma'), issuer: GITHUB_ACTIONS } }), 'PROVENANCE_IDENTITY_MISMATCH');
    refused(() => verifyBundle(read(V03), roots, { identity: { subjectAlternativeName: SAN, issuer: `${GITHUB_ACTIONS}/` } }), 'PROVENANCE_IDENTITY_MISMATCH');
  });

  it('a legacy-only certificate matches on its .1 issuer', () => {
    const bundle = json('npm/sigstore-1.0.0.attestations.json').attestations[0].bundle as Json;
    const identity = { subjectAlternativeName: 'https://github.com/sigstore/sigstore-js/.github/workflows/publish.yml@refs/tags/v1.0.0', issuer: GITHUB_ACTIONS };
    assert.equal(verifyBundle(bundle, roots, { identity }).identity?.legacyRepository, 'sigstore/sigstore-js');
  });
});

describe('our rule for self-signed certificates in a bundle chain', () => {
  const publicGood = publicGoodJson();
  const fulcioRoot = certsOf(publicGood, 'certificateAuthorities', 1).at(-1) as string;
  const tsaRoot = certsOf(publicGood, 'timestampAuthorities', 0).at(-1) as string;
  const stagingRoot = certsOf(json('trusted-roots/staging.trusted_root.json'), 'certificateAuthorities', 0).at(-1) as string;
  const withTrailing = (rawBytes: string): Json => {
    const bundle = json(FULL_CHAIN);
    bundle.verificationMaterial.x509CertificateChain.certificates[2] = { rawBytes };
    return bundle;
  };

  it('a v0.1 chain ending in the trusted Fulcio root is accepted (2023 npm provenance has this shape)', () => {
    assert.equal(json(FULL_CHAIN).verificationMaterial.x509CertificateChain.certificates[2].rawBytes, fulcioRoot);
    assert.equal(verifyBundle(read(FULL_CHAIN), roots).trustRoot, 'public-good');
  });

  it('the same chain ending in another self-signed certificate is refused (the library alone accepts it)', () => {
    for (const other of [stagingRoot, tsaRoot]) {
      libraryAccepts(withTrailing(other));
      refused(() => verifyBundle(withTrailing(other), roots), 'PROVENANCE_UNTRUSTED_ROOT_IN_CHAIN');
    }
  });

  it('the trailing root must belong to the root verified against, not to any configured root', () => {
    const staging = { name: 'staging', json: json('trusted-roots/staging.trusted_root.json') };
    // Against staging the chain rule passes (its root is staging's) but the leaf is not staging's.
    refused(() => verifyBundle(withTrailing(stagingRoot), buildTrustRoots([staging])), 'PROVENANCE_CERTIFICATE_INVALID');
    refused(() => verifyBundle(withTrailing(stagingRoot), buildTrustRoots([{ name: 'public-good', json: publicGood }, staging])), 'PROVENANCE_CERTIFICATE_INVALID');
  });

  it('a self-signed certificate anywhere but at the end is refused, trusted or not', () => {
    // The conformance bundle with a root in the middle, minus its checkpoint-less proof: the library accepts it.
    const bundle = json('conformance/bundle-with-root-cert_fail/bundle.sigstore.json');
    delete bundle.verificationMaterial.tlogEntries[0].inclusionProof;
    const artifact = read('conformance/bundle-with-root-cert_fail/artifact');
    libraryAccepts(bundle, artifact);
    refused(() => verifyBundle(bundle, roots, { artifact }), 'PROVENANCE_UNTRUSTED_ROOT_IN_CHAIN');

    const rootFirst = json(FULL_CHAIN);
    const chain = rootFirst.verificationMaterial.x509CertificateChain.certificates as unknown[];
    chain.unshift(chain.pop());
    refused(() => verifyBundle(rootFirst, roots), 'PROVENANCE_UNTRUSTED_ROOT_IN_CHAIN');
  });

  it('a self-signed certificate as the only certificate (v0.1 chain or v0.3) is refused, even the trusted root', () => {
    const v01 = json(FULL_CHAIN);
    v01.verificationMaterial.x509CertificateChain.certificates = [{ rawBytes: fulcioRoot }];
    refused(() => verifyBundle(v01, roots), 'PROVENANCE_UNTRUSTED_ROOT_IN_CHAIN');
    const v03 = json(V03);
    v03.verificationMaterial.certificate = { rawBytes: fulcioRoot };
    refused(() => verifyBundle(v03, roots), 'PROVENANCE_UNTRUSTED_ROOT_IN_CHAIN');
  });

  it('a chain certificate that does not parse', () => {
    const bundle = json(FULL_CHAIN);
    bundle.verificationMaterial.x509CertificateChain.certificates[1] = { rawBytes: Buffer.from('not a certificate').toString('base64') };
    refused(() => verifyBundle(bundle, roots), 'PROVENANCE_CERTIFICATE_INVALID');
  });
});

describe('our rule for inclusion proofs', () => {
  it('a v0.1 bundle whose inclusion proof has no checkpoint is a bad bundle (the library throws a TypeError)', () => {
    const bundle = json('npm/sigstore-2.1.0.provenance.v0.1.sigstore.json');
    assert.ok(verifyBundle(bundle, roots));
    delete bundle.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint;
    refused(() => verifyBundle(bundle, roots), 'PROVENANCE_BAD_BUNDLE');
    bundle.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint = { envelope: '' };
    refused(() => verifyBundle(bundle, roots), 'PROVENANCE_BAD_BUNDLE');
  });

  it('a v0.1 bundle with the signed entry timestamp only still verifies', () => {
    const bundle = json('npm/sigstore-2.1.0.provenance.v0.1.sigstore.json');
    delete bundle.verificationMaterial.tlogEntries[0].inclusionProof;
    assert.equal(verifyBundle(bundle, roots).signer, 'certificate');
  });
});

describe('every failure is a typed refusal', () => {
  // Fields @sigstore/verify does not authenticate, so changing them may leave a bundle valid:
  // the DSSE keyid hint, TSA data on a bundle dated by its log, the unsigned copies of the
  // tree size and root hash (the signed checkpoint is what the proof is checked against), and
  // the (null) proof of a v0.1 bundle dated by its signed entry timestamp alone.
  const UNAUTHENTICATED = [/\.keyid$/, /^verificationMaterial\.timestampVerificationData/, /\.inclusionProof\.(rootHash|treeSize)$/, /^verificationMaterial\.tlogEntries\.0\.inclusionProof$/];
  const VALUES: unknown[] = [null, 42, -1, '', 'AAAA', 'not base64!', {}, [], true];

  function leaves(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
    if (typeof v === 'object' && v !== null) for (const [k, child] of Object.entries(v)) leaves(child, [...at, Array.isArray(v) ? Number(k) : k], out);
    else out.push(at);
    return out;
  }

  for (const file of [V03, 'npm/sigstore-1.3.0.provenance.sigstore.json', FULL_CHAIN]) {
    it(`every field of ${path.basename(file)} replaced or removed`, () => {
      const base = json(file);
      let tried = 0;
      for (const at of leaves(base)) {
        for (const value of [...VALUES, undefined]) {
          const bundle = structuredClone(base);
          let parent: Json = bundle;
          for (const k of at.slice(0, -1)) parent = parent[k] as Json;
          const key = at.at(-1) as string | number;
          if (value === undefined) Reflect.deleteProperty(parent, key);
          else parent[key] = value;
          tried++;
          try {
            verifyBundle(bundle, roots);
          } catch (e) {
            assert.ok(isAttestryError(e), `${at.join('.')} = ${JSON.stringify(value)}: untyped ${String(e)}`);
            assert.equal(e.kind, 'invalid');
            assert.ok(Object.hasOwn(PROVENANCE_CODES, e.code), `${at.join('.')}: unknown code ${e.code}`);
            continue;
          }
          assert.ok(UNAUTHENTICATED.some((re) => re.test(at.join('.'))), `${at.join('.')} = ${JSON.stringify(value)} was accepted`);
        }
      }
      assert.ok(tried > 100);
    });
  }

  it('every code has an explanation', () => {
    for (const [code, text] of Object.entries(PROVENANCE_CODES)) {
      assert.match(code, /^PROVENANCE_[A-Z_]+$/);
      assert.ok(text.length > 20, code);
    }
  });
});
