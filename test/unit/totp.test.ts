import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertRefused } from '../support/refusals.ts';
import {
  TOTP_POLICY,
  base32Decode,
  base32Encode,
  generateTotpSecret,
  hotp,
  matchTotp,
  otpauthUri,
  totpCode,
  totpReplayAllowed,
} from '../../src/security/mfa/totp.ts';

/** The RFC 4226 / RFC 6238 SHA-1 test seed, as bytes and as the base32 secret an app would scan. */
const SEED = Buffer.from('12345678901234567890', 'ascii');
const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const STEP_MS = 30_000;
/** Found by search: with SEED, steps 910737 and 910738 both give 911617. */
const COLLIDING_STEP = 910737;

const at = (step: number, intoStepMs = 0): number => step * STEP_MS + intoStepMs;

describe('hotp and totp against the RFC test vectors', () => {
  it('RFC 4226 Appendix D: HOTP values for counters 0–9', () => {
    const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
    expected.forEach((code, counter) => assert.equal(hotp(SEED, counter, 6), code, `counter ${counter}`));
  });

  const rfc6238: Array<[number, string]> = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ];

  it('RFC 6238 Appendix B: 8-digit SHA-1 values at the listed times', () => {
    for (const [seconds, code] of rfc6238) assert.equal(hotp(SEED, Math.floor(seconds / 30), 8), code, `T=${seconds}`);
  });

  it('totpCode gives the 6-digit truncation of the same values, from the base32 secret', () => {
    assert.equal(base32Encode(SEED), SECRET);
    for (const [seconds, code] of rfc6238) assert.equal(totpCode(SECRET, seconds * 1000), code.slice(2), `T=${seconds}`);
  });

  it('matchTotp accepts the RFC codes, keeping leading zeros', () => {
    for (const [seconds, code] of rfc6238) assert.equal(matchTotp(SECRET, code.slice(2), seconds * 1000), Math.floor(seconds / 30));
    assert.equal(matchTotp(SECRET, '081804', 1111111109 * 1000), 37037036);
  });
});

describe('hotp: refusals', () => {
  it('refuses a counter that is negative, fractional, unsafe or not a number', () => {
    for (const counter of [-1, 1.5, NaN, Infinity, 2 ** 53, -0.5]) assertRefused(() => hotp(SEED, counter, 6), 'TOTP_COUNTER_INVALID', 'invalid', String(counter));
  });

  it('refuses digit counts outside 6–8', () => {
    for (const digits of [0, 5, 9, 10, 6.5, NaN]) assertRefused(() => hotp(SEED, 0, digits), 'TOTP_DIGITS_INVALID', 'invalid', String(digits));
  });
});

describe('base32 (RFC 4648, no padding)', () => {
  it('encodes the RFC 4648 test vectors without padding', () => {
    const vectors: Array<[string, string]> = [['', ''], ['f', 'MY'], ['fo', 'MZXQ'], ['foo', 'MZXW6'], ['foob', 'MZXW6YQ'], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI']];
    for (const [plain, encoded] of vectors) {
      assert.equal(base32Encode(Buffer.from(plain)), encoded);
      assert.equal(base32Decode(encoded).toString(), plain);
    }
  });

  it('decodes lower case and trailing padding', () => {
    assert.equal(base32Decode('mzxw6ytboi').toString(), 'foobar');
    assert.equal(base32Decode('MZXW6YQ=').toString(), 'foob');
    assert.equal(base32Decode('MY======').toString(), 'f');
  });

  it('refuses characters outside the alphabet and padding that is not trailing', () => {
    for (const text of ['0', '1', '8', '9', 'MZ XW', 'MZ-XW', 'MY=A', '=MY', 'MÄ', 'MZXW6\n', '+/']) {
      assertRefused(() => base32Decode(text), 'TOTP_SECRET_INVALID', 'invalid', JSON.stringify(text));
    }
  });
});

describe('generateTotpSecret', () => {
  it('is 32 base32 characters holding 20 random bytes, different each time', () => {
    const secrets = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const secret = generateTotpSecret();
      assert.match(secret, /^[A-Z2-7]{32}$/);
      assert.equal(base32Decode(secret).length, 20);
      secrets.add(secret);
    }
    assert.equal(secrets.size, 200);
  });

  it('produces secrets the whole module accepts', () => {
    const secret = generateTotpSecret();
    const now = Date.now();
    assert.equal(matchTotp(secret, totpCode(secret, now), now), Math.floor(now / STEP_MS));
  });
});

