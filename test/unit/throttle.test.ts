import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertRefused } from '../support/refusals.ts';
import {
  THROTTLE_POLICIES,
  normaliseThrottleAddress,
  throttleCheck,
  throttleFailure,
  throttleKeys,
  validateThrottlePolicy,
  type ThrottlePolicy,
  type ThrottleState,
} from '../../src/security/mfa/throttle.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const T0 = Date.UTC(2026, 0, 1);
const PASSWORD = THROTTLE_POLICIES.password.account;

/** The state after `n` failures at the instants given (all at T0 when omitted). */
function failures(policy: ThrottlePolicy, times: number[]): ThrottleState {
  let state: ThrottleState | undefined;
  for (const t of times) state = throttleFailure(state, policy, t);
  assert.ok(state);
  return state;
}

/** An attacker who guesses as fast as the throttle lets them; returns how many guesses were made. */
function bruteForce(policy: ThrottlePolicy, durationMs: number): number {
  let state: ThrottleState | undefined;
  let now = T0;
  let guesses = 0;
  while (now < T0 + durationMs) {
    const decision = throttleCheck(state, now);
    if (!decision.allowed) {
      assert.ok(decision.retryAt > now, 'a refusal always names a later time');
      now = decision.retryAt;
      continue;
    }
    guesses++;
    state = throttleFailure(state, policy, now);
  }
  return guesses;
}

describe('THROTTLE_POLICIES', () => {
  it('has an account and an address policy for each kind, all valid and frozen', () => {
    assert.deepEqual(Object.keys(THROTTLE_POLICIES).sort(), ['password', 'recovery', 'totp']);
    for (const [kind, { account, address }] of Object.entries(THROTTLE_POLICIES)) {
      validateThrottlePolicy(account);
      validateThrottlePolicy(address);
      assert.ok(Object.isFrozen(account) && Object.isFrozen(address), kind);
      // An address may front many users; its limits are never stricter than an account's.
      assert.ok(address.freeFailures >= account.freeFailures && address.lockoutAfter >= account.lockoutAfter, kind);
    }
    assert.ok(Object.isFrozen(THROTTLE_POLICIES));
  });

  it('passwords: 5 free, then 1 s doubling up to 15 min, locked 15 min after 10 within an hour', () => {
    assert.deepEqual({ ...PASSWORD }, { freeFailures: 5, baseDelayMs: SECOND, maxDelayMs: 15 * MINUTE, lockoutAfter: 10, lockoutMs: 15 * MINUTE, windowMs: HOUR });
  });

  it('second factors lock sooner than passwords: after at most 5 failures', () => {
    for (const kind of ['totp', 'recovery'] as const) {
      assert.ok(THROTTLE_POLICIES[kind].account.lockoutAfter <= 5, kind);
      assert.ok(THROTTLE_POLICIES[kind].account.freeFailures < PASSWORD.freeFailures, kind);
    }
  });
});

