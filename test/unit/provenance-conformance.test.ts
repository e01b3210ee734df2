// The sigstore-conformance bundle-verify corpus (70 cases) through verifyBundle, with the corpus
// rules of ../shared/fixtures/sigstore/README.md. Every _fail case must fail with the code listed
// below (at building its trusted root, loading its key, verifying, or at our subject check);
// every other case must verify.
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isAttestryError } from '../../src/core/errors.ts';
import { PROVENANCE_CODES } from '../../src/security/provenance/codes.ts';
import { buildTrustRoots, publicGoodTrustedRoot, TrustRootError, type TrustRoots } from '../../src/security/provenance/trust-roots.ts';
import { sigstoreKeyHint, type VerificationKey } from '../../src/security/provenance/verification-keys.ts';
import { verifyBundle } from '../../src/security/provenance/verify-bundle.ts';
import { ROOT } from '../support/paths.ts';

const CORPUS = path.join(ROOT, '..', 'shared', 'fixtures', 'sigstore', 'conformance');
const BEACON = {
  subjectAlternativeName: 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main',
  issuer: 'https://token.actions.githubusercontent.com',
};

/** Where and how each _fail case must fail. Stages: root (buildTrustRoots), key (key.pub does not parse), verify. */
const EXPECTED_FAILURES: Record<string, string> = {
  'bundle-empty-certificate-chain_fail': 'verify:PROVENANCE_BAD_BUNDLE',
  'bundle-from-wrong-instance_fail': 'verify:PROVENANCE_CERTIFICATE_INVALID',
  'bundle-invalid-base64-signature_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'bundle-malformed-json_fail': 'verify:PROVENANCE_MALFORMED',
  'bundle-negative-log-index_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'bundle-unknown-version_fail': 'verify:PROVENANCE_BAD_BUNDLE',
  // Our check: an inclusion proof without checkpoint (the library throws a TypeError here).
  'bundle-with-root-cert_fail': 'verify:PROVENANCE_BAD_BUNDLE',
  'checkpoint-bad-keyhint_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'checkpoint-wrong-roothash_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'dsse-invalid-sig_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'dsse-mismatch-envelope_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'dsse-mismatch-sig_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'inclusion-proof-corrupted-hash_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'incorrect-public-key_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'integrated-time-in-future_fail': 'verify:PROVENANCE_CERTIFICATE_INVALID',
  'intoto-expired-certificate_fail': 'verify:PROVENANCE_CERTIFICATE_INVALID',
  'intoto-log-entry-mismatch_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'intoto-missing-inclusion-proof_fail': 'verify:PROVENANCE_BAD_BUNDLE',
  'intoto-set-outside-signing-cert-validity_fail': 'verify:PROVENANCE_CERTIFICATE_INVALID',
  'intoto-tsa-timestamp-outside-cert-validity_fail': 'verify:PROVENANCE_CERTIFICATE_INVALID',
  'invalid-checkpoint-signature_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'invalid-ct-key_fail': 'verify:PROVENANCE_CERTIFICATE_INVALID',
  'invalid-inclusion-proof_fail': 'verify:PROVENANCE_BAD_BUNDLE',
  'managed-key-no-key_fail': 'verify:PROVENANCE_KEY_UNKNOWN',
  'managed-key-wrong-key_fail': 'key:KEY_DOES_NOT_PARSE',
  'message-digest-mismatch_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'rekor2-checkpoint-missing-log-signature_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'rekor2-checkpoint-missing-origin_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'rekor2-checkpoint-missing-root-hash_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'rekor2-checkpoint-missing-size_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'rekor2-checkpoint-no-matching-signature_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'rekor2-dsse-invalid-sig_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'rekor2-dsse-mismatch-envelope_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'rekor2-dsse-mismatch-sig_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'rekor2-no-inclusion-proof_fail': 'verify:PROVENANCE_BAD_BUNDLE',
  'rekor2-no-timestamp_fail': 'verify:PROVENANCE_TIMESTAMP_INVALID',
  'rekor2-timestamp-outside-trust-root-tsa-validity_fail': 'verify:PROVENANCE_TIMESTAMP_INVALID',
  'rekor2-timestamp-outside-tsa-cert-validity_fail': 'verify:PROVENANCE_TIMESTAMP_INVALID',
  'rekor2-timestamp-payload-mismatch_fail': 'verify:PROVENANCE_TIMESTAMP_INVALID',
  'rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail': 'verify:PROVENANCE_TIMESTAMP_INVALID',
  'rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail': 'verify:PROVENANCE_TIMESTAMP_INVALID',
  'rekor2-timestamp-with-incorrect-time_fail': 'verify:PROVENANCE_CERTIFICATE_INVALID',
  'set-invalid-signature_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'signature-mismatch_fail': 'verify:PROVENANCE_TLOG_INVALID',
  // Our check: every log, CA and TSA of a trusted root needs validFor.start (the library accepts it).
  'trust-root-tlog-missing-validity-start_fail': 'root:TRUST_ROOT_INVALID',
  'wrong-hashedrekord-artifact_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'wrong-hashedrekord-cert-and-sig_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'wrong-hashedrekord-entry_fail': 'verify:PROVENANCE_TLOG_INVALID',
  'wrong-material_fail': 'verify:PROVENANCE_SIGNATURE_INVALID',
};