describe('matchTotp: the ±1 step window', () => {
  const step = 56_000_000;

  it('matches the current step, anywhere inside it', () => {
    const code = totpCode(SECRET, at(step));
    for (const into of [0, 1, 15_000, 29_999]) assert.equal(matchTotp(SECRET, code, at(step, into)), step);
  });

  it('matches the previous and the next step, returning that step', () => {
    assert.equal(matchTotp(SECRET, totpCode(SECRET, at(step - 1)), at(step)), step - 1);
    assert.equal(matchTotp(SECRET, totpCode(SECRET, at(step + 1)), at(step)), step + 1);
  });

  it('refuses codes two or more steps away', () => {
    // Deterministic (fixed secret and step): none of these codes coincides with one in the window.
    const inWindow = [step - 1, step, step + 1].map((s) => totpCode(SECRET, at(s)));
    for (const other of [step - 2, step + 2, step - 10, step + 10]) {
      const code = totpCode(SECRET, at(other));
      assert.ok(!inWindow.includes(code), `control: step ${other} has a code of its own`);
      assert.equal(matchTotp(SECRET, code, at(step)), null, `step ${other}`);
    }
    assert.equal(matchTotp(SECRET, totpCode(SECRET, at(step - 2)), at(step, 29_999)), null);
  });

  it('at time 0 there is no step −1 to try', () => {
    assert.equal(matchTotp(SECRET, totpCode(SECRET, 0), 0), 0);
    assert.equal(matchTotp(SECRET, totpCode(SECRET, at(1)), 0), 1);
  });

  it('returns the earliest step when one code matches two steps', () => {
    assert.equal(hotp(SEED, COLLIDING_STEP, 6), hotp(SEED, COLLIDING_STEP + 1, 6), 'control: the two steps share a code');
    const code = hotp(SEED, COLLIDING_STEP, 6);
    assert.equal(matchTotp(SECRET, code, at(COLLIDING_STEP)), COLLIDING_STEP);
    assert.equal(matchTotp(SECRET, code, at(COLLIDING_STEP + 1)), COLLIDING_STEP);
    assert.equal(matchTotp(SECRET, code, at(COLLIDING_STEP + 2)), COLLIDING_STEP + 1);
  });

  it('uses the policy it is given', () => {
    assert.deepEqual(TOTP_POLICY, { digits: 6, periodSeconds: 30, window: 1 });
    assert.ok(Object.isFrozen(TOTP_POLICY));
    assert.equal(matchTotp(SECRET, totpCode(SECRET, at(step)), at(step), TOTP_POLICY), step);
  });
});

