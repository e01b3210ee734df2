import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { assertRefused } from '../support/refusals.ts';
import {
  RECOVERY_CODE_COUNT,
  generateRecoveryCodes,
  hashRecoveryCode,
  matchRecoveryCode,
  normaliseRecoveryCode,
} from '../../src/security/mfa/recovery-codes.ts';

const FORMAT = /^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/;
const CODE = 'ab3d-ef7h-jkmn';
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('generateRecoveryCodes', () => {
  it('gives ten distinct codes of three groups of four unambiguous symbols', () => {
    const codes = generateRecoveryCodes();
    assert.equal(RECOVERY_CODE_COUNT, 10);
    assert.equal(codes.length, RECOVERY_CODE_COUNT);
    assert.equal(new Set(codes).size, RECOVERY_CODE_COUNT);
    for (const code of codes) {
      assert.match(code, FORMAT);
      assert.doesNotMatch(code, /[ilou]/, 'no look-alike symbols are ever issued');
      assert.equal(normaliseRecoveryCode(code), code, 'an issued code is already in canonical form');
    }
  });

  it('differs every time and uses all 32 symbols about evenly (60 random bits per code)', () => {
    const counts = new Map<string, number>();
    const all = new Set<string>();
    for (let i = 0; i < 200; i++) {
      for (const code of generateRecoveryCodes()) {
        all.add(code);
        for (const c of code.replaceAll('-', '')) counts.set(c, (counts.get(c) ?? 0) + 1);
      }
    }
    assert.equal(all.size, 2000);
    assert.equal(counts.size, 32);
    // 24,000 symbols over 32 values: 750 expected each; ±150 is more than 5 standard deviations.
    for (const [symbol, n] of counts) assert.ok(n > 600 && n < 900, `${symbol}: ${n}`);
  });
});

describe('normaliseRecoveryCode', () => {
  it('accepts the canonical form unchanged', () => {
    assert.equal(normaliseRecoveryCode(CODE), CODE);
  });

  it('ignores case, spaces, dashes and surrounding whitespace', () => {
    for (const typed of ['AB3D-EF7H-JKMN', 'ab3def7hjkmn', 'ab3d ef7h jkmn', '  ab3d-ef7h-jkmn\n', 'ab3d--ef7h--jkmn', 'a-b-3-d-e-f-7-h-j-k-m-n', 'Ab3D\tEf7H\tJkMn']) {
      assert.equal(normaliseRecoveryCode(typed), CODE, JSON.stringify(typed));
    }
  });

  it('accepts typographic dashes and non-breaking spaces from copy-paste', () => {
    for (const typed of ['ab3d\u2013ef7h\u2013jkmn', 'ab3d\u2014ef7h\u2010jkmn', 'ab3d\u2212ef7h\u2011jkmn', 'ab3d\u00a0ef7h\u2009jkmn']) {
      assert.equal(normaliseRecoveryCode(typed), CODE, JSON.stringify(typed));
    }
  });

  it('reads the look-alikes i, l as 1 and o as 0 (Crockford)', () => {
    assert.equal(normaliseRecoveryCode('0000-1111-abcd'), '0000-1111-abcd');
    assert.equal(normaliseRecoveryCode('oOoO-iIlL-abcd'), '0000-1111-abcd');
  });

  it('returns null for anything that cannot be a recovery code', () => {
    const bad = [
      '', '-', '    ', 'ab3d-ef7h-jkm', 'ab3d-ef7h-jkmnp', 'ab3d-ef7h', 'ab3d-ef7h-jkmn-ab3d',
      'ab3d-ef7h-jkmu', // u is not in the alphabet
      'ab3d_ef7h_jkmn', 'ab3d.ef7h.jkmn', 'ab3d/ef7h/jkmn', 'ab3d-ef7h-jkm!', 'ab3d-ef7h-jkmñ', 'ａｂ３ｄ-ef7h-jkmn', 'ab3d-ef7h-jkm\u0000',
      '123456', 'correct horse battery staple', `${' '.repeat(60)}ab3def7hjkmn`,
    ];
    for (const input of bad) assert.equal(normaliseRecoveryCode(input), null, JSON.stringify(input));
    for (const input of [null, undefined, 123456789012, ['ab3d-ef7h-jkmn'], { toString: () => CODE }]) {
      assert.equal(normaliseRecoveryCode(input as unknown as string), null, String(input));
    }
  });

  it('refuses input longer than 64 characters before looking at it', () => {
    assert.equal(normaliseRecoveryCode(`${' '.repeat(52)}ab3def7hjkmn`), CODE, 'control: 64 characters are read');
    assert.equal(normaliseRecoveryCode(`${' '.repeat(53)}ab3def7hjkmn`), null);
    assert.equal(normaliseRecoveryCode('-'.repeat(1_000_000)), null);
  });
});

