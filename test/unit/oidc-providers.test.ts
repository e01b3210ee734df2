import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PROVIDERS, isProviderId } from '../../src/security/oidc/providers/index.ts';
import { PolicyError, type Binding, type Claims, type MatchResult, type ProviderDefinition } from '../../src/security/oidc/provider.ts';
import { workflowFileOf } from '../../src/security/oidc/providers/github.ts';
import { parseConfigRefUri } from '../../src/security/oidc/providers/gitlab.ts';

const { github, gitlab, circleci, buildkite, google } = PROVIDERS;

function refused(r: MatchResult, code: string): string {
  assert.equal(r.ok, false, `expected ${code}, got a match`);
  assert.ok(!r.ok);
  assert.equal(r.code, code, r.message);
  return r.message;
}

function accepted(r: MatchResult): Extract<MatchResult, { ok: true }> {
  assert.ok(r.ok, r.ok ? '' : `${r.code}: ${r.message}`);
  return r;
}

function policyRefused(p: ProviderDefinition, input: unknown, pattern: RegExp): void {
  assert.throws(() => p.parsePolicy(input), (e: unknown) => e instanceof PolicyError && e.code === 'TRUST_BAD_CLAIMS' && pattern.test(e.message));
}

/** Every claim a provider table names must be in exactly one class. */
function tableIsConsistent(p: ProviderDefinition): void {
  const all = [...p.claims.policyBound, ...p.claims.required, ...p.claims.optional, ...p.claims.ignored];
  assert.equal(new Set(all).size, all.length, `${p.id}: a claim is listed twice`);
  for (const alg of p.algorithms) assert.ok(!/^(none|HS\d+)$/i.test(alg), `${p.id} allows ${alg}`);
}

describe('provider tables', () => {
  it('every provider lists each claim once and allows no none/HMAC algorithm', () => {
    for (const p of Object.values(PROVIDERS)) tableIsConsistent(p);
    assert.equal(isProviderId('github'), true);
    assert.equal(isProviderId('toString'), false);
    assert.equal(isProviderId('jenkins'), false);
  });
});

describe('policies round-trip through the client shape', () => {
  it('parsePolicy(toClaims(p)) equals p for every provider', () => {
    const samples: Record<string, unknown> = {
      github: { repository: 'acme/widget', workflow_ref: { file: 'release.yml' }, environment: 'prod' },
      gitlab: { project_path: 'acme/widget', ci_config_ref_uri: { file: '.gitlab-ci.yml' } },
      circleci: { 'oidc.circleci.com/org-id': ORG_ID, 'oidc.circleci.com/project-id': ORG_ID, 'oidc.circleci.com/pipeline-definition-id': ORG_ID, 'oidc.circleci.com/vcs-origin': 'github.com/a/b' },
      buildkite: { organization_slug: 'acme', pipeline_slug: 'release', build_branch: 'main' },
      google: { email: 'ci@acme.iam.gserviceaccount.com' },
    };
    for (const p of Object.values(PROVIDERS)) {
      const policy = p.parsePolicy(samples[p.id]);
      assert.deepEqual(p.parsePolicy(p.toClaims(policy)), policy, p.id);
      assert.deepEqual(p.toClaims(policy), samples[p.id], p.id);
    }
  });
});
const ORG_ID = '8c8c1e4e-0c1d-4a4e-9c57-4c2c1e2a9b11';

// ---------------------------------------------------------------- GitHub
const ghPolicy = github.parsePolicy({ repository: 'acme/widget', workflow_ref: { file: 'release.yml' }, environment: 'production' });
const ghClaims = (over: Record<string, unknown> = {}): Claims => ({
  repository: 'acme/widget', repository_owner: 'acme', repository_owner_id: '1001', repository_id: '2002',
  workflow_ref: 'acme/widget/.github/workflows/release.yml@refs/tags/v1.0.0', job_workflow_ref: 'acme/widget/.github/workflows/release.yml@refs/tags/v1.0.0',
  event_name: 'push', ref: 'refs/tags/v1.0.0', sha: 'a'.repeat(40), environment: 'production', ...over,
});
const ISS = 'https://token.actions.githubusercontent.com';

