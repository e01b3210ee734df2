// Buildkite (agent OIDC tokens). Policy: organization and pipeline slugs, optionally a branch.
import { missingClaim, optionalString, refuse, requireObject, requireString, str, type ProviderDefinition } from '../provider.ts';

export interface BuildkitePolicy {
  organization: string;
  pipeline: string;
  branch: string | null;
}

const SLUG = /^[a-z0-9][a-z0-9-]*$/;
const BRANCH = /^[^\s\p{Cc}~^:?*[\\]+$/u;

export const buildkite: ProviderDefinition<BuildkitePolicy> = {
  id: 'buildkite',
  displayName: 'Buildkite',
  canonicalIssuers: ['https://agent.buildkite.com'],
  algorithms: ['RS256', 'ES256'],
  setsJti: true,
  claims: {
    policyBound: ['organization_slug', 'pipeline_slug'],
    required: ['build_commit', 'organization_id', 'pipeline_id'],
    optional: ['build_branch'],
    ignored: ['sub', 'build_number', 'build_tag', 'build_source', 'job_id', 'agent_id', 'step_key', 'cluster_id', 'queue_id', 'agent_tag:*'],
  },

  parsePolicy(input) {
    const o = requireObject(input, 'claims');
    return {
      organization: requireString(o, 'organization_slug', SLUG, 'must be a Buildkite organization slug'),
      pipeline: requireString(o, 'pipeline_slug', SLUG, 'must be a Buildkite pipeline slug'),
      branch: optionalString(o, 'build_branch', BRANCH, 'must be a branch name'),
    };
  },

  toClaims: (p) => ({ organization_slug: p.organization, pipeline_slug: p.pipeline, ...(p.branch ? { build_branch: p.branch } : {}) }),

  match(claims, policy) {
    const absent = missingClaim(claims, this.claims);
    if (absent) return absent;
    if (str(claims, 'organization_slug') !== policy.organization || str(claims, 'pipeline_slug') !== policy.pipeline) {
      return refuse('OIDC_REPOSITORY_MISMATCH', `The job runs in ${str(claims, 'organization_slug')}/${str(claims, 'pipeline_slug')}, but this package trusts ${policy.organization}/${policy.pipeline}`);
    }
    if (policy.branch !== null && str(claims, 'build_branch') !== policy.branch) {
      return refuse('OIDC_ENVIRONMENT_MISMATCH', `The build is of branch ${str(claims, 'build_branch') ?? '(none)'}, but this package requires ${policy.branch}`);
    }
    return { ok: true, binding: {}, reference: `buildkite:${policy.organization}/${policy.pipeline}` };
  },
};