const CASES = readdirSync(CORPUS).filter((d) => statSync(path.join(CORPUS, d)).isDirectory()).sort();

let publicGood: TrustRoots | undefined;
const publicGoodRoots = (): TrustRoots => (publicGood ??= buildTrustRoots([{ name: 'public-good', json: publicGoodTrustedRoot() }]));

/** 'pass', or '<stage>:<code>' for the first thing that refused the case. */
function runCase(name: string): string {
  const dir = path.join(CORPUS, name);
  const file = (f: string): string => path.join(dir, f);
  let roots: TrustRoots;
  try {
    roots = existsSync(file('trusted_root.json'))
      ? buildTrustRoots([{ name: file('trusted_root.json'), json: JSON.parse(readFileSync(file('trusted_root.json'), 'utf8')) as unknown }])
      : publicGoodRoots();
  } catch (e) {
    assert.ok(e instanceof TrustRootError, `an untyped error building the root: ${String(e)}`);
    return `root:${e.code}`;
  }
  let keys: Map<string, VerificationKey> | undefined;
  if (existsSync(file('key.pub'))) {
    let publicKey;
    try {
      publicKey = createPublicKey(readFileSync(file('key.pub')));
    } catch {
      return 'key:KEY_DOES_NOT_PARSE';
    }
    keys = new Map([[sigstoreKeyHint(publicKey), { publicKey, validFrom: 0, validUntil: null }]]);
  }
  const artifact = readFileSync(existsSync(file('artifact')) ? file('artifact') : path.join(CORPUS, 'a.txt'));
  const identity = name.startsWith('managed-key')
    ? undefined
    : existsSync(file('identity'))
      ? { subjectAlternativeName: readFileSync(file('identity'), 'utf8').trim(), issuer: readFileSync(file('issuer'), 'utf8').trim() }
      : BEACON;
  let verified;
  try {
    verified = verifyBundle(readFileSync(file('bundle.sigstore.json')), roots, { artifact, ...(keys ? { keys } : {}), ...(identity ? { identity } : {}) });
  } catch (e) {
    assert.ok(isAttestryError(e), `verifyBundle threw an untyped error: ${String(e)}`);
    assert.equal(e.kind, 'invalid');
    assert.ok(Object.hasOwn(PROVENANCE_CODES, e.code), `unknown code ${e.code}`);
    return `verify:${e.code}`;
  }
  assert.equal(verified.signer, keys ? 'public-key' : 'certificate');
  if (verified.dsse !== null) {
    // The library never looks at the in-toto subject: the artifact binding is ours.
    const statement = JSON.parse(verified.dsse.payload.toString('utf8')) as { subject?: { digest?: { sha256?: string } }[] };
    const sha256 = createHash('sha256').update(artifact).digest('hex');
    if (!(statement.subject ?? []).some((s) => s.digest?.sha256 === sha256)) return 'subject:DIGEST_MISMATCH';
  }
  return 'pass';
}

test('the corpus has 70 cases and every _fail case has an expected failure', () => {
  assert.equal(CASES.length, 70);
  assert.deepEqual(Object.keys(EXPECTED_FAILURES).sort(), CASES.filter((c) => c.endsWith('_fail')));
});

for (const name of CASES) {
  test(`conformance: ${name}`, () => {
    assert.equal(runCase(name), name.endsWith('_fail') ? EXPECTED_FAILURES[name] : 'pass');
  });
}
