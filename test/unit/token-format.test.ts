import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { TOKEN_PATTERN, TOKEN_PREFIX, displayPrefix, generateToken, hashToken, isWellFormedToken } from '../../src/security/tokens/token-format.ts';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LENGTH = 36;
const TOKEN_LENGTH = TOKEN_PREFIX.length + BODY_LENGTH + 6;

const replaceAt = (s: string, i: number, c: string): string => s.slice(0, i) + c + s.slice(i + 1);
const flipCase = (c: string): string => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());

/** A generated token that contains letters of both cases in its body and checksum, so case flips are meaningful everywhere. */
function mixedCaseToken(): string {
  for (;;) {
    const t = generateToken();
    const body = t.slice(TOKEN_PREFIX.length);
    if (/[a-z]/.test(body) && /[A-Z]/.test(body) && /[A-Za-z]/.test(t.slice(-6))) return t;
  }
}

describe('isWellFormedToken: refusals', () => {
  const token = mixedCaseToken();

  it('refuses the empty string, the bare prefix and random strings', () => {
    for (const v of ['', TOKEN_PREFIX, 'atr', 'not-a-token', 'a'.repeat(TOKEN_LENGTH), `${TOKEN_PREFIX}${'A'.repeat(42)}`]) {
      assert.equal(isWellFormedToken(v), false, v);
    }
  });

  it('refuses every single-character substitution at every position', () => {
    const others = `${ALPHABET}_-+/=. é\u0000`;
    let tried = 0;
    for (let i = 0; i < token.length; i++) {
      for (const c of others) {
        if (c === token[i]) continue;
        const mutated = replaceAt(token, i, c);
        tried++;
        assert.equal(isWellFormedToken(mutated), false, `position ${i} → ${JSON.stringify(c)}: ${mutated}`);
      }
    }
    assert.ok(tried > TOKEN_LENGTH * ALPHABET.length);
  });

  it('refuses every truncation', () => {
    for (let n = 0; n < token.length; n++) assert.equal(isWellFormedToken(token.slice(0, n)), false, `first ${n} characters`);
    for (let n = 1; n < token.length; n++) assert.equal(isWellFormedToken(token.slice(n)), false, `without the first ${n} characters`);
  });

  it('refuses every extension (appended, prepended, surrounding whitespace)', () => {
    for (const c of ALPHABET) {
      assert.equal(isWellFormedToken(token + c), false, `appended ${c}`);
      assert.equal(isWellFormedToken(c + token), false, `prepended ${c}`);
    }
    for (const v of [` ${token}`, `${token} `, `${token}\n`, `\n${token}`, `${token}\r\n`, `Bearer ${token}`, token + token]) {
      assert.equal(isWellFormedToken(v), false, JSON.stringify(v));
    }
  });

  it('refuses a wrong prefix even with the original body and checksum', () => {
    const rest = token.slice(TOKEN_PREFIX.length);
    for (const prefix of ['ATR_', 'Atr_', 'atR_', 'atr-', 'atr', 'atx_', 'npm_', 'ghp_', 'atr__', '']) {
      assert.equal(isWellFormedToken(prefix + rest), false, prefix);
    }
  });

  it('refuses a case flip of any single letter, and of the whole token', () => {
    let flips = 0;
    for (let i = 0; i < token.length; i++) {
      const c = token[i] as string;
      if (flipCase(c) === c) continue;
      flips++;
      assert.equal(isWellFormedToken(replaceAt(token, i, flipCase(c))), false, `flip at ${i}`);
    }
    assert.ok(flips > 10);
    assert.equal(isWellFormedToken(token.toUpperCase()), false);
    assert.equal(isWellFormedToken(token.toLowerCase()), false);
    assert.equal(isWellFormedToken(TOKEN_PREFIX + token.slice(TOKEN_PREFIX.length).toUpperCase()), false);
    assert.equal(isWellFormedToken(TOKEN_PREFIX + token.slice(TOKEN_PREFIX.length).toLowerCase()), false);
  });

  it('refuses any change to the checksum, including another token\'s valid checksum', () => {
    const body = token.slice(0, -6);
    for (let i = token.length - 6; i < token.length; i++) {
      for (const c of ALPHABET) if (c !== token[i]) assert.equal(isWellFormedToken(replaceAt(token, i, c)), false);
    }
    for (let k = 0; k < 50; k++) {
      const other = generateToken();
      if (other.slice(-6) === token.slice(-6)) continue;
      assert.equal(isWellFormedToken(body + other.slice(-6)), false);
    }
  });

  it('refuses adjacent transpositions of different characters', () => {
    for (let i = TOKEN_PREFIX.length; i < token.length - 1; i++) {
      if (token[i] === token[i + 1]) continue;
      const swapped = token.slice(0, i) + token[i + 1] + token[i] + token.slice(i + 2);
      assert.equal(isWellFormedToken(swapped), false, `swap at ${i}`);
    }
  });
});

