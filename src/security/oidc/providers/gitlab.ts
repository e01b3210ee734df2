// GitLab CI/CD (gitlab.com and self-managed instances). Policy: project path, top-level pipeline
// file, optional environment — what `npm trust gitlab` sends.
import {
  checkBinding, missingClaim, optionalEnvironment, refuse, requireObject, requireString, str,
  type ProviderDefinition,
} from '../provider.ts';

export interface GitlabPolicy {
  projectPath: string;
  configFile: string;
  environment: string | null;
}

const PROJECT_PATH = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)+$/;
const CONFIG_FILE = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*\.ya?ml$/;

/** `<host>/<ns>/<project>//<file>@<ref>` → { project, file }, or undefined. */
export function parseConfigRefUri(uri: string): { project: string; file: string } | undefined {
  const m = /^[^/]+\/(.+?)\/\/(.+)@[^@]+$/.exec(uri);
  return m ? { project: m[1] as string, file: m[2] as string } : undefined;
}

export const gitlab: ProviderDefinition<GitlabPolicy> = {
  id: 'gitlab',
  displayName: 'GitLab CI/CD',
  canonicalIssuers: ['https://gitlab.com'],
  algorithms: ['RS256'],
  setsJti: true,
  claims: {
    policyBound: ['project_path', 'ci_config_ref_uri'],
    required: ['project_id', 'namespace_id', 'ref_path', 'sha'],
    optional: ['environment'],
    ignored: ['sub', 'namespace_path', 'user_id', 'user_login', 'user_email', 'user_identities', 'pipeline_id', 'pipeline_source', 'job_id', 'ref',
      'ref_type', 'ref_protected', 'environment_protected', 'deployment_tier', 'environment_action', 'runner_id', 'runner_environment',
      'ci_config_sha', 'project_visibility', 'user_access_level', 'groups_direct', 'job_namespace_id', 'job_namespace_path',
      'job_project_id', 'job_project_path', 'job_source'],
  },

  parsePolicy(input) {
    const o = requireObject(input, 'claims');
    // GitLab paths are case-insensitive (environments are not).
    const projectPath = requireString(o, 'project_path', PROJECT_PATH, 'must be "group[/subgroup]/project"').toLowerCase();
    const ref = requireObject(o.ci_config_ref_uri, 'claims.ci_config_ref_uri');
    const configFile = requireString(ref, 'file', CONFIG_FILE, 'must be a pipeline file path ending in .yml or .yaml');
    const environment = optionalEnvironment(o);
    return { projectPath, configFile, environment };
  },

  toClaims: (p) => ({ project_path: p.projectPath, ci_config_ref_uri: { file: p.configFile }, ...(p.environment ? { environment: p.environment } : {}) }),

  match(claims, policy, bound) {
    const absent = missingClaim(claims, this.claims);
    if (absent) return absent;
    const project = str(claims, 'project_path') as string;
    if (project.toLowerCase() !== policy.projectPath.toLowerCase()) {
      return refuse('OIDC_REPOSITORY_MISMATCH', `The pipeline runs in ${project}, but this package trusts ${policy.projectPath}`);
    }
    const ref = parseConfigRefUri(str(claims, 'ci_config_ref_uri') as string);
    if (!ref || ref.project.toLowerCase() !== project.toLowerCase() || ref.file !== policy.configFile) {
      return refuse('OIDC_WORKFLOW_MISMATCH', `The pipeline's configuration is ${ref?.file ?? str(claims, 'ci_config_ref_uri')}${ref && ref.project.toLowerCase() !== project.toLowerCase() ? ` from ${ref.project}` : ''}, but this package trusts ${policy.configFile} in ${policy.projectPath}`);
    }
    if (policy.environment !== null && str(claims, 'environment') !== policy.environment) {
      return refuse('OIDC_ENVIRONMENT_MISMATCH', `The job runs in environment ${str(claims, 'environment') ? `"${str(claims, 'environment')}"` : '(none)'}, but this package requires "${policy.environment}"`);
    }
    // GitLab sets stable numeric ids; unlike PyPI we bind them at first use (TP-9).
    const changed = checkBinding(claims, bound, ['namespace_id', 'project_id']);
    if (changed) return changed;
    return {
      ok: true,
      binding: { namespace_id: str(claims, 'namespace_id') as string, project_id: str(claims, 'project_id') as string },
      reference: `${project}//${policy.configFile}@${str(claims, 'ref_path')}`,
    };
  },
};
