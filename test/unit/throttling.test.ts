// Throttling (AUTHN-1.5) against a real (in-memory SQLite) store with the clock in the test's hands:
// the service that applies the pure policy of security/mfa/throttle.ts (covered by throttle.test.ts)
// to two counters per attempt, the account's and the client address's. Backoff, lockout, unlock,
// which counter stops which attack, and that parallel guesses are all counted.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { Throttling, type AttemptKind } from '../../src/core/accounts/throttling.ts';
import { isAttestryError } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/logger.ts';
import { migrate } from '../../src/storage/metadata/sql/migrations.ts';
import { SqlMetadataStore } from '../../src/storage/metadata/sql/sql-store.ts';
import { SqliteDatabase } from '../../src/storage/metadata/sqlite/sqlite-database.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const IP = '192.0.2.10';
const OTHER_IP = '198.51.100.7';

let now: number;
let store: SqlMetadataStore;
let warnings: Array<Record<string, unknown> | undefined>;
let throttling: Throttling;

/** The guard's verdict: null when the attempt may go ahead, else the refusal's code and retry-after. */
async function verdict(kind: AttemptKind, userId: number | null, address: string | null): Promise<{ code: string; retryAfterSeconds: unknown } | null> {
  try {
    await throttling.guard(kind, userId, address);
    return null;
  } catch (e) {
    assert.ok(isAttestryError(e), String(e));
    assert.equal(e.kind, 'rate_limited');
    return { code: e.code, retryAfterSeconds: e.detail?.retryAfterSeconds };
  }
}

/** `n` failures in a row, each made as soon as the guard allows it; returns what failed() said each time. */
async function failUntilAllowed(kind: AttemptKind, userId: number | null, address: string | null, n: number): Promise<boolean[]> {
  const locked: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const v = await verdict(kind, userId, address);
    if (v !== null) now += Number(v.retryAfterSeconds) * SECOND;
    assert.equal(await verdict(kind, userId, address), null);
    locked.push(await throttling.failed(kind, userId, address));
  }
  return locked;
}

beforeEach(async () => {
  now = Date.UTC(2026, 5, 1, 12);
  const db = new SqliteDatabase(':memory:');
  await migrate(db);
  store = new SqlMetadataStore(db);
  warnings = [];
  const log: Logger = { debug() {}, info() {}, warn: (_m, fields) => void warnings.push(fields), error() {}, debugEnabled: false };
  throttling = new Throttling(store, () => now, log);
});

describe('Throttling: backoff and lockout', () => {
  it('password: five free failures, then waits of 1, 2, 4, 8 seconds (TOO_MANY_ATTEMPTS with retry-after)', async () => {
    for (let i = 0; i < 5; i++) await throttling.failed('password', 1, IP);
    assert.equal(await verdict('password', 1, IP), null);
    for (const wait of [1, 2, 4, 8]) {
      await throttling.failed('password', 1, IP);
      assert.deepEqual(await verdict('password', 1, IP), { code: 'TOO_MANY_ATTEMPTS', retryAfterSeconds: wait });
      now += wait * SECOND - 1;
      assert.equal((await verdict('password', 1, IP))?.code, 'TOO_MANY_ATTEMPTS', 'not a millisecond early');
      now += 1;
      assert.equal(await verdict('password', 1, IP), null);
    }
  });

  it('the tenth password failure locks the account for 15 minutes, says so once, and is logged without secrets', async () => {
    const locked = await failUntilAllowed('password', 1, IP, 10);
    assert.deepEqual(locked, [false, false, false, false, false, false, false, false, false, true]);
    assert.deepEqual(await verdict('password', 1, IP), { code: 'ACCOUNT_LOCKED', retryAfterSeconds: 15 * 60 });
    assert.equal(await throttling.lockedUntil('password', 1), now + 15 * MINUTE);
    assert.deepEqual(warnings, [{ kind: 'password', userId: 1 }]);
    now += 15 * MINUTE;
    assert.equal(await verdict('password', 1, IP), null);
    assert.equal(await throttling.lockedUntil('password', 1), null);
  });

  it('a failure during a lock (a guess that raced past the guard) doubles it, without announcing a new lock', async () => {
    await failUntilAllowed('password', 1, IP, 10);
    assert.equal(await throttling.failed('password', 1, IP), false);
    assert.deepEqual(await verdict('password', 1, IP), { code: 'ACCOUNT_LOCKED', retryAfterSeconds: 30 * 60 });
    assert.equal(warnings.length, 1);
  });

  it('TOTP is stricter: three free failures, a delay, a 30-minute lock at the fifth', async () => {
    const locked = await failUntilAllowed('totp', 7, IP, 5);
    assert.deepEqual(locked, [false, false, false, false, true]);
    assert.deepEqual(await verdict('totp', 7, IP), { code: 'ACCOUNT_LOCKED', retryAfterSeconds: 30 * 60 });
  });

  it('recovery codes: two free failures, a lock of an hour at the fifth', async () => {
    for (let i = 0; i < 2; i++) await throttling.failed('recovery', 7, IP);
    assert.equal(await verdict('recovery', 7, IP), null);
    await throttling.failed('recovery', 7, IP);
    assert.deepEqual(await verdict('recovery', 7, IP), { code: 'TOO_MANY_ATTEMPTS', retryAfterSeconds: 2 });
    assert.deepEqual(await failUntilAllowed('recovery', 7, IP, 2), [false, true]);
    assert.deepEqual(await verdict('recovery', 7, IP), { code: 'ACCOUNT_LOCKED', retryAfterSeconds: 3600 });
  });

  it('a success clears the account counter, never the address counter', async () => {
    for (let i = 0; i < 4; i++) await throttling.failed('password', 1, IP);
    await throttling.succeeded('password', 1, IP);
    assert.equal(await store.getThrottle('password:acct:1'), undefined);
    assert.equal((await store.getThrottle(`password:ip:${IP}`))?.failures, 4);
  });

  it('parallel failures are each counted', async () => {
    await Promise.all(Array.from({ length: 5 }, () => throttling.failed('totp', 3, IP)));
    assert.equal((await store.getThrottle('totp:acct:3'))?.failures, 5);
    assert.equal((await store.getThrottle(`totp:ip:${IP}`))?.failures, 5);
    assert.equal((await verdict('totp', 3, OTHER_IP))?.code, 'ACCOUNT_LOCKED');
  });
});

