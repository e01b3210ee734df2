// The publish pipeline as named steps. Each step either passes or throws a typed error; nothing
// is stored until `commit`, which writes the release, its artifacts, tags, the served documents
// and the event in one transaction. Blobs are written before the commit and are content
// addressed, so a crash leaves at worst an unreferenced blob, never a row without its blob.
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Failpoint } from '../failpoints.ts';
import { AttestryError, conflict, invalid } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { BlobStore } from '../../storage/blobs/store.ts';
import { UniqueViolation, type Access, type MetadataOps, type MetadataStore, type PackageRecord } from '../../storage/metadata/store.ts';
import type { Authorizer } from '../../security/authz/authorize.ts';
import type { Principal } from '../../security/authz/principal.ts';
import type { ArtifactFacts, Ecosystem } from '../packages/ecosystem.ts';
import { rebuildDocuments, releaseView } from '../packages/projection.ts';
import { orgStandingFor, requireAllowed, resourceFor, scopeOrg } from '../packages/access.ts';
import { grantNewOrgPackage } from '../orgs/org-service.ts';
import type { KeySource } from '../../security/signing/registry-keys.ts';
import { publishAttestation } from '../../security/signing/publish-attestation.ts';
import { NPM_PUBLISH_PREDICATE } from '../../security/provenance/predicates.ts';
import { appendToLog, bundleDigest, publisherRef } from '../transparency/log.ts';
import { releasePublished } from '../transparency/entry.ts';
import { bindSigner, checkContinuity, summarize, type ProvenanceSummary, type ProvenanceVerifier, type VerifiedUpload } from './provenance.ts';

export interface PublishArtifactInput {
  filename: string;
  data: Buffer;
  /** What the client says the digests are; checked against what we compute. */
  claimedIntegrity: string | null;
  claimedSha1: string | null;
}

export interface PublishInput {
  ecosystem: Ecosystem;
  name: string;
  version: string;
  metadata: Record<string, unknown>;
  artifacts: PublishArtifactInput[];
  tags: string[];
  access: Access | null;
  description: string;
  keywords: string[];
  dependencies: string[];
  /** A Sigstore bundle (JSON text, byte for byte as uploaded) proving how the artifact was built. */
  provenanceBundle: string | null;
}

/** How a version was published, as recorded on the release and shown in documents. */
export type PublishedVia =
  | { kind: 'user'; user: string }
  | { kind: 'token'; user: string; tokenId: string }
  | { kind: 'trusted-publisher'; provider: string; reference: string; configId: string };

export function publishedVia(p: Principal): PublishedVia {
  if (p.kind === 'publisher') return { kind: 'trusted-publisher', provider: p.provider, reference: p.reference, configId: p.linkId };
  if (p.kind === 'user' && p.token?.kind === 'api') return { kind: 'token', user: p.name, tokenId: p.token.id };
  if (p.kind === 'user') return { kind: 'user', user: p.name };
  throw new Error('an anonymous principal cannot publish');
}

export interface PublishOutcome {
  status: 'created' | 'unchanged';
  name: string;
  version: string;
}

interface DigestedArtifact extends PublishArtifactInput {
  sha512hex: string;
  integrity: string;
  sha1: string;
}

export interface PublishDeps {
  /** Crash points for crash-consistency tests; a no-op in production. */
  failpoint: Failpoint;
  store: MetadataStore;
  blobs: BlobStore;
  authorizer: Authorizer;
  clock: Clock;
  log: Logger;
  provenance: ProvenanceVerifier;
  /** The registry's signing keys (dist.signatures, publish attestations). */
  keys: KeySource;
  /** The registry's public URL, named in its publish attestations. */
  registryUrl: string;
}

interface CheckedProvenance {
  bundle: string;
  verified: VerifiedUpload;
  summary: ProvenanceSummary;
}

export class PublishPipeline {
  private readonly d: PublishDeps;

  constructor(deps: PublishDeps) {
    this.d = deps;
  }

