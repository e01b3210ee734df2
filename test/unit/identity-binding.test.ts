// Binding a provenance certificate to whoever publishes: the inverse of Fulcio's claim mapping on
// real certificates (GitHub, GitLab, a 2023 legacy one), the same-run check against an exchanged
// workload identity (every field, refused one at a time), and trusted-publisher policy matching.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FIXTURES } from '../support/paths.ts';
import { identityOf, type CertificateIdentity } from '../../src/security/provenance/certificate-identity.ts';
import { bindToWorkload, certificateClaims, matchTrustedPublishers, pathAfterOrigin, sourceRepositoryOf } from '../../src/security/provenance/identity-binding.ts';
import { PROVIDERS } from '../../src/security/oidc/providers/index.ts';

const SIGSTORE = path.join(FIXTURES, 'sigstore');
const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

function leafOf(file: string, pick: (b: Record<string, unknown>) => unknown = (b) => b): CertificateIdentity {
  const bundle = pick(JSON.parse(readFileSync(path.join(SIGSTORE, file), 'utf8')) as Record<string, unknown>) as {
    verificationMaterial?: { certificate?: { rawBytes: string }; x509CertificateChain?: { certificates: Array<{ rawBytes: string }> } };
    verification_material?: { certificate: string };
  };
  const raw = bundle.verificationMaterial?.certificate?.rawBytes ?? bundle.verificationMaterial?.x509CertificateChain?.certificates[0]?.rawBytes ?? bundle.verification_material?.certificate;
  assert.ok(raw, `${file} has a certificate`);
  return identityOf(Buffer.from(raw, 'base64'));
}

const v03 = () => leafOf('npm/sigstore-2.1.0.provenance.v0.3.sigstore.json');
const legacy = () => leafOf('npm/sigstore-1.0.0.attestations.json', (b) => (b.attestations as Array<{ bundle: unknown }>)[0]?.bundle);
const gitlab = () => leafOf('pypi/gitlab_oidc_project-0.0.3.tar.gz.publish.attestation');

/** The workload identity the exchanged OIDC token of the run that signed sigstore@2.1.0 would have carried. */
const WORKLOAD = {
  provider: 'github', issuer: GITHUB_ISSUER,
  identity: {
    iss: GITHUB_ISSUER, repository: 'sigstore/sigstore-js', workflow_ref: 'sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main',
    job_workflow_ref: 'sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main', sha: '26d16513386ffaa790b1c32f927544f1322e4194',
    ref: 'refs/heads/main', repository_id: '495574555', repository_owner_id: '71096353',
  },
};

describe('pathAfterOrigin', () => {
  it('keeps only the path of an absolute http(s) URI, and refuses anything else', () => {
    assert.equal(pathAfterOrigin('https://github.com/a/b/.github/workflows/x.yml@refs/tags/v1'), 'a/b/.github/workflows/x.yml@refs/tags/v1');
    assert.equal(pathAfterOrigin('https://github.com/'), undefined);
    assert.equal(pathAfterOrigin('github.com/a/b'), undefined);
    assert.equal(pathAfterOrigin('https://github.com/a/b?x=1'), undefined);
    assert.equal(pathAfterOrigin(null), undefined);
  });
});

describe('certificateClaims: Fulcio extensions back to CI claims', () => {
  it('GitHub (current certificates)', () => {
    assert.deepEqual(certificateClaims('github', v03()), {
      repository: 'sigstore/sigstore-js',
      workflow_ref: 'sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main',
      job_workflow_ref: 'sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main',
      sha: '26d16513386ffaa790b1c32f927544f1322e4194',
      ref: 'refs/heads/main',
      repository_id: '495574555',
      repository_owner: 'sigstore',
      repository_owner_id: '71096353',
      event_name: 'push',
      runner_environment: 'github-hosted',
    });
  });

  it('GitHub (2023 certificates with only the legacy extensions)', () => {
    const c = certificateClaims('github', legacy());
    assert.equal(c?.repository, 'sigstore/sigstore-js');
    assert.equal(c?.ref, 'refs/tags/v1.0.0');
    assert.equal(c?.sha, '06528997c3c8ab9f864fad9a3658446aca7fd86d');
    assert.equal(c?.workflow_ref, 'sigstore/sigstore-js/.github/workflows/publish.yml@refs/tags/v1.0.0');
    assert.equal(sourceRepositoryOf(legacy()), 'https://github.com/sigstore/sigstore-js');
  });

  it('GitLab', () => {
    const c = certificateClaims('gitlab', gitlab());
    assert.equal(c?.project_path, 'facutuesca/gitlab-oidc-project');
    assert.equal(c?.ci_config_ref_uri, 'gitlab.com/facutuesca/gitlab-oidc-project//.gitlab-ci.yml@refs/heads/main');
    assert.equal(c?.sha, '72f7c63b75eb55ea80864962f0e645c93414da34');
    assert.equal(c?.ref_path, 'refs/heads/main');
    assert.equal(sourceRepositoryOf(gitlab()), 'https://gitlab.com/facutuesca/gitlab-oidc-project');
  });

  it('providers without a mapping give nothing (provenance cannot be bound to them)', () => {
    assert.equal(certificateClaims('circleci', v03()), undefined);
    assert.equal(certificateClaims('buildkite', v03()), undefined);
  });
});

