// One-time recovery codes: ten codes of 12 symbols from Crockford's base32 alphabet (60 bits each),
// shown once as "xxxx-xxxx-xxxx" and stored only as SHA-256 hashes. 60 random bits make a slow,
// salted hash unnecessary: nobody can enumerate the space, and throttling bounds online guessing.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { invalid } from '../../core/errors.ts';

export const RECOVERY_CODE_COUNT = 10;

/** Crockford's base32: no i, l, o or u, so nothing reads as another symbol (32 symbols = 5 bits). */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const SYMBOLS = 12;
const GROUP = 4;
/** Bounds the work spent on input that cannot be a code (a pasted paragraph, say). */
const MAX_INPUT_LENGTH = 64;
/** Separators people paste or type between groups: spaces, hyphen and its typographic cousins. */
const SEPARATORS = /[\s\-\u2010-\u2015\u2212]/gu;
const STORED_HASH = /^[0-9a-fA-F]{64}$/;
/** Crockford's decoding of look-alikes, so a code read aloud or retyped still matches. */
const LOOK_ALIKES: Record<string, string> = { i: '1', l: '1', o: '0' };

function group(symbols: string): string {
  const parts: string[] = [];
  for (let i = 0; i < symbols.length; i += GROUP) parts.push(symbols.slice(i, i + GROUP));
  return parts.join('-');
}

function generateOne(): string {
  // 256 is a multiple of 32, so masking a random byte to 5 bits is unbiased.
  const bytes = randomBytes(SYMBOLS);
  let symbols = '';
  for (const byte of bytes) symbols += ALPHABET[byte & 31];
  return group(symbols);
}

export function generateRecoveryCodes(): string[] {
  const codes = new Set<string>();
  while (codes.size < RECOVERY_CODE_COUNT) codes.add(generateOne());
  return [...codes];
}

/** The canonical "xxxx-xxxx-xxxx" form of what a user typed, or null when it cannot be a recovery code. */
export function normaliseRecoveryCode(input: string): string | null {
  if (typeof input !== 'string' || input.length > MAX_INPUT_LENGTH) return null;
  const symbols = input
    .toLowerCase()
    .replace(SEPARATORS, '')
    .replace(/[ilo]/g, (c) => LOOK_ALIKES[c] as string);
  if (symbols.length !== SYMBOLS) return null;
  for (const c of symbols) if (!ALPHABET.includes(c)) return null;
  return group(symbols);
}

/** SHA-256 (hex) of the normalised code: what is stored. */
export function hashRecoveryCode(code: string): string {
  const normalised = normaliseRecoveryCode(code);
  if (normalised === null) throw invalid('RECOVERY_CODE_INVALID', 'Not a recovery code');
  return createHash('sha256').update(normalised).digest('hex');
}

/**
 * The index of the stored hash `input` matches, or null. Every stored hash is compared in constant
 * time and none is skipped, so timing reveals neither whether nor which code matched. Input that
 * cannot be a code is refused without hashing.
 */
export function matchRecoveryCode(input: string, storedHashes: readonly string[]): number | null {
  const normalised = normaliseRecoveryCode(input);
  if (normalised === null) return null;
  const given = createHash('sha256').update(normalised).digest();
  let matched: number | null = null;
  for (let i = 0; i < storedHashes.length; i++) {
    const stored = storedHashes[i];
    const wellFormed = typeof stored === 'string' && STORED_HASH.test(stored);
    // A corrupt entry is still compared (against zeros) so it costs the same time as a real one.
    const expected = wellFormed ? Buffer.from(stored, 'hex') : Buffer.alloc(given.length);
    const equal = timingSafeEqual(given, expected);
    if (equal && wellFormed && matched === null) matched = i;
  }
  return matched;
}
