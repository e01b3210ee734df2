// The npm ecosystem as the core sees it: version ordering, artifact inspection and documents.
import semver from 'semver';
import { invalid } from '../../core/errors.ts';
import type { ArtifactFacts, Ecosystem, PackageView, ReleaseView, RenderedDocument } from '../../core/packages/ecosystem.ts';
import { inspectTarGz, type ArchiveLimits } from '../../security/archive/tar-gz.ts';
import { renderPackument, renderVersion, type ArtifactFactsNpm } from './documents.ts';
import { splitName } from './names.ts';
import { npmPurl } from '../../security/provenance/predicates.ts';

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'];

export interface NpmEcosystemOptions {
  /** Origin (and path prefix) tarball URLs are built on; never taken from a client. */
  publicUrl: string;
  archiveLimits: ArchiveLimits;
  maxManifestBytes: number;
}

/** Bump when the shape of stored fragments or documents changes: start-up then re-renders them. */
const DOCUMENT_FORMAT = 3;

export class NpmEcosystem implements Ecosystem {
  readonly id = 'npm';
  readonly projectionKey: string;
  private readonly opts: NpmEcosystemOptions;

  constructor(opts: NpmEcosystemOptions) {
    this.opts = opts;
    this.projectionKey = `format=${DOCUMENT_FORMAT} url=${opts.publicUrl}`;
  }

  scopeOf(name: string): string | null {
    return splitName(name).scope;
  }

  compareVersions(a: string, b: string): number {
    return semver.compare(a, b, true);
  }

  tarballUrl(name: string, filename: string): string {
    return `${this.opts.publicUrl}/${name}/-/${filename}`;
  }

  async inspectArtifact(input: { name: string; version: string; filename: string; data: Buffer }): Promise<ArtifactFacts> {
    const manifestPath = 'package/package.json';
    const archive = await inspectTarGz(input.data, { limits: this.opts.archiveLimits, extract: [manifestPath], maxExtractBytes: this.opts.maxManifestBytes });
    const raw = archive.files.get(manifestPath);
    if (!raw) throw invalid('TARBALL_NO_MANIFEST', `${input.filename} has no package/package.json`);
    let manifest: Record<string, unknown>;
    try {
      manifest = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw invalid('TARBALL_BAD_MANIFEST', `package/package.json in ${input.filename} is not valid JSON`);
    }
    if (typeof manifest !== 'object' || manifest === null) throw invalid('TARBALL_BAD_MANIFEST', 'package/package.json is not a JSON object');
    if (manifest.name !== input.name) {
      throw invalid('TARBALL_NAME_MISMATCH', `The tarball's package.json names "${String(manifest.name).slice(0, 214)}", but this is a publish of "${input.name}"`);
    }
    if (typeof manifest.version !== 'string' || semver.clean(manifest.version, true) !== input.version) {
      throw invalid('TARBALL_VERSION_MISMATCH', `The tarball's package.json has version "${String(manifest.version).slice(0, 64)}", but this is a publish of ${input.version}`);
    }
    const scripts = (typeof manifest.scripts === 'object' && manifest.scripts !== null ? manifest.scripts : {}) as Record<string, unknown>;
    const paths = new Set(archive.entries.map((e) => e.path));
    const facts: ArtifactFactsNpm = {
      fileCount: archive.fileCount,
      unpackedSize: archive.unpackedSize,
      // npm runs `node-gyp rebuild` for a binding.gyp even without an install script.
      hasInstallScript: INSTALL_SCRIPTS.some((s) => typeof scripts[s] === 'string') || paths.has('package/binding.gyp'),
      hasShrinkwrap: paths.has('package/npm-shrinkwrap.json'),
    };
    return { _artifactFacts: facts };
  }

  renderRelease(release: ReleaseView): { full: string; abbrev: string } {
    return renderVersion(release, {
      tarball: (name, filename) => this.tarballUrl(name, filename),
      attestations: (name, version) => `${this.opts.publicUrl}/-/npm/v1/attestations/${name}@${version}`,
    });
  }

  signaturePayload(release: { name: string; version: string; integrity: string }): string {
    // What npm clients verify `dist.signatures` over (pacote): `<name>@<version>:<integrity>`.
    return `${release.name}@${release.version}:${release.integrity}`;
  }

  statementSubject(name: string, version: string): string {
    return npmPurl(name, version);
  }

  renderDocuments(view: PackageView): RenderedDocument[] {
    return renderPackument(view);
  }

  retag(tags: ReadonlyMap<string, string>, remaining: readonly string[]): Map<string, string> {
    const alive = new Set(remaining);
    const out = new Map([...tags].filter(([, v]) => alive.has(v)));
    if (!out.has('latest') && remaining.length > 0) {
      const sorted = [...remaining].sort((a, b) => this.compareVersions(b, a));
      out.set('latest', sorted.find((v) => semver.prerelease(v, true) === null) ?? (sorted[0] as string));
    }
    return out;
  }
}
