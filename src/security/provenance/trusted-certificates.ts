// @sigstore/verify re-derives everything about the trusted CA certificates on every verification:
// it re-encodes DER for each equality test and for each use of an issuer's key, and re-checks the
// CA chain's own signatures (the intermediate by the root, the root by itself) — about half of a
// publish's verification time, spent on the same constant bytes. Those are pure functions of
// immutable trusted inputs, so each trusted certificate object remembers them once it is built
// into the trust material. Nothing about an untrusted (bundle) certificate is ever remembered
// beyond its own lifetime (a WeakMap keyed by the object), and every signature it carries is
// still verified on every call.
import type { X509Certificate } from '@sigstore/core';
import type { TrustMaterial } from '@sigstore/verify';

const derOf = new WeakMap<X509Certificate, Buffer>();

function der(cert: X509Certificate): Buffer {
  let d = derOf.get(cert);
  if (!d) {
    d = cert.root.toDER();
    derOf.set(cert, d);
  }
  return d;
}

function remember(cert: X509Certificate, trusted: WeakSet<X509Certificate>): void {
  const own = der(cert);
  // An own property shadows the prototype's getter: the issuer key is read on every chain step.
  Object.defineProperty(cert, 'publicKey', { value: cert.publicKey, enumerable: false });
  cert.equals = (other) => other === cert || der(other).equals(own);
  const verify = cert.verify.bind(cert);
  const verdicts = new Map<X509Certificate | undefined, boolean>();
  cert.verify = (issuer) => {
    // Only a trusted issuer (or none: self-signed) makes a constant answer worth keeping.
    if (issuer !== undefined && !trusted.has(issuer)) return verify(issuer);
    let v = verdicts.get(issuer);
    if (v === undefined) {
      v = verify(issuer);
      verdicts.set(issuer, v);
    }
    return v;
  };
}

/** Makes the certificate authorities' and timestamp authorities' certificates remember their derived values. */
export function rememberTrustedCertificates(material: TrustMaterial): void {
  const certs = [...material.certificateAuthorities, ...material.timestampAuthorities].flatMap((a) => a.certChain);
  const trusted = new WeakSet(certs);
  for (const c of certs) remember(c, trusted);
}
