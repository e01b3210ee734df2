// identityOf on the certificates of the fixtures, against the identities documented in
// ../shared/fixtures/sigstore/README.md, and the DER decoding underneath.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isAttestryError } from '../../src/core/errors.ts';
import { derUtf8String, identityOf, type CertificateIdentity } from '../../src/security/provenance/certificate-identity.ts';
import { ROOT } from '../support/paths.ts';

const FIXTURES = path.join(ROOT, '..', 'shared', 'fixtures', 'sigstore');
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- fixture JSON
const json = (file: string): Json => JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as Json;
const leafOf = (bundle: Json): Buffer => Buffer.from((bundle.verificationMaterial.certificate?.rawBytes ?? bundle.verificationMaterial.x509CertificateChain.certificates[0].rawBytes) as string, 'base64');
const GITHUB_ACTIONS = 'https://token.actions.githubusercontent.com';

function expectIdentity(actual: CertificateIdentity, expected: Partial<CertificateIdentity> & { extensions?: Record<string, string> }): void {
  const { extensions, ...fields } = expected;
  for (const [k, v] of Object.entries(fields)) assert.deepEqual(actual[k as keyof CertificateIdentity], v, k);
  for (const [k, v] of Object.entries(extensions ?? {})) assert.equal(actual.extensions[k], v, `extension ${k}`);
}