describe('matchTotp: refusals', () => {
  const now = at(56_000_000, 12_345);
  const good = totpCode(SECRET, now);

  it('refuses a wrong code', () => {
    const wrong = String((Number(good) + 1) % 1_000_000).padStart(6, '0');
    const inWindow = [-1, 0, 1].map((d) => totpCode(SECRET, now + d * STEP_MS));
    assert.ok(!inWindow.includes(wrong), 'control: the wrong code is not valid at a neighbouring step');
    assert.equal(matchTotp(SECRET, wrong, now), null);
  });

  it("refuses another secret's code", () => {
    const other = generateTotpSecret();
    const code = totpCode(other, now);
    const inWindow = [-1, 0, 1].map((d) => totpCode(SECRET, now + d * STEP_MS));
    if (!inWindow.includes(code)) assert.equal(matchTotp(SECRET, code, now), null);
    assert.equal(matchTotp(other, code, now), Math.floor(now / STEP_MS));
  });

  it('refuses anything but exactly six ASCII digits, before touching the secret', () => {
    const malformed = ['', '12345', '1234567', '12345a', ' 123456', '123456 ', '12 345', '１２３４５６', '+12345', '-12345', '1e5', '0x1234', '123456\n', '١٢٣٤٥٦', `${good}0`, good.slice(1)];
    for (const code of malformed) {
      assert.equal(matchTotp(SECRET, code, now), null, JSON.stringify(code));
      // An undecodable secret would throw if any work were done: it is not even looked at.
      assert.equal(matchTotp('not base32!', code, now), null, JSON.stringify(code));
    }
    for (const code of [Number(good), null, undefined, [good], { toString: () => good }]) {
      assert.equal(matchTotp(SECRET, code as unknown as string, now), null, String(code));
    }
  });

  it('refuses a secret that is not base32, too short or too long', () => {
    for (const secret of ['', 'not base32!', SECRET.slice(0, 25), 'GEZDGNBVGY3TQOJQGEZDGNBVG', 'A'.repeat(104), 'A'.repeat(200), `${SECRET}1`]) {
      assertRefused(() => matchTotp(secret, good, now), 'TOTP_SECRET_INVALID', 'invalid', secret);
      assertRefused(() => totpCode(secret, now), 'TOTP_SECRET_INVALID', 'invalid', secret);
    }
  });

  it('accepts the shortest and longest secret lengths allowed (16 and 64 bytes)', () => {
    for (const bytes of [16, 64]) {
      const secret = base32Encode(Buffer.alloc(bytes, 7));
      assert.equal(matchTotp(secret, totpCode(secret, now), now), Math.floor(now / STEP_MS));
    }
    for (const bytes of [15, 65]) assertRefused(() => totpCode(base32Encode(Buffer.alloc(bytes, 7)), now), 'TOTP_SECRET_INVALID', 'invalid', String(bytes));
  });

  it('refuses a time that is negative or not finite', () => {
    for (const t of [-1, -STEP_MS, NaN, Infinity, -Infinity]) {
      assertRefused(() => matchTotp(SECRET, good, t), 'TOTP_TIME_INVALID', 'invalid', String(t));
      assertRefused(() => totpCode(SECRET, t), 'TOTP_TIME_INVALID', 'invalid', String(t));
    }
  });
});

describe('otpauthUri', () => {
  it('builds the key URI authenticator apps scan, percent-encoded', () => {
    assert.equal(
      otpauthUri(SECRET, 'alice@example.com', 'Attestry Dev'),
      `otpauth://totp/Attestry%20Dev:alice%40example.com?secret=${SECRET}&issuer=Attestry%20Dev&algorithm=SHA1&digits=6&period=30`,
    );
  });

  it('round-trips through a URL parser, including non-ASCII and reserved characters', () => {
    const uri = otpauthUri(SECRET, 'zoë+test/x?y&z=1#', 'Registry & Co');
    const url = new URL(uri);
    assert.equal(url.protocol, 'otpauth:');
    assert.equal(url.host, 'totp');
    assert.equal(decodeURIComponent(url.pathname), '/Registry & Co:zoë+test/x?y&z=1#');
    assert.equal(url.searchParams.get('secret'), SECRET);
    assert.equal(url.searchParams.get('issuer'), 'Registry & Co');
    assert.equal(url.searchParams.get('algorithm'), 'SHA1');
    assert.equal(url.searchParams.get('digits'), '6');
    assert.equal(url.searchParams.get('period'), '30');
    assert.equal(url.hash, '');
    assert.equal([...url.searchParams.keys()].length, 5);
  });

  it('refuses labels containing a colon, control characters, nothing, too much, or unencodable text', () => {
    for (const bad of ['', 'a:b', ':', 'line\nbreak', 'tab\there', 'nul\u0000', 'x'.repeat(256), 'lone \ud800 surrogate']) {
      assertRefused(() => otpauthUri(SECRET, bad, 'Attestry'), 'TOTP_LABEL_INVALID', 'invalid', `account ${JSON.stringify(bad)}`);
      assertRefused(() => otpauthUri(SECRET, 'alice', bad), 'TOTP_LABEL_INVALID', 'invalid', `issuer ${JSON.stringify(bad)}`);
    }
    assert.ok(otpauthUri(SECRET, 'x'.repeat(255), 'Attestry').length > 255, 'control: 255 characters are allowed');
  });

  it('refuses a secret that is not a TOTP secret', () => {
    for (const secret of ['', 'abc', 'not base32!', SECRET.slice(0, 20)]) {
      assertRefused(() => otpauthUri(secret, 'alice', 'Attestry'), 'TOTP_SECRET_INVALID', 'invalid', secret);
    }
  });
});

