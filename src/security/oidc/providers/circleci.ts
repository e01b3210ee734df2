// CircleCI. Every organization has its own issuer (`https://oidc.circleci.com/org/<org-id>`),
// and the claims are namespaced. Policy: what `npm trust circleci` sends — organization,
// project, pipeline definition and VCS origin ids, and optionally contexts the job must use.
import { missingClaim, PolicyError, refuse, requireObject, requireString, str, UUID, type ProviderDefinition } from '../provider.ts';

const NS = 'oidc.circleci.com/';
const ORG = `${NS}org-id`;
const PROJECT = `${NS}project-id`;
const PIPELINE = `${NS}pipeline-definition-id`;
const VCS = `${NS}vcs-origin`;
const CONTEXTS = `${NS}context-ids`;
const VCS_ORIGIN = /^[A-Za-z0-9.-]+\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

export interface CircleciPolicy {
  orgId: string;
  projectId: string;
  pipelineDefinitionId: string;
  vcsOrigin: string;
  contextIds: string[];
}

export const circleci: ProviderDefinition<CircleciPolicy> = {
  id: 'circleci',
  displayName: 'CircleCI',
  canonicalIssuers: ['https://oidc.circleci.com/org/'],
  algorithms: ['RS256'],
  setsJti: false,
  claims: {
    policyBound: [ORG, PROJECT, PIPELINE, VCS],
    required: [],
    optional: [CONTEXTS],
    ignored: ['sub', `${NS}pipeline-id`, `${NS}job-id`, `${NS}workflow-id`, `${NS}vcs-ref`, `${NS}ssh-rerun`],
  },

  parsePolicy(input) {
    const o = requireObject(input, 'claims');
    const uuid = (k: string) => requireString(o, k, UUID, 'must be a UUID').toLowerCase();
    const contexts = o[CONTEXTS] ?? [];
    if (!Array.isArray(contexts) || contexts.length > 20 || contexts.some((c) => typeof c !== 'string' || !UUID.test(c))) {
      throw new PolicyError('TRUST_BAD_CLAIMS', `${CONTEXTS} must be a list of UUIDs`);
    }
    return {
      orgId: uuid(ORG), projectId: uuid(PROJECT), pipelineDefinitionId: uuid(PIPELINE),
      vcsOrigin: requireString(o, VCS, VCS_ORIGIN, 'must be host/owner/repo without a scheme'),
      contextIds: (contexts as string[]).map((c) => c.toLowerCase()),
    };
  },

  toClaims: (p) => ({ [ORG]: p.orgId, [PROJECT]: p.projectId, [PIPELINE]: p.pipelineDefinitionId, [VCS]: p.vcsOrigin, ...(p.contextIds.length ? { [CONTEXTS]: p.contextIds } : {}) }),

  match(claims, policy, _bound, issuer) {
    const absent = missingClaim(claims, this.claims);
    if (absent) return absent;
    const org = (str(claims, ORG) as string).toLowerCase();
    // The org is in the issuer URL too: a token of one org's issuer cannot claim another org.
    if (org !== policy.orgId || !issuer.toLowerCase().endsWith(`/org/${org}`)) return refuse('OIDC_REPOSITORY_MISMATCH', `The job belongs to CircleCI organization ${org}, but this package trusts ${policy.orgId}`);
    if ((str(claims, PROJECT) as string).toLowerCase() !== policy.projectId) return refuse('OIDC_REPOSITORY_MISMATCH', `The job belongs to project ${str(claims, PROJECT)}, but this package trusts ${policy.projectId}`);
    if ((str(claims, PIPELINE) as string).toLowerCase() !== policy.pipelineDefinitionId) return refuse('OIDC_WORKFLOW_MISMATCH', `The job's pipeline definition is ${str(claims, PIPELINE)}, but this package trusts ${policy.pipelineDefinitionId}`);
    if ((str(claims, VCS) as string).toLowerCase() !== policy.vcsOrigin.toLowerCase()) return refuse('OIDC_REPOSITORY_MISMATCH', `The job builds ${str(claims, VCS)}, but this package trusts ${policy.vcsOrigin}`);
    const have = claims[CONTEXTS];
    const contexts = Array.isArray(have) ? have.filter((c): c is string => typeof c === 'string').map((c) => c.toLowerCase()) : [];
    const lacking = policy.contextIds.filter((c) => !contexts.includes(c));
    if (lacking.length > 0) return refuse('OIDC_ENVIRONMENT_MISMATCH', `The job does not use the context(s) this package requires: ${lacking.join(', ')}`);
    return { ok: true, binding: {}, reference: `circleci:${policy.vcsOrigin}@pipeline-definition:${policy.pipelineDefinitionId}` };
  },
};
