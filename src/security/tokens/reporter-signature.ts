// Secret-scanning reports (the wire format of GitHub's secret-scanning partner program): a JSON
// list of tokens found in public places, signed by the reporter with ECDSA P-256 / SHA-256 over
// the exact body bytes (base64 DER in `Github-Public-Key-Signature`, the key named by
// `Github-Public-Key-Identifier`). The signature is checked before the body is parsed: nothing a
// stranger sends is interpreted until a configured reporter vouches for it.
import { createHash, createPublicKey, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { invalid, unauthenticated } from '../../core/errors.ts';

export interface ReporterKeyConfig {
  keyId: string;
  publicKeyPem: string;
}

export interface ScannerFinding {
  token: string;
  type: string;
  /** Where the token was found (an https URL), when the reporter said. */
  url: string | null;
  source: string | null;
}

export const MAX_REPORT_BYTES = 1024 * 1024;
export const MAX_REPORT_ENTRIES = 1000;
export const MAX_REPORTED_TOKEN_LENGTH = 200;
const MAX_FIELD_LENGTH = 2048;
const MAX_KEY_ID_LENGTH = 256;
/** A DER P-256 signature is at most 72 bytes; leave room, refuse anything absurd before decoding. */
const MAX_SIGNATURE_BASE64 = 256;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses a PEM public key and insists on EC P-256; throws a plain Error (the caller words it). */
export function parseReporterPublicKey(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('expected an EC P-256 (prime256v1) public key');
  }
  return key;
}

interface LoadedKey {
  keyId: string;
  digest: Buffer;
  key: KeyObject;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export class ReporterKeys {
  private readonly keys: LoadedKey[];

  constructor(configured: readonly ReporterKeyConfig[]) {
    this.keys = configured.map((k) => ({ keyId: k.keyId, digest: digest(k.keyId), key: parseReporterPublicKey(k.publicKeyPem) }));
  }

  get size(): number {
    return this.keys.length;
  }

  /**
   * Checks the signature headers against the raw body; returns the key id that signed it.
   * Every configured key id is compared (fixed-length digests, constant time) so the answer time
   * does not tell which ids exist.
   */
  verify(body: Buffer, keyIdHeader: unknown, signatureHeader: unknown): string {
    if (typeof keyIdHeader !== 'string' || keyIdHeader.length === 0 || keyIdHeader.length > MAX_KEY_ID_LENGTH) {
      throw unauthenticated('SCANNER_KEY_UNKNOWN', 'The report does not name a known reporter key');
    }
    const presented = digest(keyIdHeader);
    let found: LoadedKey | undefined;
    for (const k of this.keys) {
      if (timingSafeEqual(k.digest, presented) && found === undefined) found = k;
    }
    if (found === undefined) throw unauthenticated('SCANNER_KEY_UNKNOWN', 'The report does not name a known reporter key');
    if (typeof signatureHeader !== 'string' || signatureHeader.length > MAX_SIGNATURE_BASE64 || !BASE64.test(signatureHeader)) {
      throw unauthenticated('SCANNER_SIGNATURE_INVALID', 'The report signature is missing or malformed');
    }
    let ok: boolean;
    try {
      ok = verify('sha256', body, { key: found.key, dsaEncoding: 'der' }, Buffer.from(signatureHeader, 'base64'));
    } catch {
      ok = false; // malformed DER: the same answer as a wrong signature
    }
    if (!ok) throw unauthenticated('SCANNER_SIGNATURE_INVALID', 'The report signature does not verify');
    return found.keyId;
  }
}

const boundedString = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;

/** Schema-checks a (verified) report body: a JSON array of at most 1000 findings. */
export function parseScannerReport(body: Buffer): ScannerFinding[] {
  const bad = (why: string) => invalid('SCANNER_REPORT_INVALID', `The report is malformed: ${why}`);
  if (body.length > MAX_REPORT_BYTES) throw bad(`larger than ${MAX_REPORT_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw bad('not JSON');
  }
  if (!Array.isArray(raw)) throw bad('expected a JSON array');
  if (raw.length === 0 || raw.length > MAX_REPORT_ENTRIES) throw bad(`expected 1 to ${MAX_REPORT_ENTRIES} findings`);
  return raw.map((entry: unknown, i): ScannerFinding => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw bad(`finding ${i} is not an object`);
    const o = entry as Record<string, unknown>;
    if (!boundedString(o.token, MAX_REPORTED_TOKEN_LENGTH) || o.token.length === 0) throw bad(`finding ${i}: token must be a string of 1 to ${MAX_REPORTED_TOKEN_LENGTH} characters`);
    if (o.type !== undefined && !boundedString(o.type, MAX_FIELD_LENGTH)) throw bad(`finding ${i}: type must be a string`);
    if (o.url !== undefined && o.url !== null && !boundedString(o.url, MAX_FIELD_LENGTH)) throw bad(`finding ${i}: url must be a string`);
    if (o.source !== undefined && o.source !== null && !boundedString(o.source, MAX_FIELD_LENGTH)) throw bad(`finding ${i}: source must be a string`);
    return { token: o.token, type: (o.type as string | undefined) ?? '', url: (o.url as string | null | undefined) ?? null, source: (o.source as string | null | undefined) ?? null };
  });
}