  async publish(principal: Principal, input: PublishInput): Promise<PublishOutcome> {
    await this.authorize(principal, input, this.d.store);
    const artifacts = this.digest(input.artifacts);
    const facts = await this.validateArtifacts(input, artifacts);
    const provenance = await this.verifyProvenance(principal, input, artifacts);
    // The registry's signature depends only on name, version and digest: made before the transaction, off the event loop.
    const [signatures] = await Promise.all([this.sign(input, artifacts), this.storeBlobs(artifacts)]);
    this.d.failpoint('publish.after-blobs');
    const outcome = await this.commitWithRetry(principal, input, artifacts, facts, provenance, signatures);
    this.d.log.info(outcome.status === 'created' ? 'release published' : 'identical publish retried', {
      ecosystem: input.ecosystem.id, package: input.name, version: input.version, user: principal.kind === 'user' ? principal.name : null,
      ...(principal.kind === 'publisher' ? { trustedPublisher: principal.reference } : {}),
    });
    return outcome;
  }

  /** Step 1: fail fast before any expensive work; repeated inside the commit against locked rows. */
  private async authorize(principal: Principal, input: PublishInput, ops: MetadataOps): Promise<PackageRecord | undefined> {
    const pkg = await ops.findPackage(input.ecosystem.id, input.name);
    const owners = pkg ? await ops.listOwners(pkg.id) : [];
    const org = await orgStandingFor(ops, input.ecosystem, input.name, principal);
    requireAllowed(this.d.authorizer.check(principal, pkg && !pkg.deletedAt ? 'package:publish' : 'package:create', resourceFor(input.ecosystem, input.name, pkg, owners, org)), input.name);
    return pkg;
  }

  /** Step 2: the server computes every digest itself; a client claim that disagrees is refused. */
  private digest(artifacts: PublishArtifactInput[]): DigestedArtifact[] {
    return artifacts.map((a) => {
      const sha512 = createHash('sha512').update(a.data).digest();
      const integrity = `sha512-${sha512.toString('base64')}`;
      const sha1 = createHash('sha1').update(a.data).digest('hex');
      if (a.claimedIntegrity !== null && a.claimedIntegrity !== integrity) {
        throw invalid('INTEGRITY_MISMATCH', `The integrity of ${a.filename} does not match its content (expected ${integrity})`);
      }
      if (a.claimedSha1 !== null && a.claimedSha1.toLowerCase() !== sha1) {
        throw invalid('SHASUM_MISMATCH', `The shasum of ${a.filename} does not match its content (expected ${sha1})`);
      }
      return { ...a, sha512hex: sha512.toString('hex'), integrity, sha1 };
    });
  }

  /** Step 3: the ecosystem inspects each artifact (format, limits, embedded name and version). */
  private async validateArtifacts(input: PublishInput, artifacts: DigestedArtifact[]): Promise<ArtifactFacts> {
    let facts: ArtifactFacts = {};
    for (const a of artifacts) {
      facts = { ...facts, ...(await input.ecosystem.inspectArtifact({ name: input.name, version: input.version, filename: a.filename, data: a.data })) };
    }
    return facts;
  }

  /** Step 3b (BP-1, BP-2): the bundle verifies, names exactly this artifact, and was signed by the publisher. */
  private async verifyProvenance(principal: Principal, input: PublishInput, artifacts: DigestedArtifact[]): Promise<CheckedProvenance | null> {
    if (input.provenanceBundle === null) return null;
    const artifact = artifacts[0];
    if (!artifact || artifacts.length !== 1) throw invalid('PROVENANCE_ONE_ARTIFACT', 'Provenance can be attached to a publish of exactly one artifact');
    const verified = this.d.provenance.verify(input.provenanceBundle, { name: input.name, version: input.version, sha512hex: artifact.sha512hex });
    await bindSigner(this.d.store, principal, input.ecosystem.id, input.name, verified.identity);
    return { bundle: input.provenanceBundle, verified, summary: summarize(verified) };
  }

  /** Step 4b: the registry's signature over the version (npm `dist.signatures`), as stored JSON. */
  private async sign(input: PublishInput, artifacts: DigestedArtifact[]): Promise<string | null> {
    const primary = artifacts[0];
    if (!primary) return null;
    const signer = this.d.keys.active();
    const payload = Buffer.from(input.ecosystem.signaturePayload({ name: input.name, version: input.version, integrity: primary.integrity }));
    const sig = signer.signAsync ? await signer.signAsync(payload) : signer.sign(payload);
    return JSON.stringify([{ keyid: signer.keyId, sig: sig.toString('base64') }]);
  }

