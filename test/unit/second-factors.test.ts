// SecondFactors against a real (in-memory SQLite) store, with the clock in the test's hands: TOTP
// enrolment and its time limit, the replay rule, throttling of guesses, disabling, recovery codes
// and npm's web OTP from challenge to expiry. Mail goes to a capturing Mailer (the port), so each
// test can say which notices were sent; the real mailers are covered by mail.test.ts.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { SecondFactors, TOTP_PENDING_TTL_MS, WEB_OTP_PENDING_TTL_MS, WEB_OTP_TTL_MS } from '../../src/core/accounts/second-factors.ts';
import { Notifier } from '../../src/core/accounts/notifier.ts';
import { Throttling } from '../../src/core/accounts/throttling.ts';
import { isAttestryError, type ErrorKind } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { MailMessage, Mailer } from '../../src/mail/mailer.ts';
import { totpCode } from '../../src/security/mfa/totp.ts';
import { migrate } from '../../src/storage/metadata/sql/migrations.ts';
import { SqlMetadataStore } from '../../src/storage/metadata/sql/sql-store.ts';
import { SqliteDatabase } from '../../src/storage/metadata/sqlite/sqlite-database.ts';
import type { UserRecord } from '../../src/storage/metadata/store.ts';

const SECOND = 1000;
const STEP = 30 * SECOND;
const MINUTE = 60 * SECOND;
const PUBLIC_URL = 'https://registry.test:8443';
const IP = '192.0.2.10';
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, debugEnabled: false };

/** The mail port, recording what would have been sent. */
class CapturingMailer implements Mailer {
  readonly sent: MailMessage[] = [];
  async send(message: MailMessage): Promise<{ messageId: string }> {
    this.sent.push(message);
    return { messageId: `<${this.sent.length}@test>` };
  }
}

let now: number;
let db: SqliteDatabase;
let store: SqlMetadataStore;
let mailer: CapturingMailer;
let throttling: Throttling;
let sf: SecondFactors;

async function refused(p: Promise<unknown>, code: string, kind: ErrorKind): Promise<Error & { detail?: Record<string, unknown> }> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isAttestryError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.kind, kind);
    caught = e;
    return true;
  });
  return caught as Error & { detail?: Record<string, unknown> };
}

let seq = 0;
async function user(name = `user${++seq}`): Promise<UserRecord> {
  return store.insertUser({ name, email: `${name}@example.com`, passwordHash: 'x', isAdmin: false, createdAt: now, updatedAt: now, emailVerifiedAt: now });
}
const fresh = async (u: UserRecord): Promise<UserRecord> => (await store.findUserById(u.id)) ?? assert.fail('user vanished');
const code = (secret: string, steps = 0): string => totpCode(secret, now + steps * STEP);
const mails = (to: string, template: string): MailMessage[] => mailer.sent.filter((m) => m.to === to && m.template === template);
const eventTypes = async (u: UserRecord): Promise<string[]> => (await store.listUserEvents(u.id, 100)).map((e) => e.type).reverse();

/** A code no step within reach accepts. */
function wrong(secret: string): string {
  const valid = new Set([-2, -1, 0, 1, 2].map((d) => code(secret, d)));
  let n = 0;
  while (valid.has(String(n).padStart(6, '0'))) n++;
  return String(n).padStart(6, '0');
}

/** A user with an authenticator app confirmed at `now` (so the current step is spent by 'enrolment'). */
async function enrolled(mode: 'auth-only' | 'auth-and-writes' = 'auth-and-writes'): Promise<{ u: UserRecord; secret: string; codes: string[] }> {
  const u = await user();
  const { secret } = await sf.startTotp(u, mode);
  const codes = await sf.confirmTotp(await fresh(u), code(secret), IP);
  return { u: await fresh(u), secret, codes };
}

beforeEach(async () => {
  // On a step boundary, so "the current step" is the same for the whole of a test that does not move the clock.
  now = Date.UTC(2026, 5, 1, 12);
  db = new SqliteDatabase(':memory:');
  await migrate(db);
  store = new SqlMetadataStore(db);
  mailer = new CapturingMailer();
  const clock = () => now;
  throttling = new Throttling(store, clock, silent);
  sf = new SecondFactors({
    store, throttling, notifier: new Notifier(mailer, silent, PUBLIC_URL), clock, log: silent, webauthn: null, issuer: 'Attestry (registry.test:8443)', publicUrl: PUBLIC_URL,
  });
});

