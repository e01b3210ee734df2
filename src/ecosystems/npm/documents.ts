// npm's served documents (packuments). Each release's version object is serialised once, when
// the release is written, into two fragments (full and abbreviated "corgi"); a document is then
// assembled by concatenating stored fragments, never by re-serialising every version.
import { createHash } from 'node:crypto';
import type { PackageView, ReleaseView, RenderedDocument } from '../../core/packages/ecosystem.ts';
import type { ReleaseRecord } from '../../storage/metadata/store.ts';

/** Keys a client may not set on a version: they are computed by the registry. */
const SERVER_OWNED = new Set([
  '_id', '_rev', 'dist', '_npmUser', 'maintainers', '_attachments', '_resolved', '_integrity', '_from', '_shasum',
  'deprecated', '_hasShrinkwrap', 'hasInstallScript', 'readme', 'readmeFilename', '_artifactFacts', '_npmOperationalInternal',
]);

/** Keys that would reach an object's prototype if assigned. */
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Version fields kept in the abbreviated document (what installers read). */
const ABBREVIATED = [
  'name', 'version', 'deprecated', 'dependencies', 'optionalDependencies', 'devDependencies', 'peerDependencies',
  'peerDependenciesMeta', 'bundleDependencies', 'bundledDependencies', 'bin', 'directories', 'engines', 'os', 'cpu', 'libc',
  '_hasShrinkwrap', 'hasInstallScript', 'funding', 'acceptDependencies', 'dist',
] as const;

export interface ArtifactFactsNpm {
  fileCount: number;
  unpackedSize: number;
  hasInstallScript: boolean;
  hasShrinkwrap: boolean;
}

export function factsOf(metadata: Record<string, unknown>): ArtifactFactsNpm | undefined {
  return metadata._artifactFacts as ArtifactFactsNpm | undefined;
}

export interface VersionUrls {
  tarball(name: string, filename: string): string;
  attestations(name: string, version: string): string;
}

export function renderVersion(view: ReleaseView, urls: VersionUrls): { full: string; abbrev: string } {
  const m = view.metadata;
  const facts = factsOf(m);
  const artifact = view.artifacts[0];
  const manifest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) if (!SERVER_OWNED.has(k) && !UNSAFE_KEYS.has(k)) manifest[k] = v;
  manifest.name = view.name;
  manifest.version = view.version;
  manifest._id = `${view.name}@${view.version}`;
  if (view.deprecated) manifest.deprecated = view.deprecated;
  if (facts?.hasShrinkwrap) manifest._hasShrinkwrap = true;
  if (facts?.hasInstallScript) manifest.hasInstallScript = true;
  if (artifact) {
    manifest.dist = {
      integrity: artifact.integrity,
      shasum: artifact.sha1,
      tarball: urls.tarball(view.name, artifact.filename),
      ...(facts ? { fileCount: facts.fileCount, unpackedSize: facts.unpackedSize } : {}),
      ...(view.signatures.length > 0 ? { signatures: view.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })) } : {}),
      ...(view.provenance ? { attestations: { url: urls.attestations(view.name, view.version), provenance: { predicateType: view.provenance.predicateType } } } : {}),
      // Where the transparency log records this version (docs/transparency.md); absent before the log existed.
      ...(view.logIndex !== null ? { logIndex: view.logIndex } : {}),
    };
  }
  const via = view.publishedVia;
  if (via?.kind === 'trusted-publisher') {
    // npm's shape for a trusted publish: the CI is the publisher, its config id says which trust.
    manifest._npmUser = { name: String(via.provider), trustedPublisher: { id: via.provider, oidcConfigId: via.configId, reference: via.reference } };
  } else if (view.publisher) {
    // Which credential: a token (its id, as `npm token list` shows it to its owner) or a login session.
    const credential = via?.kind === 'token' ? { token: via.tokenId } : {};
    manifest._npmUser = { name: view.publisher.name, email: view.publisher.email, ...credential };
  }
  const abbrev: Record<string, unknown> = {};
  for (const k of ABBREVIATED) if (manifest[k] !== undefined) abbrev[k] = manifest[k];
  return { full: JSON.stringify(manifest), abbrev: JSON.stringify(abbrev) };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** URL-safe, changes on every write: `<counter>-<hash>`. */
export function revOf(name: string, rev: number): string {
  return `${rev}-${createHash('sha256').update(`${name}\0${rev}`).digest('hex').slice(0, 16)}`;
}

const TOP_LEVEL_FROM_LATEST = ['description', 'keywords', 'license', 'homepage', 'repository', 'bugs', 'author'] as const;

export function renderPackument(view: PackageView): RenderedDocument[] {
  const { pkg } = view;
  const live = view.releases.filter((r) => r.state === 'published');
  const rev = revOf(pkg.name, pkg.rev);
  const name = JSON.stringify(pkg.name);
  const time: Record<string, string> = { created: iso(pkg.createdAt), modified: iso(pkg.modifiedAt) };

  if (live.length === 0) {
    const gone = view.releases.filter((r) => r.state === 'unpublished');
    const unpublishedAt = Math.max(pkg.deletedAt ?? 0, ...gone.map((r) => r.unpublishedAt ?? 0));
    const tombstone = {
      error: `${pkg.name} was unpublished on ${iso(unpublishedAt)}; its name stays reserved for its owners`,
      _id: pkg.name, _rev: rev, name: pkg.name,
      time: { ...time, unpublished: { time: iso(unpublishedAt), versions: gone.map((r) => r.version) } },
    };
    return [{ form: 'tombstone', body: JSON.stringify(tombstone) }];
  }

  for (const r of live) time[r.version] = iso(r.createdAt);
  const tags = JSON.stringify(Object.fromEntries(view.tags));
  const timeJson = JSON.stringify(time);
  const versionsOf = (pick: (r: ReleaseRecord) => string) => `{${live.map((r) => `${JSON.stringify(r.version)}:${pick(r)}`).join(',')}}`;

  const latestVersion = view.tags.get('latest');
  const latest = live.find((r) => r.version === latestVersion) ?? live[live.length - 1];
  const latestMeta = latest ? (JSON.parse(latest.metadata) as Record<string, unknown>) : {};
  const extra: Record<string, unknown> = {};
  for (const k of TOP_LEVEL_FROM_LATEST) if (latestMeta[k] !== undefined) extra[k] = latestMeta[k];
  extra.readme = typeof latestMeta.readme === 'string' ? latestMeta.readme : '';
  if (typeof latestMeta.readmeFilename === 'string') extra.readmeFilename = latestMeta.readmeFilename;
  extra.maintainers = view.owners.map((o) => ({ name: o.name, email: o.email }));
  extra.users = {};
  const extraJson = JSON.stringify(extra).slice(1, -1);

  const full = `{"_id":${name},"_rev":${JSON.stringify(rev)},"name":${name},"dist-tags":${tags},"versions":${versionsOf((r) => r.fragmentFull)},"time":${timeJson}${extraJson ? `,${extraJson}` : ''}}`;
  const abbrev = `{"name":${name},"_rev":${JSON.stringify(rev)},"modified":${JSON.stringify(time.modified)},"dist-tags":${tags},"versions":${versionsOf((r) => r.fragmentAbbrev)},"time":${timeJson}}`;
  return [{ form: 'full', body: full }, { form: 'abbrev', body: abbrev }];
}
