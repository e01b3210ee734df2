// Binds a provenance certificate to who is publishing. Fulcio copies a CI token's claims into
// certificate extensions (sigstore/fulcio docs/oid-info.md); this file holds the inverse mapping
// per provider, so a certificate can be compared with the token that was exchanged for the
// publish credential, or matched against a package's trusted-publisher policies with the same
// code that matches OIDC tokens. Every comparison is exact equality of decoded strings.
import type { Binding, Claims, ProviderDefinition, ProviderId } from '../oidc/provider.ts';
import type { CertificateIdentity } from './certificate-identity.ts';

type Mapping = (id: CertificateIdentity) => Record<string, string>;

/** `https://host/a/b@c` → `a/b@c`; anything that is not an absolute http(s) URI → undefined. */
export function pathAfterOrigin(uri: string | null | undefined): string | undefined {
  if (!uri) return undefined;
  const m = /^https?:\/\/[^/?#]+\/([^?#]+)$/.exec(uri);
  return m ? m[1] : undefined;
}

const ext = (id: CertificateIdentity, short: string): string | undefined => {
  const v = id.extensions[short];
  return v === undefined || v === '' ? undefined : v;
};

function compact(o: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

/** Certificate → the claims of the CI token Fulcio issued it for. Legacy (2023) GitHub certificates carry only .2–.6. */
const MAPPINGS: Partial<Record<ProviderId, Mapping>> = {
  github: (id) => compact({
    repository: pathAfterOrigin(ext(id, '1.12')) ?? ext(id, '1.5'),
    workflow_ref: pathAfterOrigin(ext(id, '1.18')) ?? (ext(id, '1.12') ? undefined : pathAfterOrigin(id.subjectAlternativeName)),
    job_workflow_ref: pathAfterOrigin(id.subjectAlternativeName),
    sha: ext(id, '1.13') ?? ext(id, '1.3'),
    ref: ext(id, '1.14') ?? ext(id, '1.6'),
    repository_id: ext(id, '1.15'),
    repository_owner: pathAfterOrigin(ext(id, '1.16')),
    repository_owner_id: ext(id, '1.17'),
    event_name: ext(id, '1.20') ?? ext(id, '1.2'),
    environment: ext(id, '1.23'),
    runner_environment: ext(id, '1.11'),
  }),
  gitlab: (id) => compact({
    project_path: pathAfterOrigin(ext(id, '1.12')),
    // Fulcio writes `https://` + ci_config_ref_uri, which itself starts with the host.
    ci_config_ref_uri: ext(id, '1.18')?.replace(/^https:\/\//, ''),
    sha: ext(id, '1.13'),
    ref_path: ext(id, '1.14'),
    project_id: ext(id, '1.15'),
    namespace_path: pathAfterOrigin(ext(id, '1.16')),
    namespace_id: ext(id, '1.17'),
    pipeline_source: ext(id, '1.20'),
    environment: ext(id, '1.23'),
    runner_environment: ext(id, '1.11'),
  }),
};

/** Claims that must be identical between the exchanged OIDC token and the provenance certificate. */
const SAME_RUN: Partial<Record<ProviderId, readonly string[]>> = {
  github: ['repository', 'workflow_ref', 'job_workflow_ref', 'sha', 'ref'],
  gitlab: ['project_path', 'ci_config_ref_uri', 'sha', 'ref_path'],
};

/** Compared only when both sides carry them (older certificates lack the extension). */
const SAME_RUN_IF_PRESENT: readonly string[] = ['environment', 'repository_id', 'repository_owner_id', 'project_id', 'namespace_id'];

export function certificateClaims(provider: ProviderId, id: CertificateIdentity): Claims | undefined {
  const map = MAPPINGS[provider];
  return map ? map(id) : undefined;
}

export type BindingResult = { ok: true } | { ok: false; code: string; message: string };

const refuse = (code: string, message: string): BindingResult => ({ ok: false, code, message });

/**
 * Trusted publishing: the certificate must come from the very workload that exchanged its OIDC
 * token for the publish credential (same issuer, repository, workflow, commit and ref).
 */
export function bindToWorkload(id: CertificateIdentity, workload: { provider: string; issuer: string; identity: Readonly<Record<string, string>> }): BindingResult {
  if (id.issuer !== workload.issuer) {
    return refuse('PROVENANCE_IDENTITY_MISMATCH', `The provenance was signed with a ${id.issuer} identity, but this publish is from a ${workload.issuer} workload`);
  }
  const provider = workload.provider as ProviderId;
  const claims = certificateClaims(provider, id);
  const fields = SAME_RUN[provider];
  if (!claims || !fields) {
    return refuse('PROVENANCE_PROVIDER_UNSUPPORTED', `Provenance from ${workload.provider} workloads cannot be bound to their trusted publisher yet`);
  }
  for (const f of fields) {
    if (claims[f] === undefined || claims[f] !== workload.identity[f]) {
      return refuse('PROVENANCE_IDENTITY_MISMATCH', `The provenance's ${f} (${String(claims[f] ?? 'absent')}) is not the publishing workload's (${workload.identity[f] ?? 'absent'})`);
    }
  }
  for (const f of SAME_RUN_IF_PRESENT) {
    if (claims[f] !== undefined && workload.identity[f] !== undefined && claims[f] !== workload.identity[f]) {
      return refuse('PROVENANCE_IDENTITY_MISMATCH', `The provenance's ${f} (${String(claims[f])}) is not the publishing workload's (${workload.identity[f]})`);
    }
  }
  return { ok: true };
}

export interface TrustedPublisherPolicy {
  provider: ProviderDefinition;
  issuer: string;
  policy: unknown;
  binding: Binding | null;
}

/**
 * A token publish of a package that trusts CI publishers: the certificate must satisfy one of
 * those policies, judged by the provider's own matcher (the one OIDC exchanges use).
 */
export function matchTrustedPublishers(id: CertificateIdentity, publishers: readonly TrustedPublisherPolicy[]): BindingResult {
  let first: BindingResult | undefined;
  for (const p of publishers) {
    if (p.issuer !== id.issuer) continue;
    const claims = certificateClaims(p.provider.id, id);
    if (!claims) continue;
    const result = p.provider.match(claims, p.policy, p.binding, id.issuer);
    if (result.ok) return { ok: true };
    first ??= refuse('PROVENANCE_PUBLISHER_MISMATCH', `The provenance does not come from a trusted publisher of this package: ${result.message}`);
  }
  return first ?? refuse('PROVENANCE_PUBLISHER_MISMATCH', `The provenance was signed by ${id.subjectAlternativeName} (${id.issuer}), which is none of this package's trusted publishers`);
}

/** The source repository a certificate names, comparable across versions (continuity). */
export function sourceRepositoryOf(id: CertificateIdentity): string | null {
  if (id.sourceRepositoryUri) return id.sourceRepositoryUri;
  // 2023 GitHub certificates name the repository only as `owner/repo` (legacy .5).
  if (id.legacyRepository && id.issuer === 'https://token.actions.githubusercontent.com') return `https://github.com/${id.legacyRepository}`;
  return null;
}
