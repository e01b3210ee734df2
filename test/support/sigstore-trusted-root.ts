// The trusted_root.json for the mock services' keys. @sigstore/mock has a builder for this but
// does not export it; this is the same shape, with every validFor.start set (the registry
// refuses roots without one).
import { createHash } from 'node:crypto';
import { HashAlgorithm, PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs';

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';

export interface TrustedRootKeys {
  /** DER of the Fulcio root certificate. */
  caRoot: ArrayBufferView;
  /** SPKI DER and RFC 6962 log id of the CT log. */
  ctlogKey: ArrayBufferView;
  ctlogId: ArrayBufferView;
  /** SPKI DER of the Rekor key; the log id is its sha256. */
  tlogKey: ArrayBufferView;
  tlogBaseUrl: string;
  /** DER of the TSA chain, leaf-most first. */
  tsaChain: ArrayBufferView[];
  /** When the keys start being trusted. */
  start: Date;
}

const bytes = (b: ArrayBufferView): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

export function buildTrustedRoot(k: TrustedRootKeys): Record<string, unknown> {
  const validFor = { start: k.start, end: undefined };
  const root: TrustedRoot = {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [{
      baseUrl: k.tlogBaseUrl,
      hashAlgorithm: HashAlgorithm.SHA2_256,
      publicKey: { rawBytes: bytes(k.tlogKey), keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256, validFor },
      logId: { keyId: createHash('sha256').update(bytes(k.tlogKey)).digest() },
      checkpointKeyId: undefined,
      operator: 'attestry-test',
    }],
    certificateAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
      uri: 'https://fulcio.sigstore.dev',
      certChain: { certificates: [{ rawBytes: bytes(k.caRoot) }] },
      validFor,
      operator: 'attestry-test',
    }],
    ctlogs: [{
      baseUrl: 'https://ctfe.sigstore.dev/test',
      hashAlgorithm: HashAlgorithm.SHA2_256,
      publicKey: { rawBytes: bytes(k.ctlogKey), keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256, validFor },
      logId: { keyId: bytes(k.ctlogId) },
      checkpointKeyId: undefined,
      operator: 'attestry-test',
    }],
    timestampAuthorities: [{
      subject: { organization: 'local', commonName: 'tsa' },
      uri: 'https://timestamp.sigstore.dev',
      certChain: { certificates: k.tsaChain.map((c) => ({ rawBytes: bytes(c) })) },
      validFor,
      operator: 'attestry-test',
    }],
  };
  return TrustedRoot.toJSON(root) as Record<string, unknown>;
}