describe('totpReplayAllowed', () => {
  const last = { step: 1000, credential: 'session:a' };

  it('allows any step when nothing was accepted yet', () => {
    assert.equal(totpReplayAllowed(null, 0, 'session:a'), true);
    assert.equal(totpReplayAllowed(null, 1000, 'token:b'), true);
  });

  it('allows the same step again from the same credential (npm sends one code several times)', () => {
    assert.equal(totpReplayAllowed(last, 1000, 'session:a'), true);
  });

  it('allows a later step from any credential', () => {
    assert.equal(totpReplayAllowed(last, 1001, 'session:a'), true);
    assert.equal(totpReplayAllowed(last, 1001, 'token:b'), true);
    assert.equal(totpReplayAllowed(last, 5000, ''), true);
  });

  it('refuses the same step from another credential', () => {
    for (const other of ['token:b', 'session:A', 'session:a ', 'session', '']) assert.equal(totpReplayAllowed(last, 1000, other), false, other);
  });

  it('refuses an earlier step from any credential, including the same one', () => {
    for (const step of [999, 998, 0]) {
      assert.equal(totpReplayAllowed(last, step, 'session:a'), false, `same, ${step}`);
      assert.equal(totpReplayAllowed(last, step, 'token:b'), false, `other, ${step}`);
    }
  });

  it('never treats an empty credential id as the same credential', () => {
    assert.equal(totpReplayAllowed({ step: 1000, credential: '' }, 1000, ''), false);
  });

  it('refuses steps that are not non-negative integers, and a corrupt last step', () => {
    for (const step of [-1, 1000.5, NaN, Infinity, 2 ** 53]) assert.equal(totpReplayAllowed(last, step, 'session:a'), false, String(step));
    for (const step of [-1, NaN, 1.5]) assert.equal(totpReplayAllowed(null, step, 'session:a'), false, `null last, ${step}`);
    assert.equal(totpReplayAllowed({ step: NaN, credential: 'session:a' }, 1000, 'session:a'), false);
  });

  it('together with matchTotp: a code seen by an attacker is useless to another credential', () => {
    const now = at(56_000_000, 5_000);
    const code = totpCode(SECRET, now);
    const step = matchTotp(SECRET, code, now);
    assert.equal(step, 56_000_000);
    assert.equal(totpReplayAllowed(null, step, 'session:user'), true);
    const accepted = { step, credential: 'session:user' };
    const later = now + 20_000;
    const replayStep = matchTotp(SECRET, code, later);
    assert.equal(replayStep, step, 'the code still matches inside the window');
    assert.equal(totpReplayAllowed(accepted, replayStep as number, 'session:attacker'), false);
    assert.equal(totpReplayAllowed(accepted, replayStep as number, 'session:user'), true);
  });
});