describe('bindToWorkload: the certificate comes from the run that exchanged the token', () => {
  it('accepts the same run', () => {
    assert.deepEqual(bindToWorkload(v03(), WORKLOAD), { ok: true });
  });

  for (const field of ['repository', 'workflow_ref', 'job_workflow_ref', 'sha', 'ref', 'repository_id', 'repository_owner_id'] as const) {
    it(`refuses a different ${field}`, () => {
      const r = bindToWorkload(v03(), { ...WORKLOAD, identity: { ...WORKLOAD.identity, [field]: `${WORKLOAD.identity[field]}x` } });
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.code, 'PROVENANCE_IDENTITY_MISMATCH');
      assert.match(!r.ok ? r.message : '', new RegExp(field));
    });
  }

  it('refuses a missing claim on the workload side (never treats absent as equal)', () => {
    const { sha: _sha, ...rest } = WORKLOAD.identity;
    const r = bindToWorkload(v03(), { ...WORKLOAD, identity: rest });
    assert.equal(!r.ok && r.code, 'PROVENANCE_IDENTITY_MISMATCH');
  });

  it('refuses another issuer, even with identical claims (no case folding, exact strings)', () => {
    assert.equal(bindToWorkload(v03(), { ...WORKLOAD, issuer: `${GITHUB_ISSUER}/hammer-time` }).ok, false);
    const upper = bindToWorkload(v03(), { ...WORKLOAD, identity: { ...WORKLOAD.identity, repository: 'Sigstore/sigstore-js' } });
    assert.equal(upper.ok, false);
  });

  it('refuses providers it cannot bind', () => {
    const r = bindToWorkload(v03(), { ...WORKLOAD, provider: 'circleci' });
    assert.equal(!r.ok && r.code, 'PROVENANCE_PROVIDER_UNSUPPORTED');
  });
});

describe('matchTrustedPublishers: a token publish of a package that trusts CI publishers', () => {
  const github = PROVIDERS.github;
  const policy = (repository: string, file: string, environment?: string) =>
    github.parsePolicy({ repository, workflow_ref: { file }, ...(environment ? { environment } : {}) });

  it('accepts a certificate that satisfies one of the policies', () => {
    const r = matchTrustedPublishers(v03(), [
      { provider: github, issuer: GITHUB_ISSUER, policy: policy('other/repo', 'release.yml'), binding: null },
      { provider: github, issuer: GITHUB_ISSUER, policy: policy('sigstore/sigstore-js', 'release.yml'), binding: null },
    ]);
    assert.deepEqual(r, { ok: true });
  });

  it('refuses another repository, another workflow, a required environment, or a changed repository id', () => {
    const cases = [
      policy('other/repo', 'release.yml'),
      policy('sigstore/sigstore-js', 'publish.yml'),
      policy('sigstore/sigstore-js', 'release.yml', 'production'),
    ];
    for (const p of cases) {
      const r = matchTrustedPublishers(v03(), [{ provider: github, issuer: GITHUB_ISSUER, policy: p, binding: null }]);
      assert.equal(!r.ok && r.code, 'PROVENANCE_PUBLISHER_MISMATCH', JSON.stringify(p));
    }
    const rebound = matchTrustedPublishers(v03(), [{ provider: github, issuer: GITHUB_ISSUER, policy: policy('sigstore/sigstore-js', 'release.yml'), binding: { repository_id: '1', repository_owner_id: '71096353' } }]);
    assert.equal(!rebound.ok && rebound.code, 'PROVENANCE_PUBLISHER_MISMATCH');
  });

  it('refuses a publisher of another issuer, and a package whose publishers it cannot map', () => {
    assert.equal(matchTrustedPublishers(v03(), [{ provider: github, issuer: 'https://ghes.example/_services/token', policy: policy('sigstore/sigstore-js', 'release.yml'), binding: null }]).ok, false);
    assert.equal(matchTrustedPublishers(v03(), []).ok, false);
  });

  it('refuses a legacy certificate: it lacks the ids a policy match requires', () => {
    const r = matchTrustedPublishers(legacy(), [{ provider: github, issuer: GITHUB_ISSUER, policy: policy('sigstore/sigstore-js', 'publish.yml'), binding: null }]);
    assert.equal(r.ok, false);
  });
});
