// verifyNpmProvenance on real npm provenance (../shared/fixtures/sigstore/npm/), each mutation
// refused with its code, and the statement checker on synthetic statements.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isAttestryError } from '../../src/core/errors.ts';
import { verifyNpmProvenance, type NpmProvenanceExpectation } from '../../src/security/provenance/npm-provenance.ts';
import { checkNpmStatement } from '../../src/security/provenance/npm-statement.ts';
import { NPM_PUBLISH_PREDICATE, SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1 } from '../../src/security/provenance/predicates.ts';
import { buildTrustRoots, publicGoodTrustedRoot } from '../../src/security/provenance/trust-roots.ts';
import { MAX_BUNDLE_BYTES } from '../../src/security/provenance/verify-bundle.ts';
import { ROOT } from '../support/paths.ts';

const FIXTURES = path.join(ROOT, '..', 'shared', 'fixtures', 'sigstore');
const NPM = path.join(FIXTURES, 'npm');
const GITHUB_ACTIONS = 'https://token.actions.githubusercontent.com';
const GITHUB_OAUTH = 'https://github.com/login/oauth';
const IN_TOTO = 'application/vnd.in-toto+json';

const roots = buildTrustRoots([{ name: 'public-good', json: publicGoodTrustedRoot() }]);
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test fixtures are edited freely
const read = (file: string): Buffer => readFileSync(path.join(NPM, file));
const json = (file: string): Json => JSON.parse(read(file).toString('utf8')) as Json;
const sha512 = (bytes: Buffer): string => createHash('sha512').update(bytes).digest('hex');
const attestation = (file: string, i: number): Json => (json(file).attestations as Json[])[i]?.bundle as Json;

function expectation(name: string, version: string, tarball: string, issuer = GITHUB_ACTIONS): NpmProvenanceExpectation {
  return { name, version, sha512hex: sha512(read(tarball)), issuerSupported: (i) => i === issuer };
}

