// Served documents are a projection of the package's rows, rebuilt inside the same transaction
// as every write that changes them. Readers therefore never compute anything: they fetch bytes
// and an ETag that were fixed at write time.
import { createHash } from 'node:crypto';
import type { MetadataOps, PackageRecord, ReleaseRecord } from '../../storage/metadata/store.ts';
import type { Ecosystem, ReleaseView } from './ecosystem.ts';

export function etagOf(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
}

export async function releaseView(tx: MetadataOps, pkg: PackageRecord, release: Pick<ReleaseRecord, 'id' | 'version' | 'metadata' | 'deprecated' | 'createdAt' | 'publisherId' | 'publishedVia' | 'signatures' | 'logIndex'>,
  known?: { provenancePredicate: string | null }): Promise<ReleaseView> {
  const publisher = release.publisherId === null ? undefined : await tx.findUserById(release.publisherId);
  // A release being written knows its own attestations; others read them.
  const predicateType = known ? known.provenancePredicate : ((await tx.listAttestations(release.id)).find((a) => a.kind === 'provenance')?.predicateType ?? null);
  return {
    name: pkg.name,
    version: release.version,
    metadata: JSON.parse(release.metadata) as Record<string, unknown>,
    deprecated: release.deprecated,
    createdAt: release.createdAt,
    artifacts: await tx.listArtifacts(release.id),
    publisher: publisher ? { name: publisher.name, email: publisher.email } : null,
    publishedVia: release.publishedVia ? (JSON.parse(release.publishedVia) as Record<string, unknown>) : null,
    signatures: release.signatures ? (JSON.parse(release.signatures) as Array<{ keyid: string; sig: string }>) : [],
    provenance: predicateType !== null ? { predicateType } : null,
    logIndex: release.logIndex ?? null,
  };
}

/** Re-renders and stores every document of `pkg` (which must be the current row). */
export async function rebuildDocuments(tx: MetadataOps, eco: Ecosystem, pkg: PackageRecord, now: number): Promise<void> {
  const [releases, tagRows, owners] = await Promise.all([tx.listReleases(pkg.id), tx.listTags(pkg.id), tx.listOwners(pkg.id)]);
  const tags = new Map(tagRows.map((t) => [t.tag, t.version]));
  const docs = eco.renderDocuments({ pkg, releases, tags, owners: owners.map((o) => ({ name: o.name, email: o.email })) });
  await tx.deleteDocuments(eco.id, pkg.name);
  for (const d of docs) await tx.putDocument(eco.id, pkg.name, d.form, { etag: etagOf(d.body), body: d.body, modifiedAt: now });
}
