// The provenance steps of a publish (BP-1…BP-3): verify the uploaded bundle (outside the
// transaction: it is the expensive part), bind its signer to whoever is publishing, and check
// continuity with the previous version (inside the transaction, against locked rows).
import { forbidden } from '../errors.ts';
import type { AttestationRecord, MetadataOps, PackageRecord, ReleaseRecord } from '../../storage/metadata/store.ts';
import type { Principal } from '../../security/authz/principal.ts';
import type { CertificateIdentity } from '../../security/provenance/certificate-identity.ts';
import { bindToWorkload, matchTrustedPublishers, sourceRepositoryOf, type TrustedPublisherPolicy } from '../../security/provenance/identity-binding.ts';
import { isProviderId, PROVIDERS } from '../../security/oidc/providers/index.ts';
import type { Binding } from '../../security/oidc/provider.ts';

/** What the registry establishes about an uploaded bundle before it accepts it. */
export interface VerifiedUpload {
  mediaType: string;
  predicateType: string;
  identity: CertificateIdentity;
  tlog: { logIndex: string; integratedTime: number | null; logId: string; kind: string; version: string } | null;
  trustRoot: string;
  signedAt: number;
}

/** Full verification of one uploaded bundle for one version; throws a typed refusal. */
export interface ProvenanceVerifier {
  verify(bundle: string, expect: { name: string; version: string; sha512hex: string }): VerifiedUpload;
}

/** What is stored (and served, and compared by continuity) about a version's provenance. */
export interface ProvenanceSummary {
  predicateType: string;
  issuer: string;
  subjectAlternativeName: string;
  sourceRepository: string | null;
  commit: string | null;
  ref: string | null;
  buildConfig: string | null;
  builder: string | null;
  runInvocation: string | null;
  runnerEnvironment: string | null;
  transparencyLog: VerifiedUpload['tlog'];
  signedAt: string;
  trustRoot: string;
}

export function summarize(v: VerifiedUpload): ProvenanceSummary {
  const id = v.identity;
  return {
    predicateType: v.predicateType,
    issuer: id.issuer,
    subjectAlternativeName: id.subjectAlternativeName,
    sourceRepository: sourceRepositoryOf(id),
    commit: id.sourceRepositoryDigest,
    ref: id.sourceRepositoryRef,
    buildConfig: id.buildConfigUri,
    builder: id.buildSignerUri ?? id.subjectAlternativeName,
    runInvocation: id.runInvocationUri,
    runnerEnvironment: id.runnerEnvironment,
    transparencyLog: v.tlog,
    signedAt: new Date(v.signedAt).toISOString(),
    trustRoot: v.trustRoot,
  };
}

/**
 * The signer must be the publisher: the exchanging workload itself for a trusted-publishing
 * token, or one of the package's trusted publishers when a person's token publishes a package
 * that has them. A package without trusted publishers accepts any supported CI identity.
 */
export async function bindSigner(ops: MetadataOps, principal: Principal, ecosystem: string, name: string, id: CertificateIdentity): Promise<void> {
  if (principal.kind === 'publisher') {
    const r = bindToWorkload(id, principal);
    if (!r.ok) throw forbidden(r.code, `${r.message} (${name})`);
    return;
  }
  const links = await ops.listPackagePublishers(ecosystem, name);
  if (links.length === 0) return;
  const policies: TrustedPublisherPolicy[] = [];
  for (const link of links) {
    const p = await ops.findTrustedPublisher(link.publisherId);
    if (!p || !isProviderId(p.provider)) continue;
    const provider = PROVIDERS[p.provider];
    policies.push({ provider, issuer: p.issuer, policy: provider.parsePolicy(JSON.parse(p.policy)), binding: p.binding ? (JSON.parse(p.binding) as Binding) : null });
  }
  const r = matchTrustedPublishers(id, policies);
  if (!r.ok) throw forbidden(r.code, `${r.message} (${name})`);
}

/** The release continuity is judged against: the `latest` tag's version, else the newest live one. */
async function previousRelease(ops: MetadataOps, pkg: PackageRecord): Promise<ReleaseRecord | undefined> {
  // The common case reads one row: the release `latest` points at.
  const latestTag = (await ops.listTags(pkg.id)).find((t) => t.tag === 'latest')?.version;
  const tagged = latestTag === undefined ? undefined : await ops.findRelease(pkg.id, latestTag);
  if (tagged?.state === 'published') return tagged;
  const live = (await ops.listReleases(pkg.id)).filter((r) => r.state === 'published');
  return live[live.length - 1];
}

/**
 * BP-3: once a package's latest version has provenance, a new version must have it too, from
 * the same source repository — unless a maintainer opened a change window beforehand.
 */
export async function checkContinuity(ops: MetadataOps, pkg: PackageRecord, upload: ProvenanceSummary | null, now: number): Promise<void> {
  const previous = await previousRelease(ops, pkg);
  if (!previous) return;
  const before: AttestationRecord | undefined = (await ops.listAttestations(previous.id)).find((a) => a.kind === 'provenance');
  if (!before) return;
  if (pkg.provenanceChangeUntil !== null && now < pkg.provenanceChangeUntil) return;
  const how = 'If this change is intended, a maintainer can allow it first: see docs/provenance.md#changing-how-a-package-is-built';
  if (!upload) {
    throw forbidden('PROVENANCE_REQUIRED', `${pkg.name}@${previous.version} was published with provenance, so every new version needs it too. ${how}`);
  }
  const was = (JSON.parse(before.summary) as ProvenanceSummary).sourceRepository;
  if (was !== null && upload.sourceRepository !== was) {
    throw forbidden('PROVENANCE_SOURCE_CHANGED', `${pkg.name}@${previous.version} was built from ${was}, but this version's provenance names ${upload.sourceRepository ?? 'no source repository'}. ${how}`);
  }
}
