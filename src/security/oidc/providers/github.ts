// GitHub Actions (and GitHub Enterprise Server, Gitea/Forgejo Actions, which use its claim shape).
// Policy: repository, workflow file, optional environment — what `npm trust github` sends.
import {
  checkBinding, missingClaim, optionalEnvironment, refuse, requireObject, requireString, str, WORKFLOW_FILE,
  type ProviderDefinition,
} from '../provider.ts';

export interface GithubPolicy {
  repository: string;
  workflowFile: string;
  environment: string | null;
}

const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

/** `owner/repo/.github/workflows/<file>@<ref>` → `<file>`, or undefined for anything else. */
export function workflowFileOf(workflowRef: string, repository: string): string | undefined {
  const at = workflowRef.indexOf('@');
  if (at === -1) return undefined;
  const path = workflowRef.slice(0, at);
  const prefix = `${repository}/.github/workflows/`;
  if (path.toLowerCase().slice(0, prefix.length) !== prefix.toLowerCase()) return undefined;
  const file = path.slice(prefix.length);
  return WORKFLOW_FILE.test(file) ? file : undefined;
}

export const github: ProviderDefinition<GithubPolicy> = {
  id: 'github',
  displayName: 'GitHub Actions',
  canonicalIssuers: ['https://token.actions.githubusercontent.com'],
  algorithms: ['RS256'],
  setsJti: true,
  claims: {
    policyBound: ['repository', 'workflow_ref'],
    required: ['repository_owner', 'repository_owner_id', 'repository_id', 'event_name', 'sha', 'ref'],
    optional: ['environment'],
    ignored: ['sub', 'actor', 'actor_id', 'run_id', 'run_number', 'run_attempt', 'head_ref', 'base_ref', 'ref_type', 'workflow',
      'repository_visibility', 'workflow_sha', 'job_workflow_ref', 'job_workflow_sha', 'runner_environment', 'environment_node_id',
      'enterprise', 'enterprise_id', 'ref_protected', 'check_run_id'],
  },

  parsePolicy(input) {
    const o = requireObject(input, 'claims');
    // GitHub names are case-insensitive: stored lower-case, so one repository is one publisher.
    const repository = requireString(o, 'repository', REPOSITORY, 'must be "owner/repo"', 200).toLowerCase();
    const ref = requireObject(o.workflow_ref, 'claims.workflow_ref');
    const workflowFile = requireString(ref, 'file', WORKFLOW_FILE, 'must be a bare workflow file name ending in .yml or .yaml');
    const environment = optionalEnvironment(o)?.toLowerCase() ?? null;
    return { repository, workflowFile, environment };
  },

  toClaims: (p) => ({ repository: p.repository, workflow_ref: { file: p.workflowFile }, ...(p.environment ? { environment: p.environment } : {}) }),

  match(claims, policy, bound) {
    const absent = missingClaim(claims, this.claims);
    if (absent) return absent;
    const repository = str(claims, 'repository') as string;
    if (repository.toLowerCase() !== policy.repository.toLowerCase()) {
      return refuse('OIDC_REPOSITORY_MISMATCH', `The workflow runs in ${repository}, but this package trusts ${policy.repository}`);
    }
    // The top-level workflow the run was started from (what `npm trust github --file` names).
    const file = workflowFileOf(str(claims, 'workflow_ref') as string, repository);
    if (file !== policy.workflowFile) {
      return refuse('OIDC_WORKFLOW_MISMATCH', `The run's workflow is ${file ?? str(claims, 'workflow_ref')}, but this package trusts ${policy.workflowFile}`);
    }
    const event = str(claims, 'event_name');
    if (event === 'pull_request_target' || event === 'workflow_run') {
      return refuse('OIDC_UNTRUSTED_EVENT', `Publishing from a workflow triggered by ${event} is refused: it can run code from forks with the repository's permissions`);
    }
    if (policy.environment !== null) {
      const env = str(claims, 'environment');
      if (!env || env.toLowerCase() !== policy.environment.toLowerCase()) {
        return refuse('OIDC_ENVIRONMENT_MISMATCH', `The job runs in environment ${env ? `"${env}"` : '(none)'}, but this package requires "${policy.environment}"`);
      }
    }
    const changed = checkBinding(claims, bound, ['repository_owner_id', 'repository_id']);
    if (changed) return changed;
    return {
      ok: true,
      binding: { repository_owner_id: str(claims, 'repository_owner_id') as string, repository_id: str(claims, 'repository_id') as string },
      reference: `${repository}/.github/workflows/${policy.workflowFile}@${str(claims, 'ref')}`,
    };
  },
};