describe('hashRecoveryCode', () => {
  it('is the SHA-256 hex of the canonical form, whatever the input spelling', () => {
    const expected = sha256(CODE);
    for (const typed of [CODE, 'AB3D EF7H JKMN', 'ab3def7hjkmn', ' ab3d\u2013ef7h\u2013jkmn ']) assert.equal(hashRecoveryCode(typed), expected);
    assert.equal(hashRecoveryCode('oooo-iiii-llll'), sha256('0000-1111-1111'));
  });

  it('gives different hashes for different codes', () => {
    const hashes = new Set(generateRecoveryCodes().map(hashRecoveryCode));
    assert.equal(hashes.size, RECOVERY_CODE_COUNT);
    for (const h of hashes) assert.match(h, /^[0-9a-f]{64}$/);
  });

  it('refuses what cannot be a recovery code (RECOVERY_CODE_INVALID)', () => {
    for (const bad of ['', 'ab3d-ef7h-jkm', 'ab3d-ef7h-jkmu', 'x'.repeat(100), '123456']) {
      assertRefused(() => hashRecoveryCode(bad), 'RECOVERY_CODE_INVALID', 'invalid', bad);
    }
  });
});

describe('matchRecoveryCode', () => {
  const codes = generateRecoveryCodes();
  const stored = codes.map(hashRecoveryCode);

  it('finds the index of each stored code, however it is typed', () => {
    codes.forEach((code, index) => {
      assert.equal(matchRecoveryCode(code, stored), index);
      assert.equal(matchRecoveryCode(code.toUpperCase().replaceAll('-', ' '), stored), index);
    });
  });

  it('accepts stored hashes in upper-case hex', () => {
    assert.equal(matchRecoveryCode(codes[3] as string, stored.map((h) => h.toUpperCase())), 3);
  });

  it('a used code, once its hash is removed, no longer matches', () => {
    const remaining = stored.filter((_, i) => i !== 4);
    assert.equal(matchRecoveryCode(codes[4] as string, remaining), null);
    assert.equal(matchRecoveryCode(codes[5] as string, remaining), 4, 'the others still match, at their new index');
  });

  it('refuses a code that is not stored, and malformed input', () => {
    const other = generateRecoveryCodes()[0] as string;
    assert.equal(matchRecoveryCode(other, stored), null);
    for (const input of ['', 'not a code', 'ab3d-ef7h-jkm', (codes[0] as string).slice(0, -1), `${codes[0] as string}x`]) {
      assert.equal(matchRecoveryCode(input, stored), null, input);
    }
  });

  it('matches nothing against no stored hashes', () => {
    assert.equal(matchRecoveryCode(codes[0] as string, []), null);
  });

  it('skips corrupt stored entries without failing, still finding the real one', () => {
    const corrupt = ['', 'zz', stored[0]?.slice(1) as string, `${stored[0] as string}00`, 'g'.repeat(64), null as unknown as string];
    assert.equal(matchRecoveryCode(codes[0] as string, corrupt), null);
    assert.equal(matchRecoveryCode(codes[0] as string, [...corrupt, stored[0] as string]), corrupt.length);
  });

  it('is never fooled by a stored plain code instead of its hash', () => {
    assert.equal(matchRecoveryCode(codes[0] as string, [codes[0] as string]), null);
  });
});
