// Decodes who a Fulcio certificate was issued to. Fulcio's extensions (OID arc
// 1.3.6.1.4.1.57264.1) come in two encodings: .1–.6 (deprecated, GitHub-only) hold the raw string
// bytes, .8–.24 hold a DER UTF8String. A value that is not in its arc's encoding is left out
// rather than guessed at, so a policy on it fails closed.
import { X509Certificate } from '@sigstore/core';
import { invalid } from '../../core/errors.ts';

const FULCIO_ARC = '1.3.6.1.4.1.57264.1.';
/** The SAN otherName Fulcio uses for username identities. */
const OTHERNAME_USERNAME = '1.3.6.1.4.1.57264.1.7';

export interface CertificateIdentity {
  /** URI or email (or Fulcio's username otherName). */
  subjectAlternativeName: string;
  /** .8, else legacy .1 */
  issuer: string;
  /** Decoded Fulcio extensions by short OID ('1.1'…'1.6', '1.8'…'1.24'), only those present. */
  extensions: Readonly<Record<string, string>>;
  /** .12 */
  sourceRepositoryUri: string | null;
  /** .13, else legacy .3 */
  sourceRepositoryDigest: string | null;
  /** .14, else legacy .6 */
  sourceRepositoryRef: string | null;
  /** .18 */
  buildConfigUri: string | null;
  /** .9 */
  buildSignerUri: string | null;
  /** .21 */
  runInvocationUri: string | null;
  /** .11 */
  runnerEnvironment: string | null;
  /** .5 (owner/repo; 2023 certificates have only the legacy extensions) */
  legacyRepository: string | null;
  /** ms */
  notBefore: number;
  /** ms */
  notAfter: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(bytes: Buffer): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** The contents of a DER UTF8String (tag 0x0c) that spans exactly `der`, else null. */
export function derUtf8String(der: Buffer): string | null {
  if (der.length < 2 || der[0] !== 0x0c) return null;
  let length = der[1] as number;
  let offset = 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    // Long form with at most 3 length bytes (16 MiB): more is never a certificate extension.
    if (n === 0 || n > 3 || der.length < 2 + n) return null;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (der[2 + i] as number);
    offset = 2 + n;
  }
  if (offset + length !== der.length) return null;
  return text(der.subarray(offset));
}

function fulcioExtensions(cert: X509Certificate): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ext of cert.extensions) {
    const oid = ext.subs[0]?.toOID();
    if (oid === undefined || !oid.startsWith(FULCIO_ARC)) continue;
    const arc = Number(oid.slice(FULCIO_ARC.length));
    if (!Number.isInteger(arc)) continue;
    // extnValue is the last element (the optional `critical` boolean sits in between).
    const raw = ext.subs[ext.subs.length - 1]?.value;
    if (raw === undefined) continue;
    const value = arc >= 1 && arc <= 6 ? text(raw) : arc >= 8 && arc <= 24 ? derUtf8String(raw) : null;
    if (value !== null) out[`1.${arc}`] = value;
  }
  return out;
}

function subjectAlternativeName(cert: X509Certificate): string | undefined {
  const san = cert.extSubjectAltName;
  return san?.uri ?? san?.rfc822Name ?? san?.otherName(OTHERNAME_USERNAME);
}

/** Throws AttestryError PROVENANCE_CERTIFICATE_INVALID when the certificate does not parse or names no identity or issuer. */
export function identityOf(leafDer: Buffer): CertificateIdentity {
  let cert: X509Certificate;
  let extensions: Record<string, string>;
  let san: string | undefined;
  let notBefore: number;
  let notAfter: number;
  try {
    cert = X509Certificate.parse(leafDer as Buffer<ArrayBuffer>);
    extensions = fulcioExtensions(cert);
    san = subjectAlternativeName(cert);
    notBefore = cert.notBefore.getTime();
    notAfter = cert.notAfter.getTime();
  } catch (e) {
    throw invalid('PROVENANCE_CERTIFICATE_INVALID', `the signing certificate cannot be decoded: ${e instanceof Error ? e.message : String(e)}`);
  }
  const issuer = extensions['1.8'] ?? extensions['1.1'];
  if (san === undefined || san === '') throw invalid('PROVENANCE_CERTIFICATE_INVALID', 'the signing certificate names no identity (no subject alternative name)');
  if (issuer === undefined || issuer === '') throw invalid('PROVENANCE_CERTIFICATE_INVALID', 'the signing certificate names no OIDC issuer (Fulcio extension 1.8 or 1.1)');
  const get = (key: string): string | null => extensions[key] ?? null;
  return {
    subjectAlternativeName: san,
    issuer,
    extensions: Object.freeze(extensions),
    sourceRepositoryUri: get('1.12'),
    sourceRepositoryDigest: get('1.13') ?? get('1.3'),
    sourceRepositoryRef: get('1.14') ?? get('1.6'),
    buildConfigUri: get('1.18'),
    buildSignerUri: get('1.9'),
    runInvocationUri: get('1.21'),
    runnerEnvironment: get('1.11'),
    legacyRepository: get('1.5'),
    notBefore,
    notAfter,
  };
}
