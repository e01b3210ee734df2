// A GitHub Actions run, described once and rendered three ways: the OIDC token's claims (what
// Fulcio puts in the certificate, and what trusted publishing checks), the runner's GITHUB_*
// variables (what npm writes into the SLSA predicate), and the in-toto statement npm signs.
// Tests pick only what they care about; everything else has a fixed, realistic default.

export interface GithubIdentity {
  /** `owner/name`; default 'acme/widget'. */
  repository?: string;
  /** default 'release.yml' -> workflow_ref `${repository}/.github/workflows/${file}@${ref}` */
  workflowFile?: string;
  /** default 'refs/heads/main' */
  ref?: string;
  /** default a fixed 40-hex commit */
  sha?: string;
  environment?: string;
  repositoryId?: string;
  repositoryOwnerId?: string;
  eventName?: string;
  runId?: string;
  /** default 'https://token.actions.githubusercontent.com' */
  iss?: string;
  /** Merged last, so they can replace any derived claim (e.g. job_workflow_ref for a reusable workflow). */
  extraClaims?: Record<string, unknown>;
}

export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
export const GITHUB_SERVER_URL = 'https://github.com';
export const DEFAULT_SHA = '8d4c2f0a1b3e5d7c9f8e6a4b2c0d1e3f5a7b9c8d';

/** The full GitHub-style claim set for an identity (what the CI token would carry; also usable with the local OIDC issuer's sign()). */
export function githubClaims(id: GithubIdentity = {}): Record<string, unknown> {
  const repository = id.repository ?? 'acme/widget';
  const owner = repository.split('/')[0] ?? repository;
  const ref = id.ref ?? 'refs/heads/main';
  const sha = id.sha ?? DEFAULT_SHA;
  const workflowRef = `${repository}/.github/workflows/${id.workflowFile ?? 'release.yml'}@${ref}`;
  // GitHub's `sub` names the environment instead of the ref when the job has one.
  const sub = id.environment !== undefined ? `repo:${repository}:environment:${id.environment}` : `repo:${repository}:ref:${ref}`;
  return {
    iss: id.iss ?? GITHUB_ISSUER,
    sub,
    ref,
    ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    sha,
    repository,
    repository_id: id.repositoryId ?? '610000001',
    repository_owner: owner,
    repository_owner_id: id.repositoryOwnerId ?? '71000001',
    repository_visibility: 'public',
    actor: owner,
    actor_id: id.repositoryOwnerId ?? '71000001',
    workflow: 'Release',
    workflow_ref: workflowRef,
    workflow_sha: sha,
    job_workflow_ref: workflowRef,
    job_workflow_sha: sha,
    event_name: id.eventName ?? 'push',
    run_id: id.runId ?? '9100000001',
    run_number: '7',
    run_attempt: '1',
    runner_environment: 'github-hosted',
    ...(id.environment !== undefined ? { environment: id.environment } : {}),
    ...id.extraClaims,
  };
}

const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

/** The GITHUB_* / RUNNER_ENVIRONMENT / CI variables npm's SLSA predicate reads, for an identity. */
export function githubActionsEnv(id: GithubIdentity = {}): Record<string, string> {
  const c = githubClaims(id);
  return {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_SERVER_URL,
    GITHUB_REPOSITORY: str(c.repository),
    GITHUB_REPOSITORY_ID: str(c.repository_id),
    GITHUB_REPOSITORY_OWNER: str(c.repository_owner),
    GITHUB_REPOSITORY_OWNER_ID: str(c.repository_owner_id),
    GITHUB_REF: str(c.ref),
    GITHUB_SHA: str(c.sha),
    GITHUB_EVENT_NAME: str(c.event_name),
    GITHUB_WORKFLOW_REF: str(c.workflow_ref),
    GITHUB_RUN_ID: str(c.run_id),
    GITHUB_RUN_ATTEMPT: str(c.run_attempt),
    RUNNER_ENVIRONMENT: str(c.runner_environment),
  };
}

/** The package URL npm writes as the statement subject (only the scope's '@' escaped). */
export function npmSubjectName(name: string, version: string): string {
  return `pkg:npm/${name.startsWith('@') ? `%40${name.slice(1)}` : name}@${version}`;
}

export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';

/**
 * The in-toto statement `npm publish --provenance` signs on GitHub Actions, built from the same
 * variables npm reads (libnpmpublish's provenance.js), with the same key order.
 */
export function npmProvenanceStatement(subject: Array<{ name: string; digest: Record<string, string> }>, id: GithubIdentity = {}, predicateType = SLSA_PROVENANCE_V1): Record<string, unknown> {
  const env = githubActionsEnv(id);
  const relativeRef = (env.GITHUB_WORKFLOW_REF ?? '').replace(`${env.GITHUB_REPOSITORY}/`, '');
  const at = relativeRef.indexOf('@');
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject,
    predicateType,
    predicate: {
      buildDefinition: {
        buildType: 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1',
        externalParameters: {
          workflow: { ref: relativeRef.slice(at + 1), repository: `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}`, path: relativeRef.slice(0, at) },
        },
        internalParameters: {
          github: { event_name: env.GITHUB_EVENT_NAME, repository_id: env.GITHUB_REPOSITORY_ID, repository_owner_id: env.GITHUB_REPOSITORY_OWNER_ID },
        },
        resolvedDependencies: [{ uri: `git+${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}@${env.GITHUB_REF}`, digest: { gitCommit: env.GITHUB_SHA } }],
      },
      runDetails: {
        builder: { id: `https://github.com/actions/runner/${env.RUNNER_ENVIRONMENT}` },
        metadata: { invocationId: `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}/attempts/${env.GITHUB_RUN_ATTEMPT}` },
      },
    },
  };
}