describe('GitHub: refusals', () => {
  it('another repository', () => {
    refused(github.match(ghClaims({ repository: 'mallory/widget' }), ghPolicy, null, ISS), 'OIDC_REPOSITORY_MISMATCH');
  });
  it('another workflow file, or one in another repository, or no workflow file at all', () => {
    refused(github.match(ghClaims({ workflow_ref: 'acme/widget/.github/workflows/ci.yml@refs/heads/main' }), ghPolicy, null, ISS), 'OIDC_WORKFLOW_MISMATCH');
    refused(github.match(ghClaims({ workflow_ref: 'mallory/x/.github/workflows/release.yml@refs/heads/main' }), ghPolicy, null, ISS), 'OIDC_WORKFLOW_MISMATCH');
    refused(github.match(ghClaims({ workflow_ref: 'acme/widget/.github/workflows/sub/release.yml@main' }), ghPolicy, null, ISS), 'OIDC_WORKFLOW_MISMATCH');
    refused(github.match(ghClaims({ workflow_ref: 'acme/widget/.github/workflows/release.yml' }), ghPolicy, null, ISS), 'OIDC_WORKFLOW_MISMATCH');
  });
  it('another environment, or none when one is required', () => {
    refused(github.match(ghClaims({ environment: 'staging' }), ghPolicy, null, ISS), 'OIDC_ENVIRONMENT_MISMATCH');
    refused(github.match(ghClaims({ environment: undefined }), ghPolicy, null, ISS), 'OIDC_ENVIRONMENT_MISMATCH');
  });
  it('pull_request_target and workflow_run runs', () => {
    assert.match(refused(github.match(ghClaims({ event_name: 'pull_request_target' }), ghPolicy, null, ISS), 'OIDC_UNTRUSTED_EVENT'), /forks/);
    refused(github.match(ghClaims({ event_name: 'workflow_run' }), ghPolicy, null, ISS), 'OIDC_UNTRUSTED_EVENT');
  });
  it('a recreated owner or repository (same names, new ids) once ids are bound', () => {
    const bound: Binding = { repository_owner_id: '1001', repository_id: '2002' };
    assert.match(refused(github.match(ghClaims({ repository_owner_id: '9999' }), ghPolicy, bound, ISS), 'OIDC_IDENTITY_CHANGED'), /recreated/);
    refused(github.match(ghClaims({ repository_id: '3003' }), ghPolicy, bound, ISS), 'OIDC_IDENTITY_CHANGED');
  });
  it('a missing required claim', () => {
    for (const c of ['repository', 'workflow_ref', 'repository_owner_id', 'repository_id', 'event_name', 'sha', 'ref']) {
      refused(github.match(ghClaims({ [c]: undefined }), ghPolicy, null, ISS), 'OIDC_CLAIM_MISSING');
      refused(github.match(ghClaims({ [c]: '' }), ghPolicy, null, ISS), 'OIDC_CLAIM_MISSING');
    }
  });
  it('malformed policies', () => {
    policyRefused(github, { repository: 'acme', workflow_ref: { file: 'release.yml' } }, /owner\/repo/);
    policyRefused(github, { repository: 'acme/widget', workflow_ref: { file: '.github/workflows/release.yml' } }, /bare workflow/);
    policyRefused(github, { repository: 'acme/widget', workflow_ref: { file: 'release.sh' } }, /yml/);
    policyRefused(github, { repository: 'acme/widget' }, /workflow_ref/);
    policyRefused(github, { repository: 'acme/widget', workflow_ref: { file: 'release.yml' }, environment: 'prod"uction' }, /quotes/);
    policyRefused(github, { repository: 'acme/widget', workflow_ref: { file: 'release.yml' }, environment: ' prod' }, /environment/);
    policyRefused(github, null, /object/);
    policyRefused(github, ['acme/widget'], /object/);
  });
});

