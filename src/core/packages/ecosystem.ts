// What the core needs from an ecosystem adapter. The core owns the rules that are the same
// everywhere (who may do what, immutability, atomicity, unpublish policy); the adapter owns
// names, versions ordering, artifact formats and the documents clients read.
import type { ArtifactRecord, PackageRecord, ReleaseRecord, UserRecord } from '../../storage/metadata/store.ts';

export interface ReleaseView {
  name: string;
  version: string;
  metadata: Record<string, unknown>;
  deprecated: string | null;
  createdAt: number;
  artifacts: readonly ArtifactRecord[];
  publisher: Pick<UserRecord, 'name' | 'email'> | null;
  /** How it was published (user, token or trusted publisher); null for releases older than the record. */
  publishedVia: Record<string, unknown> | null;
  /** The registry's signatures over the version (npm `dist.signatures`); empty until signed. */
  signatures: ReadonlyArray<{ keyid: string; sig: string }>;
  /** The predicate of the version's verified provenance, or null when it has none. */
  provenance: { predicateType: string } | null;
  /** Index of the version's release.published entry in the transparency log; null before the log existed. */
  logIndex: number | null;
}

export interface PackageView {
  pkg: PackageRecord;
  /** Every release ever created, including unpublished ones, oldest first. */
  releases: readonly ReleaseRecord[];
  tags: ReadonlyMap<string, string>;
  owners: readonly Pick<UserRecord, 'name' | 'email'>[];
}

export interface RenderedDocument {
  form: string;
  body: string;
}

/** Facts an adapter learns by inspecting an artifact, merged into the stored metadata. */
export type ArtifactFacts = Record<string, unknown>;

export interface Ecosystem {
  readonly id: string;
  /**
   * Identifies how stored fragments and documents were rendered (format version and anything
   * baked into them, such as the public URL). When it changes, everything is re-rendered.
   */
  readonly projectionKey: string;
  /** The namespace a name belongs to (npm `@scope` → `scope`), or null. */
  scopeOf(name: string): string | null;
  compareVersions(a: string, b: string): number;
  /** Validates an artifact's content against the release it claims to be; throws typed errors. */
  inspectArtifact(input: { name: string; version: string; filename: string; data: Buffer }): Promise<ArtifactFacts>;
  /** Serving fragments for one release, stored with it so documents are assembled without re-serialising. */
  renderRelease(release: ReleaseView): { full: string; abbrev: string };
  /** The documents served for a package (all forms); a package with no live releases gets its tombstone form(s). */
  renderDocuments(view: PackageView): RenderedDocument[];
  /** The bytes the registry signs for a version (npm: `<name>@<version>:<integrity>`). */
  signaturePayload(release: { name: string; version: string; integrity: string }): string;
  /** The in-toto subject name of a version (npm: its package URL). */
  statementSubject(name: string, version: string): string;
  /** Tags after some versions went away (e.g. npm re-points `latest` to the highest remaining). */
  retag(tags: ReadonlyMap<string, string>, remaining: readonly string[]): Map<string, string>;
}