describe('throttleCheck and throttleFailure: backoff and lockout', () => {
  it('allows a key with no state', () => {
    assert.deepEqual(throttleCheck(undefined, T0), { allowed: true });
  });

  it('the free failures cost nothing', () => {
    const state = failures(PASSWORD, [T0, T0, T0, T0, T0]);
    assert.deepEqual(state, { failures: 5, firstFailureAt: T0, lockedUntil: null, nextAllowedAt: T0 });
    assert.deepEqual(throttleCheck(state, T0), { allowed: true });
  });

  it('each failure after the free ones doubles the delay: 1 s, 2 s, 4 s, 8 s', () => {
    let state = failures(PASSWORD, [T0, T0, T0, T0, T0]);
    let now = T0;
    for (const delay of [1, 2, 4, 8].map((s) => s * SECOND)) {
      state = throttleFailure(state, PASSWORD, now);
      assert.equal(state.nextAllowedAt, now + delay);
      assert.equal(state.lockedUntil, null);
      assert.deepEqual(throttleCheck(state, now), { allowed: false, retryAt: now + delay, locked: false });
      assert.deepEqual(throttleCheck(state, now + delay - 1), { allowed: false, retryAt: now + delay, locked: false });
      assert.deepEqual(throttleCheck(state, now + delay), { allowed: true });
      now += delay;
    }
    assert.equal(state.failures, 9);
  });

  it('locks at lockoutAfter failures, for lockoutMs', () => {
    const times = [T0, T0, T0, T0, T0, T0, T0 + 1 * SECOND, T0 + 3 * SECOND, T0 + 7 * SECOND, T0 + 15 * SECOND];
    const state = failures(PASSWORD, times);
    const until = T0 + 15 * SECOND + 15 * MINUTE;
    assert.deepEqual(state, { failures: 10, firstFailureAt: T0, lockedUntil: until, nextAllowedAt: until });
    assert.deepEqual(throttleCheck(state, T0 + 16 * SECOND), { allowed: false, retryAt: until, locked: true });
    assert.deepEqual(throttleCheck(state, until - 1), { allowed: false, retryAt: until, locked: true });
    assert.deepEqual(throttleCheck(state, until), { allowed: true });
  });

  it('every failure after the lock expires locks again, twice as long each time, up to windowMs', () => {
    let state = failures(PASSWORD, Array<number>(10).fill(T0));
    assert.equal(state.lockedUntil, T0 + 15 * MINUTE);
    const expected = [30 * MINUTE, HOUR, HOUR, HOUR, HOUR];
    for (let round = 0; round < expected.length; round++) {
      const now = state.lockedUntil as number;
      assert.deepEqual(throttleCheck(state, now), { allowed: true });
      state = throttleFailure(state, PASSWORD, now);
      assert.equal(state.failures, 11 + round);
      assert.equal(state.lockedUntil, now + (expected[round] as number), `round ${round}`);
      assert.deepEqual(throttleCheck(state, now), { allowed: false, retryAt: state.lockedUntil, locked: true });
    }
  });

  it('a lock is never shorter than lockoutMs, even when windowMs is', () => {
    const policy: ThrottlePolicy = { freeFailures: 0, baseDelayMs: 0, maxDelayMs: 0, lockoutAfter: 1, lockoutMs: HOUR, windowMs: MINUTE };
    assert.equal(throttleFailure(undefined, policy, T0).lockedUntil, T0 + HOUR);
  });

  it('the count starts over only after windowMs without failures or restrictions', () => {
    const locked = failures(PASSWORD, Array<number>(10).fill(T0));
    const quietFrom = locked.lockedUntil as number;
    assert.equal(throttleFailure(locked, PASSWORD, quietFrom + PASSWORD.windowMs - 1).failures, 11, 'one ms short of the window');
    assert.deepEqual(throttleFailure(locked, PASSWORD, quietFrom + PASSWORD.windowMs), {
      failures: 1,
      firstFailureAt: quietFrom + PASSWORD.windowMs,
      lockedUntil: null,
      nextAllowedAt: quietFrom + PASSWORD.windowMs,
    });
  });

  it('a few mistakes spread over the day never delay anyone', () => {
    let state: ThrottleState | undefined;
    for (let i = 0; i < 30; i++) {
      const now = T0 + i * (PASSWORD.windowMs + 1);
      assert.deepEqual(throttleCheck(state, now), { allowed: true });
      state = throttleFailure(state, PASSWORD, now);
      assert.equal(state.failures, 1);
    }
  });

  it('the delay is capped at maxDelayMs', () => {
    const policy: ThrottlePolicy = { freeFailures: 0, baseDelayMs: SECOND, maxDelayMs: 10 * SECOND, lockoutAfter: 1_000_000, lockoutMs: HOUR, windowMs: HOUR };
    let state: ThrottleState | undefined;
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      state = throttleFailure(state, policy, T0);
      delays.push(state.nextAllowedAt - T0);
    }
    assert.deepEqual(delays, [1, 2, 4, 8, 10, 10, 10, 10].map((s) => s * SECOND));
    const far = throttleFailure({ failures: 5000, firstFailureAt: T0, lockedUntil: null, nextAllowedAt: T0 }, policy, T0);
    assert.equal(far.nextAllowedAt, T0 + 10 * SECOND);
  });

  it('a zero base delay stays zero however many failures (no NaN)', () => {
    const policy: ThrottlePolicy = { freeFailures: 0, baseDelayMs: 0, maxDelayMs: 0, lockoutAfter: 1_000_000, lockoutMs: HOUR, windowMs: HOUR };
    const state = throttleFailure({ failures: 5000, firstFailureAt: T0, lockedUntil: null, nextAllowedAt: T0 }, policy, T0);
    assert.equal(state.nextAllowedAt, T0);
    assert.deepEqual(throttleCheck(state, T0), { allowed: true });
  });

  it('never shortens a restriction already in force (concurrent attempts that both passed the check)', () => {
    const locked = failures(PASSWORD, Array<number>(10).fill(T0));
    const racing = throttleFailure(locked, PASSWORD, T0 - 5 * MINUTE);
    assert.ok((racing.lockedUntil as number) >= (locked.lockedUntil as number));
    assert.ok(racing.nextAllowedAt >= locked.nextAllowedAt);
    const delayed = { failures: 6, firstFailureAt: T0, lockedUntil: null, nextAllowedAt: T0 + HOUR / 2 };
    assert.equal(throttleFailure(delayed, PASSWORD, T0).nextAllowedAt, T0 + HOUR / 2);
  });

  it('a lock in force wins over a shorter delay in the answer', () => {
    const state: ThrottleState = { failures: 3, firstFailureAt: T0, lockedUntil: T0 + HOUR, nextAllowedAt: T0 + MINUTE };
    assert.deepEqual(throttleCheck(state, T0), { allowed: false, retryAt: T0 + HOUR, locked: true });
  });
});