describe('GitHub: acceptance', () => {
  it('matches, case-insensitively on repository and environment, and returns the ids to bind', () => {
    const r = accepted(github.match(ghClaims({ repository: 'ACME/Widget', workflow_ref: 'ACME/Widget/.github/workflows/release.yml@refs/tags/v1', environment: 'Production' }), ghPolicy, null, ISS));
    assert.deepEqual(r.binding, { repository_owner_id: '1001', repository_id: '2002' });
    assert.match(r.reference, /release\.yml@refs\/tags\/v1/);
  });
  it('the bound ids themselves, numeric claims included', () => {
    accepted(github.match(ghClaims({ repository_owner_id: 1001, repository_id: 2002 }), ghPolicy, { repository_owner_id: '1001', repository_id: '2002' }, ISS));
  });
  it('any environment when the policy names none; a reusable workflow called from the trusted one', () => {
    const open = github.parsePolicy({ repository: 'acme/widget', workflow_ref: { file: 'release.yml' } });
    accepted(github.match(ghClaims({ environment: undefined }), open, null, ISS));
    accepted(github.match(ghClaims({ job_workflow_ref: 'acme/shared/.github/workflows/publish.yml@v2' }), open, null, ISS));
  });
  it('workflowFileOf', () => {
    assert.equal(workflowFileOf('a/b/.github/workflows/x.yaml@main', 'a/b'), 'x.yaml');
    assert.equal(workflowFileOf('a/b/.github/workflows/x.yaml', 'a/b'), undefined);
    assert.equal(workflowFileOf('a/bc/.github/workflows/x.yaml@main', 'a/b'), undefined);
  });
});

// ---------------------------------------------------------------- GitLab
const glPolicy = gitlab.parsePolicy({ project_path: 'acme/tools/widget', ci_config_ref_uri: { file: '.gitlab-ci.yml' }, environment: 'production' });
const glClaims = (over: Record<string, unknown> = {}): Claims => ({
  project_path: 'acme/tools/widget', ci_config_ref_uri: 'gitlab.com/acme/tools/widget//.gitlab-ci.yml@refs/tags/v1.0.0',
  project_id: '77', namespace_id: '55', ref_path: 'refs/tags/v1.0.0', sha: 'b'.repeat(40), environment: 'production', ...over,
});

describe('GitLab', () => {
  it('refuses another project, another pipeline file, a file from another project, another environment', () => {
    refused(gitlab.match(glClaims({ project_path: 'acme/widget' }), glPolicy, null, 'https://gitlab.com'), 'OIDC_REPOSITORY_MISMATCH');
    refused(gitlab.match(glClaims({ ci_config_ref_uri: 'gitlab.com/acme/tools/widget//ci/other.yml@refs/heads/main' }), glPolicy, null, 'https://gitlab.com'), 'OIDC_WORKFLOW_MISMATCH');
    refused(gitlab.match(glClaims({ ci_config_ref_uri: 'gitlab.com/mallory/x//.gitlab-ci.yml@refs/heads/main' }), glPolicy, null, 'https://gitlab.com'), 'OIDC_WORKFLOW_MISMATCH');
    refused(gitlab.match(glClaims({ environment: 'Production' }), glPolicy, null, 'https://gitlab.com'), 'OIDC_ENVIRONMENT_MISMATCH');
  });
  it('refuses a recreated project once its ids are bound, and a missing claim', () => {
    refused(gitlab.match(glClaims({ project_id: '78' }), glPolicy, { namespace_id: '55', project_id: '77' }, 'https://gitlab.com'), 'OIDC_IDENTITY_CHANGED');
    refused(gitlab.match(glClaims({ namespace_id: '56' }), glPolicy, { namespace_id: '55', project_id: '77' }, 'https://gitlab.com'), 'OIDC_IDENTITY_CHANGED');
    refused(gitlab.match(glClaims({ sha: undefined }), glPolicy, null, 'https://gitlab.com'), 'OIDC_CLAIM_MISSING');
  });
  it('refuses malformed policies', () => {
    policyRefused(gitlab, { project_path: 'widget', ci_config_ref_uri: { file: '.gitlab-ci.yml' } }, /group/);
    policyRefused(gitlab, { project_path: 'acme/widget', ci_config_ref_uri: { file: 'ci.txt' } }, /yml/);
  });
  it('matches (project case-insensitively) and binds namespace and project ids', () => {
    const r = accepted(gitlab.match(glClaims({ project_path: 'Acme/Tools/Widget' }), glPolicy, null, 'https://gitlab.com'));
    assert.deepEqual(r.binding, { namespace_id: '55', project_id: '77' });
    const nested = gitlab.parsePolicy({ project_path: 'acme/widget', ci_config_ref_uri: { file: 'ci/release.yml' } });
    accepted(gitlab.match(glClaims({ project_path: 'acme/widget', ci_config_ref_uri: 'gitlab.internal/acme/widget//ci/release.yml@refs/heads/main', environment: undefined }), nested, null, 'https://gitlab.internal'));
    assert.deepEqual(parseConfigRefUri('gitlab.com/a/b//c.yml@refs/heads/x'), { project: 'a/b', file: 'c.yml' });
  });
});

