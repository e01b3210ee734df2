// The in-toto predicate types the registry knows. Provenance uploads may carry any of
// ALLOWED_PREDICATES; the registry's own publish attestation always uses NPM_PUBLISH_PREDICATE.

export const SLSA_PROVENANCE_V02 = 'https://slsa.dev/provenance/v0.2';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
/** npm's publish predicate: "this registry accepted this tarball for this name and version". */
export const NPM_PUBLISH_PREDICATE = 'https://github.com/npm/attestation/tree/main/specs/publish/v0.1';

export const ALLOWED_PREDICATES: readonly string[] = [SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1, NPM_PUBLISH_PREDICATE];

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** The package URL of an npm version, as npm writes it in statement subjects (only the scope's "@" escaped). */
export function npmPurl(name: string, version: string): string {
  return `pkg:npm/${name.startsWith('@') ? `%40${name.slice(1)}` : name}@${version}`;
}
