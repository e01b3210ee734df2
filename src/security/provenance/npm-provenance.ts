// What the registry runs on an npm publish that carries provenance: the generic bundle
// verification, then npm's rules — Fulcio-signed, an in-toto statement about exactly this name,
// version and tarball, from an OIDC issuer the registry accepts. The identity policy (which
// repository and workflow may publish this package) is the caller's, on `identity`.
import { invalid } from '../../core/errors.ts';
import type { CertificateIdentity } from './certificate-identity.ts';
import { checkNpmStatement, type NpmStatementExpectation } from './npm-statement.ts';
import type { TrustRoots } from './trust-roots.ts';
import { parseBundleInput, verifyBundle, type BundleVerification } from './verify-bundle.ts';

export interface NpmProvenanceExpectation extends NpmStatementExpectation {
  issuerSupported(issuer: string): boolean;
  /** default MAX_BUNDLE_BYTES */
  maxBytes?: number;
}

export interface VerifiedNpmProvenance extends BundleVerification {
  identity: CertificateIdentity;
  predicateType: string;
  subjectName: string;
  statement: Record<string, unknown>;
}

export function verifyNpmProvenance(bundle: string | Buffer | object, roots: TrustRoots, expect: NpmProvenanceExpectation): VerifiedNpmProvenance {
  const json = parseBundleInput(bundle, expect.maxBytes);
  // Shape refusals before any cryptography: verifyBundle would ask for a key or the artifact,
  // where the npm answer is that this kind of bundle is never provenance.
  const material = json.verificationMaterial;
  if (typeof material === 'object' && material !== null && (material as Record<string, unknown>).publicKey !== undefined) {
    throw invalid('PROVENANCE_NOT_CERTIFICATE_SIGNED', 'provenance must be signed with a Fulcio certificate issued to a CI workflow, not with a plain key');
  }
  if (json.messageSignature !== undefined) {
    throw invalid('PROVENANCE_BAD_PAYLOAD_TYPE', 'npm provenance must be a DSSE envelope with an in-toto statement, not a message signature');
  }
  const verified = verifyBundle(json, roots, expect.maxBytes === undefined ? {} : { maxBytes: expect.maxBytes });
  const identity = verified.identity;
  if (verified.signer !== 'certificate' || identity === null) {
    throw invalid('PROVENANCE_NOT_CERTIFICATE_SIGNED', 'provenance must be signed with a Fulcio certificate issued to a CI workflow, not with a plain key');
  }
  if (verified.dsse === null) throw invalid('PROVENANCE_BAD_PAYLOAD_TYPE', 'npm provenance must be a DSSE envelope with an in-toto statement');
  const statement = checkNpmStatement(verified.dsse.payloadType, verified.dsse.payload, expect);
  if (!expect.issuerSupported(identity.issuer)) {
    throw invalid('PROVENANCE_ISSUER_UNSUPPORTED', `provenance from OIDC issuer ${identity.issuer} is not accepted`);
  }
  return { ...verified, identity, ...statement };
}