// ---------------------------------------------------------------- CircleCI
const ORG = '8c8c1e4e-0c1d-4a4e-9c57-4c2c1e2a9b11';
const PROJECT = '1f0b5c6d-2e3f-4a5b-8c7d-9e0f1a2b3c4d';
const PIPE = '2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d';
const CTX = '3b4c5d6e-7f80-4a9b-8c1d-2e3f4a5b6c7d';
const ccIss = `https://oidc.circleci.com/org/${ORG}`;
const ccPolicy = circleci.parsePolicy({
  'oidc.circleci.com/org-id': ORG, 'oidc.circleci.com/project-id': PROJECT, 'oidc.circleci.com/pipeline-definition-id': PIPE,
  'oidc.circleci.com/vcs-origin': 'github.com/acme/widget', 'oidc.circleci.com/context-ids': [CTX],
});
const ccClaims = (over: Record<string, unknown> = {}): Claims => ({
  'oidc.circleci.com/org-id': ORG, 'oidc.circleci.com/project-id': PROJECT, 'oidc.circleci.com/pipeline-definition-id': PIPE,
  'oidc.circleci.com/vcs-origin': 'github.com/acme/widget', 'oidc.circleci.com/context-ids': [CTX], ...over,
});

describe('CircleCI', () => {
  it('refuses another org (in the claim or the issuer), project, pipeline definition, origin, or a missing context', () => {
    const other = '9c8c1e4e-0c1d-4a4e-9c57-4c2c1e2a9b11';
    refused(circleci.match(ccClaims({ 'oidc.circleci.com/org-id': other }), ccPolicy, null, ccIss), 'OIDC_REPOSITORY_MISMATCH');
    refused(circleci.match(ccClaims(), ccPolicy, null, `https://oidc.circleci.com/org/${other}`), 'OIDC_REPOSITORY_MISMATCH');
    refused(circleci.match(ccClaims({ 'oidc.circleci.com/project-id': other }), ccPolicy, null, ccIss), 'OIDC_REPOSITORY_MISMATCH');
    refused(circleci.match(ccClaims({ 'oidc.circleci.com/pipeline-definition-id': other }), ccPolicy, null, ccIss), 'OIDC_WORKFLOW_MISMATCH');
    refused(circleci.match(ccClaims({ 'oidc.circleci.com/vcs-origin': 'github.com/mallory/widget' }), ccPolicy, null, ccIss), 'OIDC_REPOSITORY_MISMATCH');
    refused(circleci.match(ccClaims({ 'oidc.circleci.com/context-ids': [] }), ccPolicy, null, ccIss), 'OIDC_ENVIRONMENT_MISMATCH');
    refused(circleci.match(ccClaims({ 'oidc.circleci.com/vcs-origin': undefined }), ccPolicy, null, ccIss), 'OIDC_CLAIM_MISSING');
  });
  it('refuses malformed policies', () => {
    policyRefused(circleci, { 'oidc.circleci.com/org-id': 'acme' }, /UUID/);
    policyRefused(circleci, { 'oidc.circleci.com/org-id': ORG, 'oidc.circleci.com/project-id': PROJECT, 'oidc.circleci.com/pipeline-definition-id': PIPE, 'oidc.circleci.com/vcs-origin': 'https://github.com/acme/widget' }, /scheme/);
    policyRefused(circleci, { 'oidc.circleci.com/org-id': ORG, 'oidc.circleci.com/project-id': PROJECT, 'oidc.circleci.com/pipeline-definition-id': PIPE, 'oidc.circleci.com/vcs-origin': 'github.com/a/b', 'oidc.circleci.com/context-ids': 'x' }, /list/);
  });
  it('matches, with extra contexts and upper-case ids', () => {
    accepted(circleci.match(ccClaims({ 'oidc.circleci.com/context-ids': [CTX.toUpperCase(), ORG], 'oidc.circleci.com/project-id': PROJECT.toUpperCase() }), ccPolicy, null, ccIss));
  });
});

