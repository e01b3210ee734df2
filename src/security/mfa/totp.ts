// TOTP second factor: RFC 6238 over RFC 4226 HOTP with HMAC-SHA1, 6 digits, 30-second steps —
// the only parameters every authenticator app honours, which is why they are fixed, not configured.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { invalid } from '../../core/errors.ts';

export interface TotpPolicy {
  digits: 6;
  periodSeconds: 30;
  /** Steps accepted either side of the current one, for clock drift and typing time. */
  window: 1;
}

export const TOTP_POLICY: TotpPolicy = Object.freeze({ digits: 6, periodSeconds: 30, window: 1 });

/** 160 bits: the key length RFC 4226 recommends (R6 requires at least 128). */
const SECRET_BYTES = 20;
const MIN_SECRET_BYTES = 16;
const MAX_SECRET_BYTES = 64;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** Labels longer than this make QR codes some apps cannot scan; nothing legitimate is longer. */
const MAX_LABEL_LENGTH = 255;

/** RFC 4648 base32, upper case, without padding. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/** RFC 4648 base32; case-insensitive, trailing padding tolerated, anything else refused. */
export function base32Decode(text: string): Buffer {
  const clean = text.toUpperCase().replace(/=+$/, '');
  if (!/^[A-Z2-7]*$/.test(clean)) throw invalid('TOTP_SECRET_INVALID', 'The TOTP secret is not base32');
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of clean) {
    buffer = (buffer << 5) | BASE32.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  return Buffer.from(out);
}

function secretKey(secret: string): Buffer {
  if (typeof secret !== 'string' || secret.length > Math.ceil((MAX_SECRET_BYTES * 8) / 5) + 8) {
    throw invalid('TOTP_SECRET_INVALID', 'The TOTP secret is not base32');
  }
  const key = base32Decode(secret);
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    throw invalid('TOTP_SECRET_INVALID', `A TOTP secret must hold ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes`);
  }
  return key;
}

export function generateTotpSecret(): string {
  return base32Encode(randomBytes(SECRET_BYTES));
}

/** RFC 4226 HOTP (HMAC-SHA1, dynamic truncation). Exposed for the RFC test vectors. */
export function hotp(keyBytes: Uint8Array, counter: number, digits: number): string {
  if (!Number.isSafeInteger(counter) || counter < 0) throw invalid('TOTP_COUNTER_INVALID', 'The HOTP counter must be a non-negative integer');
  if (!Number.isInteger(digits) || digits < 6 || digits > 8) throw invalid('TOTP_DIGITS_INVALID', 'HOTP codes have 6 to 8 digits');
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', keyBytes).update(message).digest();
  const offset = (mac[mac.length - 1] as number) & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

function stepAt(atMs: number, policy: TotpPolicy): number {
  if (!Number.isFinite(atMs) || atMs < 0) throw invalid('TOTP_TIME_INVALID', 'The TOTP time must be a non-negative number of milliseconds');
  return Math.floor(atMs / 1000 / policy.periodSeconds);
}

export function totpCode(secret: string, atMs: number): string {
  return hotp(secretKey(secret), stepAt(atMs, TOTP_POLICY), TOTP_POLICY.digits);
}

/**
 * The step (floor(t/30)) a code matches within ±window, or null. Every candidate is computed and
 * compared in constant time, so timing tells nothing about which step (if any) matched. When a code
 * matches two steps (one chance in a million) the earliest is returned: replay checks then compare
 * against the lower step, the stricter choice. Non-6-digit input is refused before any HMAC.
 */
export function matchTotp(secret: string, code: string, atMs: number, policy: TotpPolicy = TOTP_POLICY): number | null {
  if (typeof code !== 'string' || code.length !== policy.digits || !/^[0-9]+$/.test(code)) return null;
  const key = secretKey(secret);
  const current = stepAt(atMs, policy);
  const given = Buffer.from(code, 'ascii');
  let matched: number | null = null;
  for (let step = current - policy.window; step <= current + policy.window; step++) {
    if (step < 0) continue;
    const candidate = Buffer.from(hotp(key, step, policy.digits), 'ascii');
    if (timingSafeEqual(candidate, given) && matched === null) matched = step;
  }
  return matched;
}

function label(value: string, what: string): string {
  // Google's key-URI format forbids a colon in either part: it separates issuer from account.
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LABEL_LENGTH || value.includes(':') || /\p{Cc}/u.test(value)) {
    throw invalid('TOTP_LABEL_INVALID', `The ${what} cannot be used in a TOTP label`);
  }
  try {
    return encodeURIComponent(value);
  } catch {
    // A lone surrogate cannot be encoded as UTF-8.
    throw invalid('TOTP_LABEL_INVALID', `The ${what} cannot be used in a TOTP label`);
  }
}

/** The key URI authenticator apps scan from a QR code (Google's otpauth:// format). */
export function otpauthUri(secret: string, account: string, issuer: string): string {
  secretKey(secret);
  const i = label(issuer, 'issuer');
  const a = label(account, 'account name');
  const { digits, periodSeconds } = TOTP_POLICY;
  return `otpauth://totp/${i}:${a}?secret=${secret.toUpperCase().replace(/=+$/, '')}&issuer=${i}&algorithm=SHA1&digits=${digits}&period=${periodSeconds}`;
}

/**
 * The replay rule (issue 5): a step already accepted may be accepted again only from the same
 * credential — multi-request commands such as `npm unpublish --otp` send one code several times —
 * and never from another credential. No credential gets a step older than the last accepted one:
 * once a newer code has been used, older ones are stale (RFC 6238 §5.2). An empty credential id
 * identifies nobody, so it is never "the same credential".
 */
export function totpReplayAllowed(last: { step: number; credential: string } | null, step: number, credential: string): boolean {
  if (!Number.isSafeInteger(step) || step < 0) return false;
  if (last === null) return true;
  if (!Number.isSafeInteger(last.step)) return false;
  if (step > last.step) return true;
  const sameCredential = credential.length > 0 && credential === last.credential;
  return step === last.step && sameCredential;
}
