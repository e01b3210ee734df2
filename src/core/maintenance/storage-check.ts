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
  // Transparency log (issue 7): dense, and every release.published entry and its version point at each other.
  const log = await store.logConsistency();
  if (log.entries !== log.size || (log.maxIndex ?? -1) !== log.size - 1) problems.push(`the transparency log's size is ${log.size} but it has ${log.entries} entries up to index ${log.maxIndex ?? 'none'}`);
  for (const m of log.mismatches) problems.push(`${m.ecosystem}:${m.name}@${m.version}: ${m.problem === 'entry-without-release' ? `log entry ${m.index} has no version pointing at it` : `its log index ${m.index} is not its release.published entry`}`);
  return { artifactsChecked: keys.length, problems };
}