  /** Step 4: content-addressed blobs, written before any row can point at them. */
  private async storeBlobs(artifacts: DigestedArtifact[]): Promise<void> {
    for (const a of artifacts) await this.d.blobs.put(a.sha512hex, a.data);
  }

  private async commitWithRetry(principal: Principal, input: PublishInput, artifacts: DigestedArtifact[], facts: ArtifactFacts, provenance: CheckedProvenance | null, signatures: string | null): Promise<PublishOutcome> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.d.store.transaction((tx) => this.commit(tx, principal, input, artifacts, facts, provenance, signatures));
      } catch (e) {
        // Two first publishes of one new name race on the package row: the loser retries and
        // then sees the winner's row (and its version) like any later publish would.
        if (e instanceof UniqueViolation && attempt < 3) continue;
        if (e instanceof UniqueViolation) throw conflict('CONCURRENT_PUBLISH', 'Another publish of this package is in progress; try again');
        throw e;
      }
    }
  }

  /** Step 5: one transaction for the release, artifacts, tags, documents and event. */
  private async commit(tx: MetadataOps, principal: Principal, input: PublishInput, artifacts: DigestedArtifact[], facts: ArtifactFacts, provenance: CheckedProvenance | null, signatures: string | null): Promise<PublishOutcome> {
    const eco = input.ecosystem;
    const now = this.d.clock();
    let pkg = await this.authorize(principal, input, tx);
    const created = !pkg;
    if (!pkg) {
      pkg = await tx.insertPackage({
        ecosystem: eco.id, name: input.name, createdAt: now, modifiedAt: now, rev: 0, access: input.access ?? 'public',
        description: '', keywords: '', latestVersion: null, deletedAt: null,
      });
      // Pending trusted publishers that others registered for this name must not outlive its
      // creation by someone else: they would let a stranger's CI publish the new owner's package.
      const owner = principal.kind === 'user' ? principal.userId : principal.kind === 'publisher' ? principal.registeredBy : null;
      const dropped = await tx.dropPendingPublishers(eco.id, input.name, owner);
      if (dropped > 0) this.d.log.info('pending trusted publishers of other users dropped', { package: input.name, count: dropped });
    }
    const org = await scopeOrg(tx, eco, input.name);
    if (created) await grantNewOrgPackage(tx, eco.id, org, input.name);
    await tx.lockPackage(pkg.id);

    const existing = await tx.findRelease(pkg.id, input.version);
    if (existing) {
      const stored = await tx.listArtifacts(existing.id);
      const same = existing.state === 'published' && stored.length === artifacts.length &&
        artifacts.every((a) => stored.some((s) => s.filename === a.filename && s.integrity === a.integrity));
      if (same) return { status: 'unchanged', name: input.name, version: input.version };
      if (existing.state === 'unpublished') {
        throw conflict('VERSION_UNPUBLISHED', `${input.name}@${input.version} was published and then unpublished; a version can never be reused. Publish a new version`);
      }
      throw conflict('VERSION_EXISTS', `${input.name}@${input.version} is already published with different content; versions are immutable. Publish a new version`);
    }
    // A name created by this very publish has no earlier version to be continuous with.
    if (!created) await checkContinuity(tx, pkg, provenance?.summary ?? null, now);

    const publisher = principal.kind === 'user' ? principal : null;
    // In an org, access after creation comes from teams: a team publisher does not become a maintainer.
    if (publisher && (created || !org)) await tx.addOwner(pkg.id, publisher.userId, now);
    // A workload that creates a package (a pending trusted publisher) makes its registrant the owner.
    else if (principal.kind === 'publisher' && principal.registeredBy !== null && (await tx.listOwners(pkg.id)).length === 0) await tx.addOwner(pkg.id, principal.registeredBy, now);
    const metadata = { ...input.metadata, ...facts };
    const release = await tx.insertRelease({
      packageId: pkg.id, version: input.version, state: 'published', createdAt: now, unpublishedAt: null,
      publisherId: publisher?.userId ?? null, metadata: JSON.stringify(metadata), deprecated: null, fragmentFull: '', fragmentAbbrev: '',
      publishedVia: JSON.stringify(publishedVia(principal)),
    });
    for (const a of artifacts) {
      await tx.insertArtifact({ releaseId: release.id, ecosystem: eco.id, packageName: input.name, filename: a.filename, blobKey: a.sha512hex, integrity: a.integrity, sha1: a.sha1, size: a.data.length });
    }
    const signer = this.d.keys.active();
    const primary = artifacts[0];
    // Stored with the fragments below (one UPDATE); the release view reads it from this object.
    release.signatures = signatures;
    if (provenance && primary) {
      await tx.insertAttestation({ releaseId: release.id, kind: 'provenance', predicateType: provenance.verified.predicateType, mediaType: provenance.verified.mediaType,
        bundle: provenance.bundle, summary: JSON.stringify(provenance.summary), createdAt: now });
      // BP-4: the registry's own statement that it accepted this artifact for this name and version.
      const attestation = publishAttestation(signer, { name: input.name, version: input.version, sha512hex: primary.sha512hex, registry: this.d.registryUrl });
      await tx.insertAttestation({ releaseId: release.id, kind: 'publish', predicateType: NPM_PUBLISH_PREDICATE, mediaType: (JSON.parse(attestation) as { mediaType: string }).mediaType,
        bundle: attestation, summary: JSON.stringify({ keyId: signer.keyId }), createdAt: now });
    }
    await tx.setDependencies(release.id, eco.id, input.dependencies);
    for (const tag of input.tags) await tx.setTag(pkg.id, tag, input.version);

    const tags = new Map((await tx.listTags(pkg.id)).map((t) => [t.tag, t.version]));
    const latest = tags.get('latest') ?? null;
    const isLatest = latest === input.version;
    await tx.updatePackage(pkg.id, {
      modifiedAt: now, rev: pkg.rev + 1, deletedAt: null, latestVersion: latest,
      access: input.access ?? pkg.access,
      ...(isLatest || pkg.latestVersion === null ? { description: input.description.slice(0, 1000), keywords: input.keywords.join(' ').slice(0, 1000) } : {}),
    });
    const current = await tx.findPackage(eco.id, input.name);
    if (!current) throw new AttestryError('unavailable', 'PACKAGE_VANISHED', 'The package row disappeared during publish');
    // A maintainer's token published a package that CI publishes: worth a maintainer's attention.
    if (principal.kind === 'user' && (await tx.listPackagePublishers(eco.id, input.name)).length > 0) {
      await tx.insertEvent({ at: now, type: 'trusted-publisher.bypassed', actorId: principal.userId, ecosystem: eco.id, packageName: input.name, version: input.version,
        data: { via: publishedVia(principal) } });
      this.d.log.warn('a package with trusted publishers was published with a user credential', { package: input.name, version: input.version, user: principal.name });
    }
    await tx.insertEvent({
      at: now, type: 'release.published', actorId: publisher?.userId ?? null, ecosystem: eco.id, packageName: input.name, version: input.version,
      data: { artifacts: artifacts.map((a) => ({ filename: a.filename, integrity: a.integrity, size: a.data.length })), tags: input.tags,
        ...(provenance ? { provenance: { sourceRepository: provenance.summary.sourceRepository, commit: provenance.summary.commit, issuer: provenance.summary.issuer } } : {}) },
    });
    // Transparency log: the entry commits with the version or not at all. Appended last because
    // it takes the log's sequencer lock, which every publish in every process then waits on.
    const logIndex = await appendToLog(tx, releasePublished({
      ecosystem: eco.id, name: input.name, version: input.version, at: now,
      artifacts: artifacts.map((a) => ({ filename: a.filename, sha512: a.sha512hex, sha1: a.sha1, size: a.data.length })),
      provenance: provenance ? bundleDigest(provenance.bundle) : null, publisher: publisherRef(publishedVia(principal)),
    }));
    // The version's fragment carries its log index (dist.logIndex), so it and the documents are
    // rendered after the append: only this rendering runs under the sequencer lock.
    release.logIndex = logIndex;
    const fragments = eco.renderRelease(await releaseView(tx, pkg, release, { provenancePredicate: provenance?.verified.predicateType ?? null }));
    await tx.updateRelease(release.id, { fragmentFull: fragments.full, fragmentAbbrev: fragments.abbrev, signatures, logIndex });
    await rebuildDocuments(tx, eco, current, now);
    this.d.failpoint('publish.before-commit');
    return { status: 'created', name: input.name, version: input.version };
  }
}
