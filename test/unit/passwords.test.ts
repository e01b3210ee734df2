// scrypt hashing costs ~100 ms per full-strength hash or verify: this file runs at most a dozen of
// them. Refusals of malformed hashes are decided before any hashing; the remaining parameter checks
// use genuine keys computed with scryptSync at a tiny cost (N=16), which is cheap and exercises the
// same code path as a stored hash with raised parameters.
import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { MAX_PASSWORD_LENGTH, SCRYPT_PARAMS, dummyPasswordHash, hashPassword, verifyPassword } from '../../src/security/passwords/scrypt.ts';

const PASSWORD = 'correct horse battery staple';
const SALT = Buffer.from('0123456789abcdef');

/** A genuine encoded hash with cheap parameters (the stored format carries its own N, r, p). */
function cheapHash(password: string, opts: { N?: number; r?: number; p?: number; salt?: Buffer; keyLength?: number } = {}): string {
  const { N = 16, r = 8, p = 1, salt = SALT, keyLength = 32 } = opts;
  const key = scryptSync(password.normalize('NFKC'), salt, keyLength, { N, r, p });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Replaces field `i` (0 = prefix … 5 = key) of an encoded hash. */
function withPart(encoded: string, i: number, value: string): string {
  const parts = encoded.split('$');
  parts[i] = value;
  return parts.join('$');
}

async function refuses(password: string, encoded: string): Promise<void> {
  const started = Date.now();
  assert.equal(await verifyPassword(password, encoded), false, encoded);
  assert.ok(Date.now() - started < 2000, `refusing ${encoded} took ${Date.now() - started} ms`);
}

describe('verifyPassword: refusals', () => {
  let stored = '';
  before(async () => {
    stored = await hashPassword(PASSWORD);
  });

  it('refuses the wrong password', async () => {
    assert.equal(await verifyPassword('correct horse battery stapler', stored), false);
  });

  it('refuses a wrong or missing algorithm prefix', async () => {
    const good = cheapHash(PASSWORD);
    assert.equal(await verifyPassword(PASSWORD, good), true, 'control: the cheap hash itself verifies');
    for (const prefix of ['bcrypt', 'SCRYPT', 'scrypt ', '', 'argon2id']) await refuses(PASSWORD, withPart(good, 0, prefix));
  });

  it('refuses too few or too many fields, and non-hashes', async () => {
    const good = cheapHash(PASSWORD);
    const parts = good.split('$');
    for (let n = 0; n < parts.length; n++) await refuses(PASSWORD, parts.slice(0, n).join('$'));
    await refuses(PASSWORD, `${good}$extra`);
    for (const v of ['', '$$$$$', PASSWORD, 'scrypt', '$2b$10$abcdefghijklmnopqrstuv']) await refuses(PASSWORD, v);
  });

  it('refuses N, r or p that are not positive integers', async () => {
    const good = cheapHash(PASSWORD);
    for (const bad of ['0', '-16', '16.5', 'abc', '', '1e400', 'NaN', 'Infinity']) {
      await refuses(PASSWORD, withPart(good, 1, bad));
      await refuses(PASSWORD, withPart(good, 2, bad));
      await refuses(PASSWORD, withPart(good, 3, bad));
    }
  });

  it('refuses N above 2^20 without doing the work', async () => {
    for (const N of [2 ** 21, 2 ** 30, 2 ** 53]) await refuses(PASSWORD, withPart(cheapHash(PASSWORD), 1, String(N)));
  });

  it('refuses N that is not a power of two, without throwing', async () => {
    for (const N of [3, 1000, 32767, 32769]) {
      const encoded = withPart(cheapHash(PASSWORD), 1, String(N));
      await assert.doesNotReject(verifyPassword(PASSWORD, encoded), `N=${N}`);
      assert.equal(await verifyPassword(PASSWORD, encoded).catch(() => 'threw'), false, `N=${N}`);
    }
  });

  it('refuses an empty key, and a key shorter than 16 bytes', async () => {
    await refuses(PASSWORD, withPart(cheapHash(PASSWORD), 5, ''));
    // Genuine (correct) keys for the password, just too short to be trusted.
    for (const keyLength of [1, 8, 15]) await refuses(PASSWORD, cheapHash(PASSWORD, { keyLength }));
    assert.equal(await verifyPassword(PASSWORD, cheapHash(PASSWORD, { keyLength: 16 })), true, 'control: 16 bytes is enough');
  });

  it('refuses an empty salt with a garbage key', async () => {
    await refuses(PASSWORD, withPart(cheapHash(PASSWORD), 4, ''));
  });

  it('refuses an unsalted hash even when its key is genuine', async () => {
    await refuses(PASSWORD, cheapHash(PASSWORD, { salt: Buffer.alloc(0) }));
  });

  it('refuses passwords longer than MAX_PASSWORD_LENGTH, even against their genuine hash', async () => {
    const long = 'a'.repeat(MAX_PASSWORD_LENGTH + 1);
    await refuses(long, cheapHash(long));
    await refuses('a'.repeat(100_000), stored);
    const longest = 'a'.repeat(MAX_PASSWORD_LENGTH);
    assert.equal(await verifyPassword(longest, cheapHash(longest)), true, 'control: exactly MAX_PASSWORD_LENGTH is accepted');
  });

  it('refuses the wrong password against a hash with other parameters', async () => {
    assert.equal(await verifyPassword('not the password', cheapHash(PASSWORD, { N: 64, r: 4, p: 2 })), false);
  });
});

describe('hashPassword / verifyPassword', () => {
  let stored = '';
  before(async () => {
    stored = await hashPassword(PASSWORD);
  });

  it('encodes its parameters, a 16-byte salt and a 32-byte key', () => {
    const { N, r, p, keyLength } = SCRYPT_PARAMS;
    const parts = stored.split('$');
    assert.equal(parts.length, 6);
    assert.deepEqual(parts.slice(0, 4), ['scrypt', String(N), String(r), String(p)]);
    assert.equal(Buffer.from(parts[4] as string, 'base64').length, 16);
    assert.equal(Buffer.from(parts[5] as string, 'base64').length, keyLength);
    assert.ok(!stored.includes(PASSWORD));
  });

  it('round-trips', async () => {
    assert.equal(await verifyPassword(PASSWORD, stored), true);
  });

  it('salts: two hashes of the same password differ and both verify', async () => {
    const again = await hashPassword(PASSWORD);
    assert.notEqual(again, stored);
    assert.notEqual(again.split('$')[4], stored.split('$')[4]);
    assert.equal(await verifyPassword(PASSWORD, again), true);
  });

  it('normalises unicode (NFKC): composed and decomposed é verify the same', async () => {
    const composed = 'caf\u00e9 au lait';
    const decomposed = 'cafe\u0301 au lait';
    assert.notEqual(composed, decomposed);
    const h = await hashPassword(composed);
    assert.equal(await verifyPassword(decomposed, h), true);
    // NFKC also folds compatibility characters (ﬁ → fi), against a cheap hash.
    assert.equal(await verifyPassword('\ufb01ne-password', cheapHash('fine-password')), true);
  });

  it('verifies hashes with other (raised or lowered) parameters', async () => {
    assert.equal(await verifyPassword(PASSWORD, cheapHash(PASSWORD, { N: 64, r: 4, p: 2, keyLength: 64 })), true);
  });

  it('dummyPasswordHash is a stable, well-formed hash that no guess matches', async () => {
    const a = await dummyPasswordHash();
    assert.equal(await dummyPasswordHash(), a);
    assert.match(a, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    assert.equal(await verifyPassword(PASSWORD, a), false);
  });
});