describe('SecondFactors: TOTP enrolment', () => {
  it('starting gives a secret and an otpauth URI, and enables nothing until a code confirms it', async () => {
    const u = await user('alice');
    const { secret, uri } = await sf.startTotp(u, 'auth-only');
    assert.match(secret, /^[A-Z2-7]{32}$/);
    const parsed = new URL(uri);
    assert.equal(parsed.protocol, 'otpauth:');
    assert.equal(parsed.searchParams.get('secret'), secret);
    // A host with a port must not break the URI: ':' separates issuer from account in its label.
    assert.equal(parsed.searchParams.get('issuer'), 'Attestry (registry.test 8443)');
    assert.equal(parsed.host, 'totp');
    assert.equal(decodeURIComponent(parsed.pathname), '/Attestry (registry.test 8443):alice');
    const after = await fresh(u);
    assert.equal(after.totpPendingSecret, secret);
    assert.equal(after.totpPendingMode, 'auth-only');
    assert.equal(after.totpSecret, null);
    assert.equal(after.tfaMode, null);
    assert.deepEqual(sf.mfaState(after), { emailVerified: true, enrolled: false, mode: null, presented: 'none' });
    assert.deepEqual(mailer.sent, []);
    assert.deepEqual(await eventTypes(u), []);
  });

  it('the current code enables it in the mode asked for, with ten recovery codes; recorded and mailed, secrets never mailed', async () => {
    const u = await user();
    const { secret } = await sf.startTotp(u, 'auth-only');
    const codes = await sf.confirmTotp(await fresh(u), code(secret), IP);
    assert.equal(codes.length, 10);
    const after = await fresh(u);
    assert.equal(after.totpSecret, secret);
    assert.equal(after.totpPendingSecret, null);
    assert.equal(after.totpPendingAt, null);
    assert.equal(after.tfaMode, 'auth-only');
    assert.equal(sf.mfaState(after).enrolled, true);
    assert.equal(await sf.remainingRecoveryCodes(u.id), 10);
    assert.deepEqual(await eventTypes(u), ['mfa.totp-enabled', 'mfa.recovery-codes-generated']);
    // The codes come with the enrolment: no separate "regenerated" notice.
    assert.deepEqual(mailer.sent.map((m) => m.template), ['factor-added']);
    const [notice] = mailer.sent;
    assert.equal(notice?.to, u.email);
    for (const secretText of [secret, ...codes]) assert.ok(!`${notice?.text}${notice?.html ?? ''}`.includes(secretText));
  });

  it('a code one step either side is accepted (clock drift); two steps off is not', async () => {
    for (const steps of [-1, 1]) {
      const u = await user();
      const { secret } = await sf.startTotp(u);
      assert.equal((await sf.confirmTotp(await fresh(u), code(secret, steps), IP)).length, 10, `offset ${steps}`);
    }
    for (const steps of [-2, 2]) {
      const u = await user();
      const { secret } = await sf.startTotp(u);
      await refused(sf.confirmTotp(await fresh(u), code(secret, steps), IP), 'OTP_INVALID', 'invalid');
      assert.equal((await fresh(u)).totpSecret, null, `offset ${steps}`);
    }
  });

  it('wrong and malformed codes are refused, counted, and the enrolment stays pending; a fourth failure earns a delay', async () => {
    const u = await user();
    const { secret } = await sf.startTotp(u);
    for (const bad of [wrong(secret), 'abcdef', 123456, undefined]) {
      await refused(sf.confirmTotp(await fresh(u), bad, IP), 'OTP_INVALID', 'invalid');
    }
    const pending = await fresh(u);
    assert.equal(pending.totpPendingSecret, secret);
    assert.equal(pending.totpSecret, null);
    const slowed = await refused(sf.confirmTotp(pending, code(secret), IP), 'TOO_MANY_ATTEMPTS', 'rate_limited');
    assert.equal(slowed.detail?.retryAfterSeconds, 2);
    now += 2 * SECOND;
    assert.equal((await sf.confirmTotp(pending, code(secret), IP)).length, 10);
    assert.equal(await throttling.lockedUntil('totp', u.id), null);
  });

  it('an enrolment not confirmed within 15 minutes must be started again', async () => {
    const late = await user();
    const onTime = await user();
    const a = await sf.startTotp(late);
    const b = await sf.startTotp(onTime);
    now += TOTP_PENDING_TTL_MS;
    assert.equal((await sf.confirmTotp(await fresh(onTime), code(b.secret), IP)).length, 10, 'at exactly 15 minutes');
    now += 1;
    await refused(sf.confirmTotp(await fresh(late), code(a.secret), IP), 'TOTP_NOT_STARTED', 'conflict');
    assert.equal((await fresh(late)).totpSecret, null);
  });

  it('confirming without starting is refused; starting again replaces the pending secret', async () => {
    const u = await user();
    await refused(sf.confirmTotp(u, '123456', IP), 'TOTP_NOT_STARTED', 'conflict');
    const first = await sf.startTotp(u);
    const second = await sf.startTotp(await fresh(u));
    assert.notEqual(first.secret, second.secret);
    if (code(first.secret) !== code(second.secret)) {
      await refused(sf.confirmTotp(await fresh(u), code(first.secret), IP), 'OTP_INVALID', 'invalid');
    }
    assert.equal((await sf.confirmTotp(await fresh(u), code(second.secret), IP)).length, 10);
  });

  it('starting when an app is already set up is refused (TOTP_ALREADY_ENABLED)', async () => {
    const { u, secret } = await enrolled();
    await refused(sf.startTotp(u), 'TOTP_ALREADY_ENABLED', 'conflict');
    assert.equal((await fresh(u)).totpSecret, secret);
  });

  it('cancelling an unconfirmed enrolment (npm does it before retrying) changes no factor: no event, no mail', async () => {
    const u = await user();
    const { secret } = await sf.startTotp(u, 'auth-only');
    await sf.cancelPendingTotp(await fresh(u));
    const after = await fresh(u);
    assert.equal(after.totpPendingSecret, null);
    assert.equal(after.totpPendingMode, null);
    assert.equal(after.tfaMode, null);
    await refused(sf.confirmTotp(after, code(secret), IP), 'TOTP_NOT_STARTED', 'conflict');
    assert.deepEqual(mailer.sent, []);
    assert.deepEqual(await eventTypes(u), []);
  });
});