describe('a brute-force run is stopped', () => {
  const DAY = 24 * HOUR;
  const YEAR = 365 * DAY;

  it('passwords: at most 10 guesses in the first hour, then about one an hour', () => {
    assert.ok(bruteForce(PASSWORD, HOUR) <= PASSWORD.lockoutAfter + 2);
    const day = bruteForce(PASSWORD, DAY);
    assert.ok(day <= PASSWORD.lockoutAfter + 24 + 2, `${day} guesses in a day`);
  });

  it('TOTP: a year of guessing has under a 2% chance of hitting one of the 3 valid codes', () => {
    const policy = THROTTLE_POLICIES.totp.account;
    const firstDay = bruteForce(policy, DAY);
    assert.ok(firstDay <= 15, `${firstDay} guesses in a day`);
    const year = bruteForce(policy, YEAR);
    assert.ok((year * 3) / 1e6 < 0.02, `${year} guesses in a year`);
  });

  it('recovery codes: a handful of guesses a day against a 60-bit space', () => {
    const policy = THROTTLE_POLICIES.recovery.account;
    const day = bruteForce(policy, DAY);
    assert.ok(day <= 10, `${day} guesses in a day`);
  });

  it('per address, too: a credential-stuffing run from one address is slowed and locked', () => {
    const policy = THROTTLE_POLICIES.password.address;
    const hour = bruteForce(policy, HOUR);
    assert.ok(hour <= policy.lockoutAfter + 2, `${hour} guesses from one address in an hour`);
    const day = bruteForce(policy, DAY);
    assert.ok(day <= policy.lockoutAfter + 24 + 2, `${day} guesses from one address in a day`);
  });
});

describe('throttle: refusals', () => {
  it('refuses a clock that is not a finite number (THROTTLE_TIME_INVALID)', () => {
    for (const now of [NaN, Infinity, -Infinity, undefined as unknown as number, '1' as unknown as number]) {
      assertRefused(() => throttleCheck(undefined, now), 'THROTTLE_TIME_INVALID', 'invalid', String(now));
      assertRefused(() => throttleFailure(undefined, PASSWORD, now), 'THROTTLE_TIME_INVALID', 'invalid', String(now));
    }
  });

  it('refuses policies that would not throttle or would overflow (THROTTLE_POLICY_INVALID)', () => {
    const bad: Array<Partial<ThrottlePolicy>> = [
      { freeFailures: -1 }, { freeFailures: 1.5 }, { freeFailures: NaN },
      { baseDelayMs: -1 }, { baseDelayMs: Infinity },
      { maxDelayMs: -1 }, { maxDelayMs: 500 }, // below baseDelayMs
      { lockoutAfter: 0 }, { lockoutAfter: -5 }, { lockoutAfter: 2.5 },
      { lockoutMs: 0 }, { lockoutMs: 2 ** 53 },
      { windowMs: 0 }, { windowMs: -HOUR }, { windowMs: NaN },
      { freeFailures: '5' as unknown as number },
    ];
    for (const change of bad) {
      const policy = { ...PASSWORD, ...change };
      assertRefused(() => validateThrottlePolicy(policy), 'THROTTLE_POLICY_INVALID', 'invalid', JSON.stringify(change));
      assertRefused(() => throttleFailure(undefined, policy, T0), 'THROTTLE_POLICY_INVALID', 'invalid', JSON.stringify(change));
    }
  });
});

