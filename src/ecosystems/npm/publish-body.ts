// The body of `PUT /<name>` when it is a publish: schema-checked, then turned into the core's
// PublishInput. Everything the registry computes itself (digests, tarball URL, publisher,
// maintainers) is ignored here and recomputed later, never trusted.
import semver from 'semver';
import { invalid } from '../../core/errors.ts';
import type { PublishInput } from '../../core/publish/pipeline.ts';
import type { NpmEcosystem } from './npm-ecosystem.ts';
import { tarballFilename } from './names.ts';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const TAG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_README = 512 * 1024;

/** A body that carries `_attachments` at all is a publish (and is refused as one if they are wrong). */
export function isPublishBody(body: Json): boolean {
  return body._attachments !== undefined;
}

/** semver's range parser is costly and the same few tags come every time: remember its answer. */
const rangeMemo = new Map<string, boolean>();
function isRange(tag: string): boolean {
  let known = rangeMemo.get(tag);
  if (known === undefined) {
    known = semver.validRange(tag) !== null;
    if (rangeMemo.size >= 1000) rangeMemo.clear();
    rangeMemo.set(tag, known);
  }
  return known;
}

/** A dist-tag is a short word that is not itself a version range (npm checks the same). */
export function validateTag(tag: string): string {
  if (!TAG.test(tag)) throw invalid('INVALID_TAG', `Invalid dist-tag "${tag.slice(0, 70)}": use letters, digits, ".", "_" or "-"`);
  if (isRange(tag)) throw invalid('TAG_IS_RANGE', `The dist-tag "${tag}" is a valid semver range; pick a tag that is not (e.g. "next")`);
  return tag;
}

export function validateVersion(version: unknown): string {
  if (typeof version !== 'string' || version.length > 256 || semver.valid(version) !== version) {
    throw invalid('INVALID_VERSION', `Invalid version "${String(version).slice(0, 64)}": versions are strict semver (e.g. 1.2.3)`);
  }
  return version;
}

export function parsePublishBody(urlName: string, body: Json, eco: NpmEcosystem): PublishInput {
  if (body.name !== urlName || (body._id !== undefined && body._id !== urlName)) {
    throw invalid('NAME_MISMATCH', `The body publishes "${String(body.name).slice(0, 214)}" but the URL names "${urlName}"`);
  }
  if (!isObject(body.versions) || Object.keys(body.versions).length !== 1) {
    throw invalid('ONE_VERSION_PER_PUBLISH', 'A publish carries exactly one version');
  }
  const [version, manifest] = Object.entries(body.versions)[0] as [string, unknown];
  validateVersion(version);
  if (!isObject(manifest)) throw invalid('BAD_VERSION_OBJECT', `versions["${version}"] must be an object`);
  if (manifest.name !== urlName) throw invalid('NAME_MISMATCH', `versions["${version}"].name is "${String(manifest.name).slice(0, 214)}", expected "${urlName}"`);
  if (manifest.version !== version) throw invalid('VERSION_MISMATCH', `versions["${version}"].version is "${String(manifest.version).slice(0, 64)}"`);

  if (!isObject(body._attachments)) throw invalid('BAD_ATTACHMENTS', '_attachments must be an object');
  const attachments = body._attachments;
  const keys = Object.keys(attachments);
  // npm names the provenance attachment after the manifest: `<name>-<version>.sigstore` (scope included).
  const bundleKey = `${urlName}-${version}.sigstore`;
  const provenanceBundle = keys.includes(bundleKey) ? parseBundleAttachment(attachments[bundleKey]) : null;
  const tarballKeys = keys.filter((k) => k !== bundleKey);
  const accepted = new Set([`${urlName}-${version}.tgz`, tarballFilename(urlName, version)]);
  if (tarballKeys.length !== 1 || !accepted.has(tarballKeys[0] as string)) {
    throw invalid('BAD_ATTACHMENTS', `Expected one attachment named ${tarballFilename(urlName, version)} (and optionally ${bundleKey})`);
  }
  const att = attachments[tarballKeys[0] as string];
  if (!isObject(att) || typeof att.data !== 'string' || !BASE64.test(att.data)) {
    throw invalid('BAD_ATTACHMENT_DATA', 'The tarball attachment must carry base64 data');
  }
  const data = Buffer.from(att.data, 'base64');
  if (att.length !== undefined && att.length !== data.length) {
    throw invalid('ATTACHMENT_LENGTH_MISMATCH', `The attachment says it is ${String(att.length)} bytes but carries ${data.length}`);
  }

  const tagsObj = body['dist-tags'];
  const tags: string[] = [];
  if (tagsObj !== undefined) {
    if (!isObject(tagsObj)) throw invalid('BAD_DIST_TAGS', 'dist-tags must be an object');
    for (const [tag, v] of Object.entries(tagsObj)) {
      if (v !== version) throw invalid('BAD_DIST_TAGS', `dist-tags.${tag} must point at the version being published (${version})`);
      tags.push(validateTag(tag));
    }
  }
  if (tags.length === 0) tags.push('latest');

  const access = body.access ?? null;
  if (access !== null && access !== 'public' && access !== 'restricted') throw invalid('BAD_ACCESS', 'access must be "public" or "restricted"');
  if (access === 'restricted' && eco.scopeOf(urlName) === null) throw invalid('UNSCOPED_CANNOT_BE_RESTRICTED', 'Only scoped packages can be restricted');

  const metadata: Json = { ...manifest };
  const dist = isObject(manifest.dist) ? manifest.dist : {};
  if (metadata.readme === undefined && typeof body.readme === 'string') metadata.readme = body.readme;
  if (typeof metadata.readme === 'string' && metadata.readme.length > MAX_README) metadata.readme = `${metadata.readme.slice(0, MAX_README)}\n\n(readme truncated by the registry)`;

  const deps = new Set<string>();
  for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies']) {
    const d = manifest[field];
    if (isObject(d)) for (const n of Object.keys(d)) deps.add(n);
  }
  const description = typeof manifest.description === 'string' ? manifest.description : typeof body.description === 'string' ? body.description : '';
  const keywords = Array.isArray(manifest.keywords) ? manifest.keywords.filter((k): k is string => typeof k === 'string') : [];

  return {
    ecosystem: eco,
    name: urlName,
    version,
    metadata,
    artifacts: [{
      filename: tarballFilename(urlName, version),
      data,
      claimedIntegrity: typeof dist.integrity === 'string' ? dist.integrity : null,
      claimedSha1: typeof dist.shasum === 'string' ? dist.shasum : null,
    }],
    tags,
    access,
    description,
    keywords,
    dependencies: [...deps],
    provenanceBundle,
  };
}

/** Sigstore bundles travel as JSON text in `data` (not base64), with a bundle media type. */
function parseBundleAttachment(att: unknown): string {
  if (!isObject(att) || typeof att.data !== 'string' || att.data.length === 0) {
    throw invalid('PROVENANCE_BAD_ATTACHMENT', 'The .sigstore attachment must carry the bundle as JSON text in "data"');
  }
  if (typeof att.content_type === 'string' && !att.content_type.startsWith('application/vnd.dev.sigstore.bundle')) {
    throw invalid('PROVENANCE_BAD_ATTACHMENT', `The .sigstore attachment has content type ${att.content_type.slice(0, 100)}, not a Sigstore bundle`);
  }
  if (att.length !== undefined && att.length !== att.data.length) {
    throw invalid('ATTACHMENT_LENGTH_MISMATCH', `The .sigstore attachment says it is ${String(att.length)} bytes but carries ${att.data.length}`);
  }
  return att.data;
}