describe('SecondFactors: codes and the replay rule', () => {
  it('the code that confirmed the enrolment is spent: no credential may use it again', async () => {
    const { u, secret } = await enrolled();
    await refused(sf.verifyTotp(u, code(secret), 'token:a', IP), 'OTP_REUSED', 'unauthenticated');
  });

  it('a code is accepted again from the same credential within its step, never from another', async () => {
    const { u, secret } = await enrolled();
    now += STEP;
    const c = code(secret);
    await sf.verifyTotp(await fresh(u), c, 'token:a', IP);
    // npm unpublish --otp sends the one code with several requests.
    await sf.verifyTotp(await fresh(u), c, 'token:a', IP);
    // (Three refusals: a fourth failure in a row would start the throttle's delay.)
    for (const other of ['token:b', 'password', '']) {
      await refused(sf.verifyTotp(await fresh(u), c, other, IP), 'OTP_REUSED', 'unauthenticated');
    }
    // The next step is anyone's; after it, the older code is stale even for its own credential.
    await sf.verifyTotp(await fresh(u), code(secret, 1), 'token:b', IP);
    await refused(sf.verifyTotp(await fresh(u), c, 'token:a', IP), 'OTP_REUSED', 'unauthenticated');
    const after = await fresh(u);
    assert.equal(after.totpLastStep, now / STEP + 1);
    assert.equal(after.totpLastCredential, 'token:b');
  });

  it('two requests racing with one code from different credentials: exactly one passes (the claim is atomic)', async () => {
    const { u, secret } = await enrolled();
    now += STEP;
    const c = code(secret);
    // Both requests read the account before either wrote: the row read alone would let both through.
    const stale = await fresh(u);
    const results = await Promise.allSettled([sf.verifyTotp(stale, c, 'token:victim', IP), sf.verifyTotp(stale, c, 'token:phisher', IP)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const lost = results.find((r) => r.status === 'rejected');
    assert.ok(lost && isAttestryError(lost.reason) && lost.reason.code === 'OTP_REUSED', String(lost && (lost as PromiseRejectedResult).reason));
    // The same credential may repeat its code (npm sends it with several requests), even from a stale read.
    const winner = (await fresh(u)).totpLastCredential ?? '';
    await sf.verifyTotp(stale, c, winner, IP);
  });

  it('wrong codes, and codes two steps away, are OTP_INVALID', async () => {
    const { u, secret } = await enrolled();
    now += 5 * STEP;
    for (const c of [wrong(secret), code(secret, -2), code(secret, 2)]) {
      if ([code(secret, -1), code(secret), code(secret, 1)].includes(c)) continue;
      await refused(sf.verifyTotp(await fresh(u), c, 'token:a', IP), 'OTP_INVALID', 'unauthenticated');
    }
  });

  it('what npm-otp may carry: six digits are a TOTP code; other text that is no approval token is refused', async () => {
    const { u, secret } = await enrolled();
    now += STEP;
    assert.equal(await sf.verifyPresented(await fresh(u), code(secret), 'token:a', IP), 'totp');
    for (const bad of ['12345', '1234567', 'abcdef', 'otp_never-issued', `otp_${'x'.repeat(200)}`, '']) {
      await refused(sf.verifyPresented(await fresh(u), bad, 'token:a', IP), 'OTP_INVALID', 'unauthenticated');
    }
  });

  it('an account without an authenticator app has no code to verify', async () => {
    const u = await user();
    await refused(sf.verifyTotp(u, '123456', 'token:a', IP), 'OTP_INVALID', 'unauthenticated');
    await refused(sf.verifyPresented(u, '123456', 'token:a', IP), 'OTP_INVALID', 'unauthenticated');
  });

  it('guessing: three free failures, then a delay, then a 30-minute lock that refuses even the right code; mailed once', async () => {
    const { u, secret } = await enrolled();
    now += STEP;
    const guess = () => sf.verifyTotp(u, wrong(secret), 'token:a', IP);
    for (let i = 1; i <= 4; i++) await refused(guess(), 'OTP_INVALID', 'unauthenticated');
    const slowed = await refused(guess(), 'TOO_MANY_ATTEMPTS', 'rate_limited');
    assert.equal(slowed.detail?.retryAfterSeconds, 2);
    await refused(sf.verifyTotp(u, code(secret), 'token:a', IP), 'TOO_MANY_ATTEMPTS', 'rate_limited');
    now += 2 * SECOND;
    await refused(guess(), 'OTP_INVALID', 'unauthenticated');
    const locked = await refused(sf.verifyTotp(u, code(secret), 'token:a', IP), 'ACCOUNT_LOCKED', 'rate_limited');
    assert.equal(locked.detail?.retryAfterSeconds, 30 * 60);
    await refused(guess(), 'ACCOUNT_LOCKED', 'rate_limited');
    const notices = mails(u.email, 'account-locked');
    assert.equal(notices.length, 1);
    assert.ok(notices[0]?.text.includes(new Date(now + 30 * MINUTE).toISOString()), 'the notice names the real end of the lock');

    now += 30 * MINUTE;
    await sf.verifyTotp(u, code(secret), 'token:a', IP);
    assert.equal(await throttling.lockedUntil('totp', u.id), null);
  });

  it('an administrator unlock ends a lock at once', async () => {
    const { u, secret } = await enrolled();
    now += STEP;
    for (let i = 1; i <= 4; i++) await refused(sf.verifyTotp(u, wrong(secret), 'token:a', IP), 'OTP_INVALID', 'unauthenticated');
    now += 2 * SECOND;
    await refused(sf.verifyTotp(u, wrong(secret), 'token:a', IP), 'OTP_INVALID', 'unauthenticated');
    assert.equal(await throttling.lockedUntil('totp', u.id), now + 30 * MINUTE);
    await throttling.unlock(u.id);
    await sf.verifyTotp(u, code(secret), 'token:a', IP);
  });
});

describe('SecondFactors: disabling and modes', () => {
  it('disabling removes the app, the mode and the recovery codes; recorded and mailed; enrolling again shows new codes', async () => {
    const { u, secret, codes } = await enrolled();
    await sf.disableTotp(u);
    const after = await fresh(u);
    assert.equal(after.totpSecret, null);
    assert.equal(after.tfaMode, null);
    assert.equal(after.totpLastStep, null);
    assert.equal(await sf.remainingRecoveryCodes(u.id), 0);
    assert.ok((await eventTypes(u)).includes('mfa.totp-disabled'));
    assert.equal(mails(u.email, 'factor-removed').length, 1);
    now += STEP;
    await refused(sf.verifyTotp(after, code(secret), 'token:a', IP), 'OTP_INVALID', 'unauthenticated');
    await refused(sf.useRecoveryCode(after, codes[0] as string, IP), 'RECOVERY_CODE_INVALID', 'unauthenticated');

    const again = await sf.startTotp(after);
    const newCodes = await sf.confirmTotp(await fresh(u), code(again.secret), IP);
    assert.equal(newCodes.length, 10);
    assert.ok(newCodes.every((c) => !codes.includes(c)));
  });

  it('setMode switches between npm modes once a factor is enabled, and only then', async () => {
    const u = await user();
    await refused(sf.setMode(u, 'auth-only'), 'MFA_NOT_ENABLED', 'conflict');
    const { u: withApp } = await enrolled('auth-and-writes');
    await sf.setMode(withApp, 'auth-only');
    assert.equal((await fresh(withApp)).tfaMode, 'auth-only');
    assert.ok((await eventTypes(withApp)).includes('mfa.mode-changed'));
  });

  it('passkeys need a registry reached by a host name: without one they are refused, not half-configured', async () => {
    const u = await user();
    assert.equal(sf.passkeysAvailable, false);
    await refused(sf.passkeyRegistrationOptions(u), 'PASSKEYS_UNAVAILABLE', 'conflict');
    await refused(sf.passkeyAuthenticationOptions(null), 'PASSKEYS_UNAVAILABLE', 'conflict');
  });
});

describe('SecondFactors: recovery codes', () => {
  it('each code works once; its use is recorded and mailed with the number left', async () => {
    const { u, codes } = await enrolled();
    await sf.useRecoveryCode(u, codes[0] as string, IP);
    assert.equal(await sf.remainingRecoveryCodes(u.id), 9);
    const events = await store.listUserEvents(u.id, 10);
    assert.deepEqual(events.find((e) => e.type === 'mfa.recovery-code-used')?.data, { remaining: 9 });
    const [notice] = mails(u.email, 'recovery-code-used');
    assert.match(notice?.text ?? '', /\b9\b/);
    assert.ok(!notice?.text.includes(codes[0] as string));
    await refused(sf.useRecoveryCode(u, codes[0] as string, IP), 'RECOVERY_CODE_INVALID', 'unauthenticated');
    assert.equal(await sf.remainingRecoveryCodes(u.id), 9);
  });

  it('a code is accepted as people type it: upper case, spaces instead of hyphens', async () => {
    const { u, codes } = await enrolled();
    await sf.useRecoveryCode(u, ` ${(codes[1] as string).toUpperCase().replace(/-/g, ' ')} `, IP);
    assert.equal(await sf.remainingRecoveryCodes(u.id), 9);
  });

  it("another account's code, and input that cannot be a code, are refused", async () => {
    const alice = await enrolled();
    const bob = await enrolled();
    await refused(sf.useRecoveryCode(bob.u, alice.codes[0] as string, IP), 'RECOVERY_CODE_INVALID', 'unauthenticated');
    assert.equal(await sf.remainingRecoveryCodes(alice.u.id), 10);
    assert.equal(await sf.remainingRecoveryCodes(bob.u.id), 10);
    await refused(sf.useRecoveryCode(bob.u, 'x'.repeat(10_000), IP), 'RECOVERY_CODE_INVALID', 'unauthenticated');
  });

  it('only hashes are stored', async () => {
    const { codes } = await enrolled();
    const rows = await db.all<{ code_hash: string }>('SELECT code_hash FROM recovery_codes');
    assert.equal(rows.length, 10);
    for (const row of rows) {
      assert.match(row.code_hash, /^[0-9a-f]{64}$/);
      assert.ok(!codes.includes(row.code_hash));
    }
  });

  it('regenerating invalidates every earlier code and is mailed', async () => {
    const { u, codes } = await enrolled();
    const next = await sf.regenerateRecoveryCodes(u);
    assert.equal(next.length, 10);
    await refused(sf.useRecoveryCode(u, codes[2] as string, IP), 'RECOVERY_CODE_INVALID', 'unauthenticated');
    await sf.useRecoveryCode(u, next[0] as string, IP);
    assert.equal(mails(u.email, 'recovery-codes-regenerated').length, 1);
  });

  it('guessing recovery codes is slowed, then locked for an hour, and the lock is mailed', async () => {
    const { u, codes } = await enrolled();
    const guess = () => sf.useRecoveryCode(u, '0000-0000-0000', IP);
    for (let i = 1; i <= 3; i++) await refused(guess(), 'RECOVERY_CODE_INVALID', 'unauthenticated');
    assert.equal((await refused(guess(), 'TOO_MANY_ATTEMPTS', 'rate_limited')).detail?.retryAfterSeconds, 2);
    now += 2 * SECOND;
    await refused(guess(), 'RECOVERY_CODE_INVALID', 'unauthenticated');
    now += 4 * SECOND;
    await refused(guess(), 'RECOVERY_CODE_INVALID', 'unauthenticated');
    const locked = await refused(sf.useRecoveryCode(u, codes[0] as string, IP), 'ACCOUNT_LOCKED', 'rate_limited');
    assert.equal(locked.detail?.retryAfterSeconds, 3600);
    assert.equal(mails(u.email, 'account-locked').length, 1);
    assert.equal(await sf.remainingRecoveryCodes(u.id), 10, 'the lock spent no code');
  });
});

describe("SecondFactors: npm's web OTP", () => {
  const DONE = new RegExp(`^${PUBLIC_URL.replace(/[.]/g, '\\.')}/-/v1/otp/done/([A-Za-z0-9_-]{43,})$`);
  const AUTH = new RegExp(`^${PUBLIC_URL.replace(/[.]/g, '\\.')}/-/web/otp/([A-Za-z0-9_-]+)$`);
  const parts = (flow: { authUrl: string; doneUrl: string }) => ({ id: AUTH.exec(flow.authUrl)?.[1] ?? assert.fail(flow.authUrl), done: DONE.exec(flow.doneUrl)?.[1] ?? assert.fail(flow.doneUrl) });

  it('a challenge has an unguessable doneUrl and an authUrl npm prints unredacted (no UUID); it stays pending until approved', async () => {
    const u = await user();
    const flow = await sf.startWebOtp(u.id);
    const { id, done } = parts(flow);
    assert.doesNotMatch(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
    assert.notDeepEqual(parts(await sf.startWebOtp(u.id)), { id, done });
    for (let i = 0; i < 3; i++) assert.deepEqual(await sf.pollWebOtp(done), { status: 'pending' });
    assert.deepEqual(await sf.webOtpChallenge(id), { userId: u.id, approved: false });
    // Only a hash of the poll secret is stored.
    const rows = await db.all<{ done_hash: string }>('SELECT done_hash FROM otp_challenges');
    assert.ok(rows.every((r) => r.done_hash !== done));
  });

  it('approved by its own user, the next poll hands out a token exactly once; it is a second factor for that user only', async () => {
    const u = await user();
    const other = await user();
    const { id, done } = parts(await sf.startWebOtp(u.id));
    await sf.approveWebOtp(id, u, 'totp');
    assert.deepEqual(await sf.webOtpChallenge(id), { userId: u.id, approved: true });
    assert.ok((await eventTypes(u)).includes('mfa.cli-approved'));
    const polled = await sf.pollWebOtp(done);
    assert.equal(polled.status, 'done');
    const token = polled.status === 'done' ? polled.token : '';
    assert.match(token, /^otp_[A-Za-z0-9_-]{32}$/);
    await refused(sf.pollWebOtp(done), 'OTP_CHALLENGE_EXPIRED', 'not_found');
    // npm repeats its request with the token; a multi-request command may send it more than once.
    assert.equal(await sf.verifyPresented(u, token, 'token:a', IP), 'totp');
    assert.equal(await sf.verifyPresented(u, token, 'token:b', IP), 'totp');
    await refused(sf.verifyPresented(other, token, 'token:c', IP), 'OTP_INVALID', 'unauthenticated');
  });

  it('a passkey approval presents as webauthn (what critical packages need)', async () => {
    const u = await user();
    const { id, done } = parts(await sf.startWebOtp(u.id));
    await sf.approveWebOtp(id, u, 'webauthn');
    const polled = await sf.pollWebOtp(done);
    assert.equal(await sf.verifyPresented(u, polled.status === 'done' ? polled.token : '', 'token:a', IP), 'webauthn');
  });

  it('another account cannot approve it, and it cannot be approved twice', async () => {
    const u = await user();
    const mallory = await user();
    const { id, done } = parts(await sf.startWebOtp(u.id));
    await refused(sf.approveWebOtp(id, mallory, 'totp'), 'OTP_CHALLENGE_EXPIRED', 'not_found');
    assert.deepEqual(await sf.pollWebOtp(done), { status: 'pending' });
    await sf.approveWebOtp(id, u, 'totp');
    await refused(sf.approveWebOtp(id, u, 'webauthn'), 'OTP_ALREADY_APPROVED', 'conflict');
  });

  it('the token works for 5 minutes after it was collected, then is refused', async () => {
    const u = await user();
    const { id, done } = parts(await sf.startWebOtp(u.id));
    await sf.approveWebOtp(id, u, 'totp');
    const polled = await sf.pollWebOtp(done);
    const token = polled.status === 'done' ? polled.token : '';
    now += WEB_OTP_TTL_MS - 1;
    assert.equal(await sf.verifyPresented(u, token, 'token:a', IP), 'totp');
    now += 1;
    await refused(sf.verifyPresented(u, token, 'token:a', IP), 'OTP_INVALID', 'unauthenticated');
  });

  it('a challenge nobody approves expires after 10 minutes: poll, page and approval are refused', async () => {
    const u = await user();
    const { id, done } = parts(await sf.startWebOtp(u.id));
    now += WEB_OTP_PENDING_TTL_MS;
    await refused(sf.pollWebOtp(done), 'OTP_CHALLENGE_EXPIRED', 'not_found');
    await refused(sf.webOtpChallenge(id), 'OTP_CHALLENGE_EXPIRED', 'not_found');
    await refused(sf.approveWebOtp(id, u, 'totp'), 'OTP_CHALLENGE_EXPIRED', 'not_found');
  });

  it('an approved challenge whose token was never collected yields nothing once expired', async () => {
    const u = await user();
    const { id, done } = parts(await sf.startWebOtp(u.id));
    await sf.approveWebOtp(id, u, 'totp');
    now += WEB_OTP_PENDING_TTL_MS;
    await refused(sf.pollWebOtp(done), 'OTP_CHALLENGE_EXPIRED', 'not_found');
  });

  it('unknown and overlong poll secrets and challenge ids are refused', async () => {
    await refused(sf.pollWebOtp('A'.repeat(43)), 'OTP_CHALLENGE_EXPIRED', 'not_found');
    await refused(sf.pollWebOtp('A'.repeat(10_000)), 'OTP_CHALLENGE_EXPIRED', 'not_found');
    await refused(sf.webOtpChallenge('no-such-challenge'), 'OTP_CHALLENGE_EXPIRED', 'not_found');
    const u = await user();
    await refused(sf.approveWebOtp('no-such-challenge', u, 'totp'), 'OTP_CHALLENGE_EXPIRED', 'not_found');
  });
});