describe('identities of the fixtures', () => {
  it('sigstore@2.1.0 provenance (v0.3 and the v0.1 copy of the same event)', () => {
    for (const file of ['npm/sigstore-2.1.0.provenance.v0.3.sigstore.json', 'npm/sigstore-2.1.0.provenance.v0.1.sigstore.json']) {
      expectIdentity(identityOf(leafOf(json(file))), {
        subjectAlternativeName: 'https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main',
        issuer: GITHUB_ACTIONS,
        sourceRepositoryUri: 'https://github.com/sigstore/sigstore-js',
        sourceRepositoryDigest: '26d16513386ffaa790b1c32f927544f1322e4194',
        sourceRepositoryRef: 'refs/heads/main',
        buildConfigUri: 'https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main',
        buildSignerUri: 'https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main',
        runInvocationUri: 'https://github.com/sigstore/sigstore-js/actions/runs/6014488666/attempts/1',
        runnerEnvironment: 'github-hosted',
        legacyRepository: 'sigstore/sigstore-js',
        notBefore: Date.parse('2023-08-29T15:40:23Z'),
        notAfter: Date.parse('2023-08-29T15:50:23Z'),
        extensions: { '1.1': GITHUB_ACTIONS, '1.8': GITHUB_ACTIONS, '1.15': '495574555', '1.17': '71096353', '1.20': 'push', '1.22': 'public', '1.3': '26d16513386ffaa790b1c32f927544f1322e4194', '1.6': 'refs/heads/main' },
      });
    }
  });

  it('sigstore@2.0.0 and sigstore@1.3.0 provenance', () => {
    expectIdentity(identityOf(leafOf(json('npm/sigstore-2.0.0.provenance.sigstore.json'))), {
      issuer: GITHUB_ACTIONS,
      sourceRepositoryUri: 'https://github.com/sigstore/sigstore-js',
      sourceRepositoryDigest: 'f0b49a04e5a62250e0f60fb128004a73110fe311',
      runInvocationUri: 'https://github.com/sigstore/sigstore-js/actions/runs/5904696764/attempts/1',
    });
    expectIdentity(identityOf(leafOf(json('npm/sigstore-1.3.0.provenance.sigstore.json'))), {
      subjectAlternativeName: 'https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main',
      issuer: GITHUB_ACTIONS,
      sourceRepositoryUri: 'https://github.com/sigstore/sigstore-js',
      sourceRepositoryRef: 'refs/heads/main',
      sourceRepositoryDigest: 'dae8bd8eb433a4147b4655c00fe73e0f22bc0fb1',
    });
  });

  it('early-2023 certificates with only the legacy extensions (.1–.6)', () => {
    const sigstore = identityOf(leafOf(json('npm/sigstore-1.0.0.attestations.json').attestations[0].bundle as Json));
    expectIdentity(sigstore, {
      subjectAlternativeName: 'https://github.com/sigstore/sigstore-js/.github/workflows/publish.yml@refs/tags/v1.0.0',
      issuer: GITHUB_ACTIONS,
      legacyRepository: 'sigstore/sigstore-js',
      sourceRepositoryRef: 'refs/tags/v1.0.0',
      sourceRepositoryDigest: '06528997c3c8ab9f864fad9a3658446aca7fd86d',
      sourceRepositoryUri: null,
      buildConfigUri: null,
      buildSignerUri: null,
      runnerEnvironment: null,
    });
    assert.equal(sigstore.extensions['1.8'], undefined);
    assert.deepEqual(Object.keys(sigstore.extensions).sort(), ['1.1', '1.2', '1.3', '1.4', '1.5', '1.6']);
    expectIdentity(identityOf(leafOf(json('npm/tuf-js-1.0.0.attestations.json').attestations[0].bundle as Json)), {
      subjectAlternativeName: 'https://github.com/theupdateframework/tuf-js/.github/workflows/publish.yml@refs/tags/v1.0.0',
      issuer: GITHUB_ACTIONS,
      legacyRepository: 'theupdateframework/tuf-js',
      sourceRepositoryRef: 'refs/tags/v1.0.0',
      sourceRepositoryDigest: '99624cc7ce39872e6bd08a0df59229a48562dbca',
      sourceRepositoryUri: null,
    });
  });

  it('GitLab CI (SAN with the double slash, no legacy extensions)', () => {
    const cert = Buffer.from(json('pypi/gitlab_oidc_project-0.0.3.tar.gz.publish.attestation').verification_material.certificate as string, 'base64');
    const id = identityOf(cert);
    expectIdentity(id, {
      subjectAlternativeName: 'https://gitlab.com/facutuesca/gitlab-oidc-project//.gitlab-ci.yml@refs/heads/main',
      issuer: 'https://gitlab.com',
      sourceRepositoryUri: 'https://gitlab.com/facutuesca/gitlab-oidc-project',
      sourceRepositoryRef: 'refs/heads/main',
      sourceRepositoryDigest: '72f7c63b75eb55ea80864962f0e645c93414da34',
      runnerEnvironment: 'gitlab-hosted',
      legacyRepository: null,
    });
    for (const legacy of ['1.2', '1.3', '1.4', '1.5', '1.6']) assert.equal(id.extensions[legacy], undefined, legacy);
  });

  it('PyPI publish attestation from GitHub Actions', () => {
    const cert = Buffer.from(json('pypi/pypi_attestations-0.0.19.tar.gz.publish.attestation').verification_material.certificate as string, 'base64');
    expectIdentity(identityOf(cert), {
      subjectAlternativeName: 'https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19',
      issuer: GITHUB_ACTIONS,
      sourceRepositoryUri: 'https://github.com/trailofbits/pypi-attestations',
      sourceRepositoryRef: 'refs/tags/v0.0.19',
      sourceRepositoryDigest: '08802efe1f8e5fec4ad842d6b8ce97656092ee72',
      buildConfigUri: 'https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19',
      runnerEnvironment: 'github-hosted',
      extensions: { '1.20': 'release' },
    });
  });

  it('a reusable workflow: the SAN is the called workflow, .18 and .12 name the caller', () => {
    expectIdentity(identityOf(leafOf(json('gh-attestations/reusable-workflow-attestation.sigstore.json'))), {
      subjectAlternativeName: 'https://github.com/github/artifact-attestations-workflows/.github/workflows/attest.yml@09b495c3f12c7881b3cc17209a327792065c1a1d',
      buildSignerUri: 'https://github.com/github/artifact-attestations-workflows/.github/workflows/attest.yml@09b495c3f12c7881b3cc17209a327792065c1a1d',
      buildConfigUri: 'https://github.com/malancas/attest-demo/.github/workflows/shared.yml@refs/heads/main',
      sourceRepositoryUri: 'https://github.com/malancas/attest-demo',
      issuer: GITHUB_ACTIONS,
    });
  });

  it('an enterprise issuer with a path suffix is decoded as is', () => {
    expectIdentity(identityOf(leafOf(json('gh-attestations/custom-issuer.sigstore.json'))), {
      subjectAlternativeName: 'https://github.com/too-legit/attest/.github/workflows/integration.yml@refs/heads/main',
      issuer: 'https://token.actions.githubusercontent.com/hammer-time',
      sourceRepositoryUri: 'https://github.com/too-legit/attest',
    });
  });

  it('an email SAN (a person signing with GitHub login)', () => {
    expectIdentity(identityOf(leafOf(json('npm/sigstore-js-tests/bundleV03-dsse.sigstore.json'))), {
      subjectAlternativeName: 'brian@dehamer.com',
      issuer: 'https://github.com/login/oauth',
      sourceRepositoryUri: null,
      extensions: { '1.1': 'https://github.com/login/oauth', '1.8': 'https://github.com/login/oauth' },
    });
  });

  it('the conformance beacon (commit and time from the README table)', () => {
    expectIdentity(identityOf(leafOf(json('conformance/happy-path-v0.1/bundle.sigstore.json'))), {
      subjectAlternativeName: 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main',
      issuer: GITHUB_ACTIONS,
      sourceRepositoryUri: 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon',
      sourceRepositoryDigest: 'af785b6d3b0fa0c0aa1305faee7ce6036e8d90c4',
      sourceRepositoryRef: 'refs/heads/main',
      notBefore: Date.parse('2023-07-12T15:56:35Z'),
    });
    expectIdentity(identityOf(leafOf(json('conformance/happy-path-v0.3/bundle.sigstore.json'))), {
      sourceRepositoryDigest: 'c7b3dfb335f051e1c86bda4c716fac97df62ad81',
      notBefore: Date.parse('2024-03-19T17:26:26Z'),
    });
  });
});

