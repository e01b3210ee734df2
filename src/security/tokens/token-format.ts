// Registry tokens: `atr_` + 36 base62 random characters + 6 base62 characters of CRC32 over the
// rest. The prefix lets secret scanners recognise a leaked token; the checksum lets them (and us)
// reject typos and random strings offline, before any database lookup. Tokens are stored only as
// SHA-256 and never logged.
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const TOKEN_PREFIX = 'atr_';
const BODY_LENGTH = 36;
const CHECKSUM_LENGTH = 6;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const TOKEN_PATTERN = /^atr_[0-9A-Za-z]{42}$/;

function base62(n: number, width: number): string {
  let out = '';
  for (let i = 0; i < width; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

function checksum(body: string): string {
  return base62(crc32(TOKEN_PREFIX + body), CHECKSUM_LENGTH);
}

function randomBody(): string {
  // Rejection sampling keeps the alphabet uniform (256 is not a multiple of 62).
  let out = '';
  while (out.length < BODY_LENGTH) {
    for (const b of randomBytes(BODY_LENGTH * 2)) {
      if (b < 248 && out.length < BODY_LENGTH) out += ALPHABET[b % 62];
    }
  }
  return out;
}

export function generateToken(): string {
  const body = randomBody();
  return `${TOKEN_PREFIX}${body}${checksum(body)}`;
}

/** True when `value` has the token shape and a valid checksum (says nothing about validity on the server). */
export function isWellFormedToken(value: string): boolean {
  if (!TOKEN_PATTERN.test(value)) return false;
  const body = value.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + BODY_LENGTH);
  return value.slice(-CHECKSUM_LENGTH) === checksum(body);
}

export function hashToken(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** What listings show: enough to recognise a token, far too little to use it. */
export function displayPrefix(value: string): string {
  return value.slice(0, TOKEN_PREFIX.length + 6);
}