describe('Throttling: the account counter and the address counter', () => {
  it('one account guessed from many addresses is stopped by the account counter', async () => {
    const addresses = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5'];
    for (const address of addresses) {
      const v = await verdict('totp', 1, address);
      if (v !== null) now += Number(v.retryAfterSeconds) * SECOND;
      await throttling.failed('totp', 1, address);
    }
    assert.equal((await verdict('totp', 1, '203.0.113.99'))?.code, 'ACCOUNT_LOCKED');
    // Other people at those addresses are not punished for it.
    for (const address of addresses) assert.equal(await verdict('totp', 2, address), null);
  });

  it('one address guessing many accounts is stopped by the address counter, for every account', async () => {
    // TOTP per address: ten free failures, then delays; one failure per account never locks an account.
    for (let user = 1; user <= 11; user++) await throttling.failed('totp', user, IP);
    const v = await verdict('totp', 99, IP);
    assert.equal(v?.code, 'TOO_MANY_ATTEMPTS');
    assert.equal(v?.retryAfterSeconds, 1);
    assert.equal(await verdict('totp', 99, OTHER_IP), null, 'the same account from elsewhere is not held up');
    for (let user = 1; user <= 11; user++) assert.equal(await throttling.lockedUntil('totp', user), null);
  });

  it('guesses at unknown user names count against the address only', async () => {
    for (let i = 0; i < 21; i++) await throttling.failed('password', null, IP);
    assert.equal((await verdict('password', null, IP))?.code, 'TOO_MANY_ATTEMPTS');
    assert.equal((await verdict('password', 5, IP))?.code, 'TOO_MANY_ATTEMPTS');
    assert.equal(await verdict('password', 5, OTHER_IP), null);
  });

  it('IPv6 clients are counted by their /64', async () => {
    for (let i = 0; i < 11; i++) await throttling.failed('totp', 100 + i, `2001:db8:0:0::${(i + 1).toString(16)}`);
    assert.equal((await verdict('totp', 1, '2001:db8::ffff'))?.code, 'TOO_MANY_ATTEMPTS');
    assert.equal(await verdict('totp', 1, '2001:db8:0:1::1'), null);
  });

  it('kinds are counted apart: a locked TOTP counter does not stop passwords or recovery codes', async () => {
    await failUntilAllowed('totp', 1, null, 5);
    assert.equal((await verdict('totp', 1, null))?.code, 'ACCOUNT_LOCKED');
    assert.equal(await verdict('password', 1, null), null);
    assert.equal(await verdict('recovery', 1, null), null);
  });
});

describe('Throttling: unlock', () => {
  it("an administrator's unlock clears every kind of the account at once, and only that account", async () => {
    // Each kind's lockout count exactly: waiting out one kind's lock must not end another's.
    await failUntilAllowed('password', 1, null, 10);
    await failUntilAllowed('totp', 1, null, 5);
    await failUntilAllowed('recovery', 1, null, 5);
    await failUntilAllowed('password', 2, null, 10);
    for (const kind of ['password', 'totp', 'recovery'] as const) assert.equal((await verdict(kind, 1, null))?.code, 'ACCOUNT_LOCKED', kind);

    await throttling.unlock(1);
    for (const kind of ['password', 'totp', 'recovery'] as const) {
      assert.equal(await verdict(kind, 1, null), null, kind);
      assert.equal(await throttling.lockedUntil(kind, 1), null, kind);
    }
    assert.equal((await verdict('password', 2, null))?.code, 'ACCOUNT_LOCKED');
  });

  it('unlocking an account does not lift the hold on an address that was guessing', async () => {
    for (let user = 1; user <= 11; user++) await throttling.failed('totp', user, IP);
    await throttling.unlock(1);
    assert.equal((await verdict('totp', 1, IP))?.code, 'TOO_MANY_ATTEMPTS');
  });

  it('after unlock the count starts over: the next failure is free again', async () => {
    await failUntilAllowed('totp', 1, null, 5);
    await throttling.unlock(1);
    await throttling.failed('totp', 1, null);
    assert.equal(await verdict('totp', 1, null), null);
    assert.equal((await store.getThrottle('totp:acct:1'))?.failures, 1);
  });
});