function refused(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isAttestryError(e), `expected a typed refusal, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.kind, 'invalid');
    return true;
  });
}

const v03 = (): Json => json('sigstore-2.1.0.provenance.v0.3.sigstore.json');
const V03_EXPECT = expectation('sigstore', '2.1.0', 'sigstore-2.1.0.tgz');

function withStatement(bundle: Json, edit: (statement: Json) => void): Json {
  const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload as string, 'base64').toString('utf8')) as Json;
  edit(statement);
  bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
  return bundle;
}

describe('real npm provenance verifies', () => {
  const cases: { label: string; bundle: () => unknown; expect: NpmProvenanceExpectation; predicate: string; san: string; logIndex: string }[] = [
    { label: 'sigstore@2.1.0, bundle v0.3', bundle: () => read('sigstore-2.1.0.provenance.v0.3.sigstore.json'), expect: V03_EXPECT, predicate: SLSA_PROVENANCE_V1, san: 'https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main', logIndex: '33351527' },
    { label: 'sigstore@2.1.0, bundle v0.1', bundle: () => read('sigstore-2.1.0.provenance.v0.1.sigstore.json'), expect: V03_EXPECT, predicate: SLSA_PROVENANCE_V1, san: 'https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main', logIndex: '33351527' },
    { label: 'sigstore@2.0.0', bundle: () => read('sigstore-2.0.0.provenance.sigstore.json').toString('utf8'), expect: expectation('sigstore', '2.0.0', 'sigstore-2.0.0.tgz'), predicate: SLSA_PROVENANCE_V1, san: 'https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main', logIndex: '31821305' },
    { label: 'sigstore@1.3.0 (SLSA v0.2, SET only)', bundle: () => json('sigstore-1.3.0.provenance.sigstore.json'), expect: expectation('sigstore', '1.3.0', 'sigstore-1.3.0.tgz'), predicate: SLSA_PROVENANCE_V02, san: 'https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main', logIndex: '18300934' },
    { label: 'sigstore@1.0.0 from the attestations response (legacy-only certificate)', bundle: () => attestation('sigstore-1.0.0.attestations.json', 0), expect: expectation('sigstore', '1.0.0', 'sigstore-1.0.0.tgz'), predicate: SLSA_PROVENANCE_V02, san: 'https://github.com/sigstore/sigstore-js/.github/workflows/publish.yml@refs/tags/v1.0.0', logIndex: '12988397' },
    { label: 'tuf-js@1.0.0 from the attestations response (legacy-only certificate)', bundle: () => attestation('tuf-js-1.0.0.attestations.json', 0), expect: expectation('tuf-js', '1.0.0', 'tuf-js-1.0.0.tgz'), predicate: SLSA_PROVENANCE_V02, san: 'https://github.com/theupdateframework/tuf-js/.github/workflows/publish.yml@refs/tags/v1.0.0', logIndex: '12987347' },
  ];
  for (const c of cases) {
    it(c.label, () => {
      const v = verifyNpmProvenance(c.bundle() as object, roots, c.expect);
      assert.equal(v.signer, 'certificate');
      assert.equal(v.predicateType, c.predicate);
      assert.equal(v.subjectName, `pkg:npm/${c.expect.name}@${c.expect.version}`);
      assert.equal(v.identity.subjectAlternativeName, c.san);
      assert.equal(v.identity.issuer, GITHUB_ACTIONS);
      assert.equal(v.tlog?.logIndex, c.logIndex);
      assert.equal(v.trustRoot, 'public-good');
      assert.equal(v.signedAt, v.tlog?.integratedTime);
      assert.equal((v.statement.subject as unknown[]).length, 1);
    });
  }

  // sigstore-js's backward-compatibility bundles: a person (email SAN) signed npm's publish
  // statement for sigstore@1.0.0, so they verify only when that issuer is accepted.
  for (const file of ['bundleV01-dsse-no-proof', 'bundleV01-dsse-with-proof', 'bundleV01-intoto-no-proof', 'bundleV01-intoto-with-proof', 'bundleV01-full-cert-chain', 'bundleV02-dsse', 'bundleV02-intoto', 'bundleV03-dsse', 'bundleV03-intoto']) {
    it(`sigstore-js-tests/${file} (every bundle media type), refused for an unsupported issuer`, () => {
      const bundle = read(`sigstore-js-tests/${file}.sigstore.json`);
      const v = verifyNpmProvenance(bundle, roots, expectation('sigstore', '1.0.0', 'sigstore-1.0.0.tgz', GITHUB_OAUTH));
      assert.equal(v.predicateType, NPM_PUBLISH_PREDICATE);
      assert.equal(v.identity.subjectAlternativeName, 'brian@dehamer.com');
      refused(() => verifyNpmProvenance(bundle, roots, expectation('sigstore', '1.0.0', 'sigstore-1.0.0.tgz')), 'PROVENANCE_ISSUER_UNSUPPORTED');
    });
  }
});

describe('mutations of real provenance are refused', () => {
  it('the tarball with one byte flipped', () => {
    const tarball = read('sigstore-2.1.0.tgz');
    const at = tarball.length >> 1;
    tarball[at] = (tarball[at] as number) ^ 0x01;
    refused(() => verifyNpmProvenance(v03(), roots, { ...V03_EXPECT, sha512hex: sha512(tarball) }), 'PROVENANCE_DIGEST_MISMATCH');
  });

  it('the subject name edited in the signed payload (the log entry no longer matches)', () => {
    const edited = withStatement(v03(), (s) => void (s.subject[0].name = 'pkg:npm/evil@2.1.0'));
    refused(() => verifyNpmProvenance(edited, roots, { ...V03_EXPECT, name: 'evil' }), 'PROVENANCE_TLOG_INVALID');
  });

  it('the subject digest edited in the payload of a v0.1 bundle', () => {
    const tarball = read('sigstore-2.0.0.tgz');
    tarball[0] = (tarball[0] as number) ^ 0x01;
    const edited = withStatement(json('sigstore-2.0.0.provenance.sigstore.json'), (s) => void (s.subject[0].digest.sha512 = sha512(tarball)));
    refused(() => verifyNpmProvenance(edited, roots, { ...expectation('sigstore', '2.0.0', 'sigstore-2.0.0.tgz'), sha512hex: sha512(tarball) }), 'PROVENANCE_TLOG_INVALID');
  });

  it('the predicate edited in the payload', () => {
    const edited = withStatement(v03(), (s) => void (s.predicate.buildDefinition.externalParameters.workflow.repository = 'https://github.com/evil/evil'));
    refused(() => verifyNpmProvenance(edited, roots, V03_EXPECT), 'PROVENANCE_TLOG_INVALID');
  });

  it('the same provenance presented for another package name or version', () => {
    refused(() => verifyNpmProvenance(v03(), roots, { ...V03_EXPECT, name: 'sigstore-evil' }), 'PROVENANCE_SUBJECT_NAME_MISMATCH');
    refused(() => verifyNpmProvenance(v03(), roots, { ...V03_EXPECT, name: '@evil/sigstore' }), 'PROVENANCE_SUBJECT_NAME_MISMATCH');
    refused(() => verifyNpmProvenance(v03(), roots, { ...V03_EXPECT, version: '2.1.1' }), 'PROVENANCE_SUBJECT_NAME_MISMATCH');
  });

  it('the certificate swapped for another fixture\'s genuine certificate', () => {
    const bundle = v03();
    const other = json('sigstore-2.0.0.provenance.sigstore.json');
    bundle.verificationMaterial.certificate = { rawBytes: other.verificationMaterial.x509CertificateChain.certificates[0].rawBytes };
    refused(() => verifyNpmProvenance(bundle, roots, V03_EXPECT), 'PROVENANCE_CERTIFICATE_INVALID');
  });

  it('the tlog entry removed', () => {
    const bundle = v03();
    bundle.verificationMaterial.tlogEntries = [];
    refused(() => verifyNpmProvenance(bundle, roots, V03_EXPECT), 'PROVENANCE_TLOG_INVALID');
  });

  it('the signed entry timestamp moved by one second', () => {
    const bundle = json('sigstore-1.3.0.provenance.sigstore.json');
    const entry = bundle.verificationMaterial.tlogEntries[0];
    entry.integratedTime = String(Number(entry.integratedTime) + 1);
    refused(() => verifyNpmProvenance(bundle, roots, expectation('sigstore', '1.3.0', 'sigstore-1.3.0.tgz')), 'PROVENANCE_TLOG_INVALID');
  });

  it('a predicate type the expectation does not allow', () => {
    refused(() => verifyNpmProvenance(v03(), roots, { ...V03_EXPECT, allowedPredicates: [SLSA_PROVENANCE_V02] }), 'PROVENANCE_PREDICATE_NOT_ALLOWED');
  });

  it('a genuine bundle with a predicate npm does not know (a PyPI publish attestation)', () => {
    const bundle = readFileSync(path.join(FIXTURES, 'pypi', 'pypi_attestation_models-0.0.4a2.tar.gz.sigstore'));
    refused(() => verifyNpmProvenance(bundle, roots, V03_EXPECT), 'PROVENANCE_PREDICATE_NOT_ALLOWED');
  });

  it('an issuer the registry does not accept', () => {
    refused(() => verifyNpmProvenance(v03(), roots, { ...V03_EXPECT, issuerSupported: () => false }), 'PROVENANCE_ISSUER_UNSUPPORTED');
    // Legacy-only certificate: the issuer comes from 1.1 and is checked all the same.
    refused(() => verifyNpmProvenance(attestation('sigstore-1.0.0.attestations.json', 0), roots, { ...expectation('sigstore', '1.0.0', 'sigstore-1.0.0.tgz'), issuerSupported: (i) => i === GITHUB_OAUTH }), 'PROVENANCE_ISSUER_UNSUPPORTED');
  });

  it('a key-signed bundle (npm\'s own publish attestation) is not provenance', () => {
    refused(() => verifyNpmProvenance(read('sigstore-1.3.0.publish.sigstore.json'), roots, expectation('sigstore', '1.3.0', 'sigstore-1.3.0.tgz')), 'PROVENANCE_NOT_CERTIFICATE_SIGNED');
    refused(() => verifyNpmProvenance(attestation('tuf-js-1.0.0.attestations.json', 1), roots, expectation('tuf-js', '1.0.0', 'tuf-js-1.0.0.tgz')), 'PROVENANCE_NOT_CERTIFICATE_SIGNED');
  });

  it('a message-signature bundle is not provenance', () => {
    const bundle = readFileSync(path.join(FIXTURES, 'conformance', 'happy-path-v0.3', 'bundle.sigstore.json'));
    refused(() => verifyNpmProvenance(bundle, roots, V03_EXPECT), 'PROVENANCE_BAD_PAYLOAD_TYPE');
  });

  it('oversize input, before parsing', () => {
    refused(() => verifyNpmProvenance(' '.repeat(MAX_BUNDLE_BYTES + 1), roots, V03_EXPECT), 'PROVENANCE_TOO_LARGE');
    refused(() => verifyNpmProvenance(read('sigstore-2.1.0.provenance.v0.3.sigstore.json'), roots, { ...V03_EXPECT, maxBytes: 4096 }), 'PROVENANCE_TOO_LARGE');
  });

  it('input that is not a JSON object', () => {
    refused(() => verifyNpmProvenance('{"mediaType": ', roots, V03_EXPECT), 'PROVENANCE_MALFORMED');
    refused(() => verifyNpmProvenance('[]', roots, V03_EXPECT), 'PROVENANCE_MALFORMED');
    refused(() => verifyNpmProvenance(Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), roots, V03_EXPECT), 'PROVENANCE_MALFORMED');
  });
});

describe('libnpmpublish-malformed: every file refused', () => {
  const TEST_PKG = '@npmcli/libnpmpublish-test';
  const files: [string, string][] = [
    // No tlog entries at all: refused before the statement is looked at.
    ['digest-mismatch-provenance-bundle.json', 'PROVENANCE_TLOG_INVALID'],
    ['multi-subject-provenance-bundle.json', 'PROVENANCE_TLOG_INVALID'],
    ['no-provenance-subject-bundle.json', 'PROVENANCE_TLOG_INVALID'],
    ['no-provenance-envelope-bundle.json', 'PROVENANCE_BAD_BUNDLE'],
  ];
  for (const [file, code] of files) {
    it(file, () => {
      refused(() => verifyNpmProvenance(read(`libnpmpublish-malformed/${file}`), roots, expectation(TEST_PKG, '1.0.0', 'sigstore-1.0.0.tgz')), code);
    });
  }

  // Their statements, through the checker the registry runs after verification.
  const statementOf = (file: string): Buffer => Buffer.from(json(`libnpmpublish-malformed/${file}`).dsseEnvelope.payload as string, 'base64');
  const expect = { name: TEST_PKG, version: '1.0.0', sha512hex: sha512(read('sigstore-1.0.0.tgz')) };
  it('their statements: two subjects, no subject, a digest that matches no tarball', () => {
    refused(() => checkNpmStatement(IN_TOTO, statementOf('multi-subject-provenance-bundle.json'), expect), 'PROVENANCE_SUBJECT_COUNT');
    refused(() => checkNpmStatement(IN_TOTO, statementOf('no-provenance-subject-bundle.json'), expect), 'PROVENANCE_BAD_STATEMENT');
    refused(() => checkNpmStatement(IN_TOTO, statementOf('digest-mismatch-provenance-bundle.json'), expect), 'PROVENANCE_DIGEST_MISMATCH');
  });
});

describe('checkNpmStatement on synthetic statements', () => {
  const DIGEST = 'ab'.repeat(64);
  const EXPECT = { name: '@acme/widget', version: '1.2.3', sha512hex: DIGEST };
  const statement = (over: Json = {}): Json => ({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'pkg:npm/%40acme/widget@1.2.3', digest: { sha512: DIGEST } }],
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {},
    ...over,
  });
  const check = (s: unknown, payloadType = IN_TOTO) => checkNpmStatement(payloadType, Buffer.from(typeof s === 'string' ? s : JSON.stringify(s)), EXPECT);

  it('accepts a well-formed statement (scoped name as %40, digest in either case, in-toto v0.1 or v1)', () => {
    assert.equal(check(statement()).subjectName, 'pkg:npm/%40acme/widget@1.2.3');
    assert.equal(check(statement({ _type: 'https://in-toto.io/Statement/v0.1' })).predicateType, SLSA_PROVENANCE_V1);
    assert.equal(checkNpmStatement(IN_TOTO, Buffer.from(JSON.stringify(statement())), { ...EXPECT, sha512hex: DIGEST.toUpperCase() }).predicateType, SLSA_PROVENANCE_V1);
    assert.equal(check(statement({ subject: [{ name: 'pkg:npm/%40acme/widget@1.2.3', digest: { sha512: DIGEST.toUpperCase() } }] })).predicateType, SLSA_PROVENANCE_V1);
  });

  it('refuses each defect with its code', () => {
    refused(() => check(statement(), 'application/json'), 'PROVENANCE_BAD_PAYLOAD_TYPE');
    refused(() => check('not json'), 'PROVENANCE_BAD_STATEMENT');
    refused(() => check('[1]'), 'PROVENANCE_BAD_STATEMENT');
    refused(() => check(statement({ _type: 'https://in-toto.io/Statement/v2' })), 'PROVENANCE_BAD_STATEMENT');
    refused(() => check(statement({ predicateType: undefined })), 'PROVENANCE_BAD_STATEMENT');
    refused(() => check(statement({ predicateType: 'https://example.com/anything' })), 'PROVENANCE_PREDICATE_NOT_ALLOWED');
    refused(() => check(statement({ subject: 'pkg:npm/%40acme/widget@1.2.3' })), 'PROVENANCE_BAD_STATEMENT');
    refused(() => check(statement({ subject: [] })), 'PROVENANCE_SUBJECT_COUNT');
    refused(() => check(statement({ subject: [statement().subject[0], statement().subject[0]] })), 'PROVENANCE_SUBJECT_COUNT');
    refused(() => check(statement({ subject: ['x'] })), 'PROVENANCE_BAD_STATEMENT');
    refused(() => check(statement({ subject: [{ name: 'pkg:npm/@acme/widget@1.2.3', digest: { sha512: DIGEST } }] })), 'PROVENANCE_SUBJECT_NAME_MISMATCH');
    refused(() => check(statement({ subject: [{ name: 'pkg:npm/%40acme/widget@1.2.4', digest: { sha512: DIGEST } }] })), 'PROVENANCE_SUBJECT_NAME_MISMATCH');
    refused(() => check(statement({ subject: [{ name: 'pkg:npm/%40acme/widget@1.2.3', digest: { sha256: 'ab'.repeat(32) } }] })), 'PROVENANCE_DIGEST_MISMATCH');
    refused(() => check(statement({ subject: [{ name: 'pkg:npm/%40acme/widget@1.2.3', digest: { sha512: 'cd'.repeat(64) } }] })), 'PROVENANCE_DIGEST_MISMATCH');
    refused(() => check(statement({ subject: [{ name: 'pkg:npm/%40acme/widget@1.2.3', digest: { sha512: ` ${DIGEST}` } }] })), 'PROVENANCE_DIGEST_MISMATCH');
  });
});