// ---------------------------------------------------------------- Buildkite and Google
describe('Buildkite', () => {
  const policy = buildkite.parsePolicy({ organization_slug: 'acme', pipeline_slug: 'widget-release', build_branch: 'main' });
  const claims = (over: Record<string, unknown> = {}): Claims => ({ organization_slug: 'acme', pipeline_slug: 'widget-release', build_branch: 'main', build_commit: 'c'.repeat(40), organization_id: 'o1', pipeline_id: 'p1', ...over });
  it('refuses another pipeline or branch, and a missing claim; matches its own', () => {
    refused(buildkite.match(claims({ pipeline_slug: 'widget-ci' }), policy, null, 'https://agent.buildkite.com'), 'OIDC_REPOSITORY_MISMATCH');
    refused(buildkite.match(claims({ build_branch: 'feature' }), policy, null, 'https://agent.buildkite.com'), 'OIDC_ENVIRONMENT_MISMATCH');
    refused(buildkite.match(claims({ build_commit: undefined }), policy, null, 'https://agent.buildkite.com'), 'OIDC_CLAIM_MISSING');
    accepted(buildkite.match(claims(), policy, null, 'https://agent.buildkite.com'));
    policyRefused(buildkite, { organization_slug: 'Acme Inc', pipeline_slug: 'x' }, /slug/);
  });
});

describe('Google Cloud', () => {
  const policy = google.parsePolicy({ email: 'release@acme-prod.iam.gserviceaccount.com', sub: '1234567890' });
  const claims = (over: Record<string, unknown> = {}): Claims => ({ email: 'release@acme-prod.iam.gserviceaccount.com', email_verified: true, sub: '1234567890', ...over });
  it('refuses an unverified email, another account, another sub; matches its own', () => {
    refused(google.match(claims({ email_verified: 'true' }), policy, null, 'https://accounts.google.com'), 'OIDC_CLAIM_MISSING');
    refused(google.match(claims({ email: 'other@acme-prod.iam.gserviceaccount.com' }), policy, null, 'https://accounts.google.com'), 'OIDC_REPOSITORY_MISMATCH');
    refused(google.match(claims({ sub: '999' }), policy, null, 'https://accounts.google.com'), 'OIDC_IDENTITY_CHANGED');
    accepted(google.match(claims({ email: 'Release@acme-prod.iam.gserviceaccount.com' }), policy, null, 'https://accounts.google.com'));
    policyRefused(google, { email: 'not-an-email' }, /email/);
  });
});
