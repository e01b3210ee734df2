// The trusted certificates remember what is constant about them (their DER, their key, the CA
// chain's own signatures); verification answers must not change because of it, in any order.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FIXTURES } from '../support/paths.ts';
import { isAttestryError } from '../../src/core/errors.ts';
import { buildTrustRoots, publicGoodTrustedRoot } from '../../src/security/provenance/trust-roots.ts';
import { verifyNpmProvenance } from '../../src/security/provenance/npm-provenance.ts';

const NPM = path.join(FIXTURES, 'sigstore', 'npm');
const text = (f: string) => readFileSync(path.join(NPM, f), 'utf8');
const sha512 = (f: string) => createHash('sha512').update(readFileSync(path.join(NPM, f))).digest('hex');

describe('remembered trusted certificates', () => {
  it('give the same verdicts, good and bad interleaved, on one set of roots', () => {
    const roots = buildTrustRoots([{ name: 'public-good', json: publicGoodTrustedRoot() }]);
    const good = text('sigstore-2.1.0.provenance.v0.3.sigstore.json');
    const expect = { name: 'sigstore', version: '2.1.0', sha512hex: sha512('sigstore-2.1.0.tgz'), issuerSupported: () => true };
    const swapped = JSON.parse(good) as { verificationMaterial: { certificate: { rawBytes: string } } };
    const other = JSON.parse(text('sigstore-2.0.0.provenance.sigstore.json')) as { verificationMaterial: { x509CertificateChain: { certificates: Array<{ rawBytes: string }> } } };
    swapped.verificationMaterial.certificate.rawBytes = other.verificationMaterial.x509CertificateChain.certificates[0]?.rawBytes ?? '';
    const staging = readFileSync(path.join(FIXTURES, 'sigstore', 'conformance', 'bundle-from-wrong-instance_fail', 'bundle.sigstore.json'), 'utf8');
    const refusedWith = (bundle: string | object, code: string) => assert.throws(() => verifyNpmProvenance(bundle, roots, expect), (e: unknown) => isAttestryError(e) && e.code === code);
    for (let round = 0; round < 3; round++) {
      assert.equal(verifyNpmProvenance(good, roots, expect).identity.sourceRepositoryUri, 'https://github.com/sigstore/sigstore-js');
      refusedWith(swapped, 'PROVENANCE_CERTIFICATE_INVALID');
      assert.throws(() => verifyNpmProvenance(staging, roots, expect), (e: unknown) => isAttestryError(e));
    }
    // The 2023 v0.1 bundle carries the Fulcio root itself in its chain: equality with the trusted copy still holds.
    const fullChain = text('sigstore-2.0.0.provenance.sigstore.json');
    assert.ok(verifyNpmProvenance(fullChain, roots, { ...expect, version: '2.0.0', sha512hex: sha512('sigstore-2.0.0.tgz') }));
  });
});
