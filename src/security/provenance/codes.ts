// Every refusal of a Sigstore bundle carries one of these codes (tests assert them; the docs
// table is generated from the explanations). The library's own error codes are mapped onto these
// in verify-bundle.ts so callers never see a library-specific code.

export const PROVENANCE_CODES = {
  PROVENANCE_TOO_LARGE: 'The bundle is larger than the limit; it was refused before parsing.',
  PROVENANCE_MALFORMED: 'The bundle is not valid UTF-8 JSON, or not a JSON object.',
  PROVENANCE_BAD_BUNDLE: 'The bundle does not follow the Sigstore bundle schema (unknown media type, missing fields, an inclusion proof without a checkpoint, an empty certificate chain, undecodable parts).',
  PROVENANCE_ARTIFACT_REQUIRED: 'A message-signature bundle can only be verified together with the artifact it signs.',
  PROVENANCE_CERTIFICATE_INVALID: 'The signing certificate does not chain to a trusted Fulcio CA at signing time, lacks a valid SCT, or cannot be parsed.',
  PROVENANCE_UNTRUSTED_ROOT_IN_CHAIN: 'The certificate chain contains a self-signed certificate that is not the last one or is not a CA certificate of the trusted root.',
  PROVENANCE_TLOG_INVALID: 'The transparency log entry is missing or does not verify (signed entry timestamp, inclusion proof, checkpoint, or a body that does not match the bundle).',
  PROVENANCE_TIMESTAMP_INVALID: 'No verifiable timestamp dates the signature (no signed log time, or a timestamp authority token that does not verify).',
  PROVENANCE_SIGNATURE_INVALID: 'The signature does not verify over the artifact or the DSSE envelope.',
  PROVENANCE_KEY_UNKNOWN: 'The bundle is signed by a public key the verifier was not given.',
  PROVENANCE_KEY_NOT_VALID: 'The signing key was outside its validity window when the bundle was signed.',
  PROVENANCE_IDENTITY_MISMATCH: 'The signing certificate names a different identity (subject alternative name or OIDC issuer) than required.',
  PROVENANCE_NOT_CERTIFICATE_SIGNED: 'Provenance must be signed with a Fulcio certificate, not a plain key.',
  PROVENANCE_BAD_PAYLOAD_TYPE: 'The signed payload is not an in-toto statement (payload type other than application/vnd.in-toto+json, or no DSSE envelope).',
  PROVENANCE_BAD_STATEMENT: 'The in-toto statement is not JSON, has an unknown _type, or lacks predicateType or subject.',
  PROVENANCE_PREDICATE_NOT_ALLOWED: 'The statement predicate type is not one the registry accepts.',
  PROVENANCE_SUBJECT_COUNT: 'The statement must have exactly one subject.',
  PROVENANCE_SUBJECT_NAME_MISMATCH: 'The statement subject names a different package or version.',
  PROVENANCE_DIGEST_MISMATCH: 'The statement subject sha512 digest differs from the uploaded tarball.',
  PROVENANCE_ISSUER_UNSUPPORTED: 'The certificate was issued for an OIDC issuer the registry does not accept provenance from.',
} as const;

export type ProvenanceCode = keyof typeof PROVENANCE_CODES;

/** Codes of TrustRootError: configuration errors at start-up (roots and key lists), not request refusals. */
export const TRUST_ROOT_CODES = {
  TRUST_ROOT_UNREADABLE: 'A configured trusted root file cannot be read.',
  TRUST_ROOT_INVALID: 'A trusted root is not valid JSON, has an unknown media type, a key or certificate that does not parse, or a log, CA or TSA without validFor.start.',
  TRUST_ROOT_NONE: 'No trusted root is configured.',
  TRUST_KEYS_INVALID: 'A list of verification keys (npm keys.json shape) is malformed, or a key in it does not parse.',
} as const;

export type TrustRootCode = keyof typeof TRUST_ROOT_CODES;