describe('throttleKeys', () => {
  it('names the kind, the account and the address', () => {
    assert.deepEqual(throttleKeys('password', 42, '203.0.113.7'), { account: 'password:acct:42', address: 'password:ip:203.0.113.7' });
    assert.deepEqual(throttleKeys('totp', 42, '203.0.113.7'), { account: 'totp:acct:42', address: 'totp:ip:203.0.113.7' });
    assert.deepEqual(throttleKeys('recovery', 0, '203.0.113.7'), { account: 'recovery:acct:0', address: 'recovery:ip:203.0.113.7' });
  });

  it('leaves out what is unknown', () => {
    assert.deepEqual(throttleKeys('password', null, '203.0.113.7'), { account: null, address: 'password:ip:203.0.113.7' });
    assert.deepEqual(throttleKeys('password', 7, null), { account: 'password:acct:7', address: null });
    assert.deepEqual(throttleKeys('password', null, null), { account: null, address: null });
  });

  it('keys IPv6 by its /64, so one host cannot rotate through its own addresses', () => {
    const a = throttleKeys('password', null, '2001:db8:1:2:aaaa::1').address;
    assert.equal(a, 'password:ip:2001:db8:1:2::/64');
    for (const same of ['2001:db8:1:2::ffff', '2001:0DB8:0001:0002:1:2:3:4', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::1%eth0']) {
      assert.equal(throttleKeys('password', null, same).address, a, same);
    }
    for (const other of ['2001:db8:1:3::1', '2001:db8::1', '2001:db9:1:2::1']) assert.notEqual(throttleKeys('password', null, other).address, a, other);
  });

  it('keys IPv4 inside IPv6 (mapped, NAT64) by the IPv4 address', () => {
    for (const form of ['::ffff:203.0.113.7', '::FFFF:CB00:7107', '0:0:0:0:0:ffff:203.0.113.7', '64:ff9b::203.0.113.7', '64:ff9b::cb00:7107']) {
      assert.equal(normaliseThrottleAddress(form), '203.0.113.7', form);
    }
    assert.equal(normaliseThrottleAddress('::ffff:203.0.113.8'), '203.0.113.8');
  });

  it('normalises the IPv6 special cases', () => {
    assert.equal(normaliseThrottleAddress('::1'), '0:0:0:0::/64');
    assert.equal(normaliseThrottleAddress('::'), '0:0:0:0::/64');
    assert.equal(normaliseThrottleAddress('fe80::1%25eth0'), 'fe80:0:0:0::/64');
    assert.equal(normaliseThrottleAddress('1:2:3:4:5:6:7:8'), '1:2:3:4::/64');
    assert.equal(normaliseThrottleAddress('1::8'), '1:0:0:0::/64');
  });

  it('refuses an unknown kind (THROTTLE_KIND_INVALID)', () => {
    for (const kind of ['sms', '', 'Password', 'password:acct']) {
      assertRefused(() => throttleKeys(kind as 'password', 1, '203.0.113.7'), 'THROTTLE_KIND_INVALID', 'invalid', kind);
    }
  });

  it('refuses a user id that is not a non-negative integer (THROTTLE_USER_INVALID)', () => {
    for (const id of [-1, 1.5, NaN, Infinity, 2 ** 53, '42' as unknown as number]) {
      assertRefused(() => throttleKeys('password', id, null), 'THROTTLE_USER_INVALID', 'invalid', String(id));
    }
  });

  it('refuses anything that is not an IP address (THROTTLE_ADDRESS_INVALID)', () => {
    const bad = ['', 'localhost', 'example.org', '1.2.3', '256.1.1.1', '01.2.3.4', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4%eth0', '::ffff:999.1.1.1',
      '1:2:3:4:5:6:7:8:9', '1::2::3', '[::1]', '::1/64', '203.0.113.0/24', 'gggg::1', '12345::1', ':::', '1.2.3.4:80', '%eth0'];
    for (const address of bad) {
      assertRefused(() => throttleKeys('password', 1, address), 'THROTTLE_ADDRESS_INVALID', 'invalid', JSON.stringify(address));
    }
    for (const address of [undefined, 1234, {}]) {
      assertRefused(() => normaliseThrottleAddress(address as unknown as string), 'THROTTLE_ADDRESS_INVALID', 'invalid', String(address));
    }
  });
});