describe('identityOf refusals', () => {
  const refusedWith = (der: Buffer): void => {
    assert.throws(() => identityOf(der), (e: unknown) => {
      assert.ok(isAttestryError(e), String(e));
      assert.equal(e.code, 'PROVENANCE_CERTIFICATE_INVALID');
      return true;
    });
  };

  it('bytes that are not a certificate', () => {
    refusedWith(Buffer.from('not a certificate'));
    refusedWith(Buffer.alloc(0));
    refusedWith(leafOf(json('npm/sigstore-2.1.0.provenance.v0.3.sigstore.json')).subarray(0, 200));
  });

  it('a CA certificate (no SAN, no issuer extension)', () => {
    const root = json('trusted-roots/public-good.trusted_root.json').certificateAuthorities[1].certChain.certificates[1].rawBytes as string;
    refusedWith(Buffer.from(root, 'base64'));
  });
});

describe('derUtf8String', () => {
  const der = (tag: number, body: Buffer): Buffer => {
    const len = body.length < 128 ? Buffer.from([body.length]) : body.length < 256 ? Buffer.from([0x81, body.length]) : Buffer.from([0x82, body.length >> 8, body.length & 0xff]);
    return Buffer.concat([Buffer.from([tag]), len, body]);
  };

  it('decodes short and long form lengths', () => {
    assert.equal(derUtf8String(der(0x0c, Buffer.from('https://github.com/acme/widget'))), 'https://github.com/acme/widget');
    const long = 'x'.repeat(200);
    assert.equal(derUtf8String(der(0x0c, Buffer.from(long))), long);
    const longer = 'é'.repeat(300);
    assert.equal(derUtf8String(der(0x0c, Buffer.from(longer))), longer);
    assert.equal(derUtf8String(der(0x0c, Buffer.alloc(0))), '');
  });

  it('refuses other tags, wrong lengths, trailing bytes and bad UTF-8', () => {
    assert.equal(derUtf8String(der(0x13, Buffer.from('printable'))), null);
    assert.equal(derUtf8String(Buffer.from('https://token.actions.githubusercontent.com')), null);
    assert.equal(derUtf8String(Buffer.concat([der(0x0c, Buffer.from('abc')), Buffer.from([0])])), null);
    assert.equal(derUtf8String(Buffer.from([0x0c, 0x05, 0x61])), null);
    assert.equal(derUtf8String(Buffer.from([0x0c, 0x80])), null);
    assert.equal(derUtf8String(Buffer.from([0x0c, 0x84, 0, 0, 0, 1, 0x61])), null);
    assert.equal(derUtf8String(der(0x0c, Buffer.from([0xc3, 0x28]))), null);
    assert.equal(derUtf8String(Buffer.from([0x0c])), null);
  });
});