describe('generateToken', () => {
  it('produces tokens that match TOKEN_PATTERN and validate', () => {
    for (let i = 0; i < 100; i++) {
      const t = generateToken();
      assert.equal(t.length, TOKEN_LENGTH);
      assert.ok(t.startsWith(TOKEN_PREFIX));
      assert.match(t, TOKEN_PATTERN);
      assert.equal(isWellFormedToken(t), true, t);
    }
  });

  it('produces 1,000 unique tokens whose bodies use the whole alphabet roughly uniformly', () => {
    const tokens = Array.from({ length: 1000 }, generateToken);
    assert.equal(new Set(tokens).size, tokens.length);
    assert.equal(new Set(tokens.map((t) => t.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + BODY_LENGTH))).size, tokens.length);

    const counts = new Map<string, number>();
    for (const t of tokens) {
      for (const c of t.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + BODY_LENGTH)) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), [...ALPHABET].sort(), 'every alphabet character appears, and nothing else');
    // 36,000 characters over 62 symbols: ~581 each, standard deviation ~24. ±35% is far outside chance.
    const expected = (tokens.length * BODY_LENGTH) / ALPHABET.length;
    for (const [c, n] of counts) {
      assert.ok(n > expected * 0.65 && n < expected * 1.35, `character ${c} appears ${n} times, expected about ${Math.round(expected)}`);
    }
  });
});

describe('hashToken', () => {
  it('is the SHA-256 hex digest of the token', () => {
    const t = generateToken();
    assert.match(hashToken(t), /^[0-9a-f]{64}$/);
    assert.equal(hashToken(t), createHash('sha256').update(t).digest('hex'));
    assert.equal(hashToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('is deterministic and differs per token', () => {
    const tokens = Array.from({ length: 200 }, generateToken);
    const hashes = tokens.map(hashToken);
    assert.equal(new Set(hashes).size, tokens.length);
    assert.deepEqual(tokens.map(hashToken), hashes);
    for (const [i, t] of tokens.entries()) assert.ok(!hashes[i]?.includes(t.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + 8)));
  });
});

describe('displayPrefix', () => {
  it('is short and is not itself a well-formed token', () => {
    for (let i = 0; i < 100; i++) {
      const t = generateToken();
      const shown = displayPrefix(t);
      assert.ok(t.startsWith(shown));
      assert.ok(shown.startsWith(TOKEN_PREFIX));
      assert.ok(shown.length <= TOKEN_PREFIX.length + 6, shown);
      assert.ok(shown.length < t.length / 4, 'far too little of the token to use it');
      assert.equal(isWellFormedToken(shown), false);
      assert.doesNotMatch(shown, TOKEN_PATTERN);
    }
  });

  it('shows the prefix and the first six body characters, none of the checksum', () => {
    const t = generateToken();
    assert.equal(displayPrefix(t), t.slice(0, TOKEN_PREFIX.length + 6));
  });
});
