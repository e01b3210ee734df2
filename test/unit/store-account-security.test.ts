// The metadata-store operations behind account security, on a real store: SQLite in memory always,
// and PostgreSQL too when ATTESTRY_TEST_POSTGRES_URL names a server. What the services rely on is
// pinned here: single use of links and recovery codes under concurrency, sessions that end when
// asked, closed-set columns that never read back as "no second factor".
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { storesUnderTest } from '../support/postgres.ts';
import { openTestStore, type TestStore } from '../support/test-store.ts';
import type { SqlDatabase } from '../../src/storage/metadata/sql/driver.ts';
import type { SqlMetadataStore } from '../../src/storage/metadata/sql/sql-store.ts';
import { UniqueViolation, type EventCursor, type OtpChallengeRecord, type UserRecord, type UserSecurityFields, type WebSessionRecord } from '../../src/storage/metadata/store.ts';

const NOW = Date.UTC(2026, 5, 1);
const nth = <T>(list: readonly T[], i: number): T => list[i] ?? assert.fail(`no element ${i}`);
const MINUTE = 60_000;

for (const kind of storesUnderTest()) {
  describe(`account-security store operations (${kind})`, () => {
    let db: SqlDatabase;
    let store: SqlMetadataStore;
    let opened: TestStore;
    let seq = 0;
    const unique = (prefix: string) => `${prefix}${++seq}`;

    const user = (over: { email?: string; emailVerifiedAt?: number } = {}): Promise<UserRecord> => {
      const name = unique('user');
      return store.insertUser({ name, email: over.email ?? `${name}@example.com`, passwordHash: 'h', isAdmin: false, createdAt: NOW, updatedAt: NOW, ...over });
    };
    const session = (userId: number | null, over: Partial<WebSessionRecord> = {}): WebSessionRecord => ({
      idHash: unique('sess'), userId, csrfToken: unique('csrf'), createdAt: NOW, lastSeenAt: NOW, expiresAt: NOW + 120 * MINUTE,
      absoluteExpiresAt: NOW + 24 * 60 * MINUTE, ip: '192.0.2.1', userAgent: 'test', data: '{}', ...over,
    });
    const challenge = (userId: number, over: Partial<OtpChallengeRecord> = {}): OtpChallengeRecord => ({
      id: unique('ch'), doneHash: unique('done'), userId, createdAt: NOW, expiresAt: NOW + 5 * MINUTE, approvedAt: null, method: null, otpHash: null, ...over,
    });

    before(async () => {
      opened = await openTestStore(kind);
      ({ db, store } = opened);
    });
    after(async () => {
      await opened.close();
    });

    describe('users', () => {
      it('a new user has no verified email, no factors and no leak flag unless told otherwise', async () => {
        const u = await user();
        assert.equal(u.emailVerifiedAt, null);
        assert.equal(u.tfaMode, null);
        assert.equal(u.totpSecret, null);
        assert.equal(u.totpPendingSecret, null);
        assert.equal(u.totpPendingAt, null);
        assert.equal(u.totpLastStep, null);
        assert.equal(u.totpLastCredential, null);
        assert.equal(u.webauthnHandle, null);
        assert.equal(u.passwordLeaked, false);
        const verified = await user({ emailVerifiedAt: NOW - 5 });
        assert.equal(verified.emailVerifiedAt, NOW - 5);
        assert.equal((await store.findUserById(verified.id))?.emailVerifiedAt, NOW - 5);
      });

      it('updateUser writes every security field and reads them back', async () => {
        const u = await user();
        const fields: UserSecurityFields = {
          email: 'new@example.com', passwordHash: 'h2', emailVerifiedAt: NOW + 1, tfaMode: 'auth-and-writes', totpSecret: 'JBSWY3DPEHPK3PXP',
          totpPendingSecret: 'KRSXG5CTMVRXEZLU', totpPendingAt: NOW + 2, totpPendingMode: 'auth-only', totpLastStep: 59_000_000, totpLastCredential: 'cli-1',
          webauthnHandle: unique('handle'), passwordLeaked: true, updatedAt: NOW + 3,
        };
        await store.updateUser(u.id, fields);
        const back = await store.findUserById(u.id);
        assert.deepEqual(back, { ...u, ...fields });
        await store.updateUser(u.id, { tfaMode: 'auth-only', totpPendingSecret: null, totpPendingAt: null, passwordLeaked: false });
        const again = await store.findUserById(u.id);
        assert.equal(again?.tfaMode, 'auth-only');
        assert.equal(again?.totpPendingSecret, null);
        assert.equal(again?.totpPendingAt, null);
        assert.equal(again?.passwordLeaked, false);
        assert.equal(again?.totpSecret, 'JBSWY3DPEHPK3PXP', 'fields not named are left alone');
      });

      it('updateUser touches nothing outside the security fields, and an empty update is a no-op', async () => {
        const u = await user();
        // A caller that smuggles other keys in (e.g. from a parsed body) cannot make itself admin or rename.
        await store.updateUser(u.id, { isAdmin: true, name: 'root', id: 999_999 } as unknown as Partial<UserSecurityFields>);
        await store.updateUser(u.id, {});
        await store.updateUser(u.id, { totpSecret: undefined });
        assert.deepEqual(await store.findUserById(u.id), u);
      });

      it('updateUser changes only the user named', async () => {
        const a = await user();
        const b = await user();
        await store.updateUser(a.id, { tfaMode: 'auth-and-writes' });
        assert.equal((await store.findUserById(b.id))?.tfaMode, null);
      });

      it('findUserByEmail is case-insensitive, returns every account with the address, oldest first', async () => {
        const email = `${unique('Mixed.Case')}@Example.COM`;
        const a = await user({ email });
        const b = await user({ email: email.toLowerCase() });
        const found = await store.findUserByEmail(email.toUpperCase());
        assert.deepEqual(found.map((u) => u.id), [a.id, b.id]);
        assert.deepEqual((await store.findUserByEmail(email.toLowerCase())).map((u) => u.id), [a.id, b.id]);
      });

      it('findUserByEmail matches the address exactly, never as a pattern', async () => {
        await user({ email: `${unique('pattern')}@example.com` });
        assert.deepEqual(await store.findUserByEmail('%@example.com'), []);
        assert.deepEqual(await store.findUserByEmail('pattern_@example.com'), []);
        assert.deepEqual(await store.findUserByEmail('nobody@example.com'), []);
        assert.deepEqual(await store.findUserByEmail(''), []);
      });

      it('findUserByWebAuthnHandle finds the one user with that handle; a handle cannot be shared', async () => {
        const u = await user();
        const handle = unique('handle');
        await store.updateUser(u.id, { webauthnHandle: handle });
        assert.equal((await store.findUserByWebAuthnHandle(handle))?.id, u.id);
        assert.equal(await store.findUserByWebAuthnHandle('unknown'), undefined);
        const other = await user();
        await assert.rejects(store.updateUser(other.id, { webauthnHandle: handle }), UniqueViolation);
      });

      it('an unknown two-factor mode in the database is a fault, not "no second factor"', async () => {
        const u = await user();
        await db.run('UPDATE users SET tfa_mode = ? WHERE id = ?', ['none', u.id]);
        await assert.rejects(store.findUserById(u.id), /users\.tfa_mode/);
        await db.run('UPDATE users SET tfa_mode = NULL WHERE id = ?', [u.id]);
      });

      it('updateUser works inside a transaction and rolls back with it', async () => {
        const u = await user();
        await store.transaction((tx) => tx.updateUser(u.id, { tfaMode: 'auth-only' }));
        assert.equal((await store.findUserById(u.id))?.tfaMode, 'auth-only');
        await assert.rejects(store.transaction(async (tx) => {
          await tx.updateUser(u.id, { tfaMode: 'auth-and-writes' });
          throw new Error('abort');
        }), /abort/);
        assert.equal((await store.findUserById(u.id))?.tfaMode, 'auth-only');
      });
    });

    describe('email tokens', () => {
      it('round-trips a token and is usable exactly once', async () => {
        const u = await user();
        const t = { tokenHash: unique('et'), userId: u.id, purpose: 'change' as const, email: 'next@example.com', createdAt: NOW, expiresAt: NOW + 60 * MINUTE, usedAt: null };
        await store.insertEmailToken(t);
        assert.deepEqual(await store.findEmailToken(t.tokenHash), t);
        assert.equal(await store.useEmailToken(t.tokenHash, NOW + 1), true);
        assert.equal(await store.useEmailToken(t.tokenHash, NOW + 2), false);
        assert.equal((await store.findEmailToken(t.tokenHash))?.usedAt, NOW + 1, 'the second use does not move the used time');
      });

      it('of two concurrent uses exactly one wins', async () => {
        const u = await user();
        const tokenHash = unique('et');
        await store.insertEmailToken({ tokenHash, userId: u.id, purpose: 'verify', email: u.email, createdAt: NOW, expiresAt: NOW + MINUTE, usedAt: null });
        const results = await Promise.all([1, 2, 3, 4].map((i) => store.useEmailToken(tokenHash, NOW + i)));
        assert.equal(results.filter(Boolean).length, 1);
      });

      it('an unknown token is neither found nor usable; hashes are unique', async () => {
        const u = await user();
        assert.equal(await store.findEmailToken('missing'), undefined);
        assert.equal(await store.useEmailToken('missing', NOW), false);
        const t = { tokenHash: unique('et'), userId: u.id, purpose: 'verify' as const, email: u.email, createdAt: NOW, expiresAt: NOW + MINUTE, usedAt: null };
        await store.insertEmailToken(t);
        await assert.rejects(store.insertEmailToken(t), UniqueViolation);
      });
    });

    describe('recovery codes', () => {
      const codes = (n: number) => Array.from({ length: n }, () => unique('rc'));

      it('each code is used once, only by its own user, and the count follows', async () => {
        const u = await user();
        const other = await user();
        const mine = codes(10);
        await store.replaceRecoveryCodes(u.id, mine, NOW);
        await store.replaceRecoveryCodes(other.id, codes(10), NOW);
        assert.equal(await store.countUnusedRecoveryCodes(u.id), 10);
        assert.equal(await store.useRecoveryCode(other.id, nth(mine, 0), NOW), false, "another user's code");
        assert.equal(await store.useRecoveryCode(u.id, nth(mine, 0), NOW), true);
        assert.equal(await store.useRecoveryCode(u.id, nth(mine, 0), NOW + 1), false, 'used twice');
        assert.equal(await store.useRecoveryCode(u.id, 'not-a-code', NOW), false);
        assert.equal(await store.countUnusedRecoveryCodes(u.id), 9);
        assert.equal(await store.countUnusedRecoveryCodes(other.id), 10);
      });

      it('of two concurrent uses of one code exactly one wins', async () => {
        const u = await user();
        const mine = codes(10);
        await store.replaceRecoveryCodes(u.id, mine, NOW);
        const results = await Promise.all([1, 2, 3].map(() => store.useRecoveryCode(u.id, nth(mine, 3), NOW)));
        assert.equal(results.filter(Boolean).length, 1);
      });

      it('replacing invalidates every earlier code, used or not', async () => {
        const u = await user();
        const first = codes(10);
        await store.replaceRecoveryCodes(u.id, first, NOW);
        await store.useRecoveryCode(u.id, nth(first, 0), NOW);
        const second = codes(10);
        await store.replaceRecoveryCodes(u.id, second, NOW + 1);
        assert.equal(await store.countUnusedRecoveryCodes(u.id), 10);
        assert.equal(await store.useRecoveryCode(u.id, nth(first, 1), NOW), false);
        assert.equal(await store.useRecoveryCode(u.id, nth(second, 1), NOW), true);
        await store.replaceRecoveryCodes(u.id, [], NOW + 2);
        assert.equal(await store.countUnusedRecoveryCodes(u.id), 0);
      });

      it('a replacement that fails leaves the old codes in place', async () => {
        const u = await user();
        const old = codes(10);
        await store.replaceRecoveryCodes(u.id, old, NOW);
        const dup = unique('rc');
        await assert.rejects(store.replaceRecoveryCodes(u.id, [dup, dup], NOW + 1), UniqueViolation);
        assert.equal(await store.countUnusedRecoveryCodes(u.id), 10);
        assert.equal(await store.useRecoveryCode(u.id, nth(old, 9), NOW), true);
      });
    });

    describe('WebAuthn credentials', () => {
      const credential = (userId: number, createdAt = NOW) => ({
        id: unique('cred'), userId, publicKey: 'pQECAyYgASFYIA', counter: 0, transports: ['internal', 'hybrid'], name: 'laptop',
        backedUp: true, deviceType: 'multiDevice', createdAt, lastUsedAt: null,
      });

      it('round-trips a credential, transports as a list and flags as booleans', async () => {
        const u = await user();
        const c = credential(u.id);
        await store.insertWebAuthnCredential(c);
        assert.deepEqual(await store.findWebAuthnCredential(c.id), c);
        const single = { ...credential(u.id), transports: [], backedUp: false, deviceType: 'singleDevice' };
        await store.insertWebAuthnCredential(single);
        assert.deepEqual(await store.findWebAuthnCredential(single.id), single);
        assert.equal(await store.findWebAuthnCredential('missing'), undefined);
        await assert.rejects(store.insertWebAuthnCredential(c), UniqueViolation);
      });

      it("lists one user's credentials in registration order", async () => {
        const u = await user();
        const other = await user();
        const later = credential(u.id, NOW + 10);
        const earlier = credential(u.id, NOW);
        await store.insertWebAuthnCredential(later);
        await store.insertWebAuthnCredential(earlier);
        await store.insertWebAuthnCredential(credential(other.id));
        assert.deepEqual((await store.listWebAuthnCredentials(u.id)).map((c) => c.id), [earlier.id, later.id]);
        assert.deepEqual(await store.listWebAuthnCredentials((await user()).id), []);
      });

      it('updates the counter and last use', async () => {
        const u = await user();
        const c = credential(u.id);
        await store.insertWebAuthnCredential(c);
        await store.updateWebAuthnCredential(c.id, 4_294_967_295, NOW + 5);
        const back = await store.findWebAuthnCredential(c.id);
        assert.equal(back?.counter, 4_294_967_295);
        assert.equal(back?.lastUsedAt, NOW + 5);
      });

      it('a credential is deleted only by its own user', async () => {
        const u = await user();
        const other = await user();
        const c = credential(u.id);
        await store.insertWebAuthnCredential(c);
        assert.equal(await store.deleteWebAuthnCredential(other.id, c.id), false);
        assert.ok(await store.findWebAuthnCredential(c.id));
        assert.equal(await store.deleteWebAuthnCredential(u.id, c.id), true);
        assert.equal(await store.findWebAuthnCredential(c.id), undefined);
        assert.equal(await store.deleteWebAuthnCredential(u.id, c.id), false);
      });
    });

    describe('web sessions', () => {
      it('round-trips anonymous and signed-in sessions and updates them', async () => {
        const u = await user();
        const anon = session(null, { ip: null, userAgent: null });
        await store.insertWebSession(anon);
        assert.deepEqual(await store.findWebSession(anon.idHash), anon);
        const change = { userId: u.id, csrfToken: 'rotated', lastSeenAt: NOW + 1, expiresAt: NOW + 121 * MINUTE, data: '{"pending":"x"}', ip: '198.51.100.7' };
        await store.updateWebSession(anon.idHash, change);
        assert.deepEqual(await store.findWebSession(anon.idHash), { ...anon, ...change });
        await store.updateWebSession(anon.idHash, { userId: null });
        assert.equal((await store.findWebSession(anon.idHash))?.userId, null);
        await store.updateWebSession(anon.idHash, {});
        await store.updateWebSession(anon.idHash, { idHash: 'other' } as unknown as Partial<WebSessionRecord>);
        assert.ok(await store.findWebSession(anon.idHash), 'the id is not an updatable field');
        assert.equal(await store.findWebSession('missing'), undefined);
      });

      it('deletes one session', async () => {
        const u = await user();
        const s = session(u.id);
        const keep = session(u.id);
        await store.insertWebSession(s);
        await store.insertWebSession(keep);
        await store.deleteWebSession(s.idHash);
        assert.equal(await store.findWebSession(s.idHash), undefined);
        assert.ok(await store.findWebSession(keep.idHash));
      });

      it("deleteUserWebSessions ends all of one user's sessions but the one excepted", async () => {
        const u = await user();
        const other = await user();
        const current = session(u.id);
        const elsewhere = [session(u.id), session(u.id)];
        const theirs = session(other.id);
        const anon = session(null);
        for (const s of [current, ...elsewhere, theirs, anon]) await store.insertWebSession(s);
        await store.deleteUserWebSessions(u.id, current.idHash);
        assert.ok(await store.findWebSession(current.idHash));
        for (const s of elsewhere) assert.equal(await store.findWebSession(s.idHash), undefined);
        assert.ok(await store.findWebSession(theirs.idHash), "another user's session survives");
        assert.ok(await store.findWebSession(anon.idHash), 'anonymous sessions survive');
        await store.deleteUserWebSessions(u.id);
        assert.equal(await store.findWebSession(current.idHash), undefined);
        assert.ok(await store.findWebSession(theirs.idHash));
      });

      it('deleteExpiredWebSessions removes sessions past their idle or absolute expiry', async () => {
        const u = await user();
        const idle = session(u.id, { expiresAt: NOW - 1 });
        const absolute = session(u.id, { absoluteExpiresAt: NOW - 1 });
        const live = session(u.id, { expiresAt: NOW + 1, absoluteExpiresAt: NOW + 1 });
        const boundary = session(u.id, { expiresAt: NOW, absoluteExpiresAt: NOW });
        for (const s of [idle, absolute, live, boundary]) await store.insertWebSession(s);
        await store.deleteExpiredWebSessions(NOW);
        assert.equal(await store.findWebSession(idle.idHash), undefined);
        assert.equal(await store.findWebSession(absolute.idHash), undefined);
        assert.ok(await store.findWebSession(live.idHash));
        assert.ok(await store.findWebSession(boundary.idHash), 'expiry is exclusive, as for login sessions');
      });
    });

    describe('throttles', () => {
      it('get, put (insert then overwrite) and delete', async () => {
        const key = unique('pw:user:');
        assert.equal(await store.getThrottle(key), undefined);
        const first = { key, failures: 1, firstFailureAt: NOW, lockedUntil: null, nextAllowedAt: NOW + 1000 };
        await store.putThrottle(first);
        assert.deepEqual(await store.getThrottle(key), first);
        const locked = { key, failures: 10, firstFailureAt: NOW, lockedUntil: NOW + 15 * MINUTE, nextAllowedAt: NOW + 15 * MINUTE };
        await store.putThrottle(locked);
        assert.deepEqual(await store.getThrottle(key), locked);
        const otherKey = unique('pw:ip:');
        await store.putThrottle({ ...first, key: otherKey });
        await store.deleteThrottle(key);
        assert.equal(await store.getThrottle(key), undefined);
        assert.ok(await store.getThrottle(otherKey));
      });

      it('read-modify-write inside transactions does not lose failures', async () => {
        const key = unique('totp:user:');
        await store.putThrottle({ key, failures: 0, firstFailureAt: NOW, lockedUntil: null, nextAllowedAt: NOW });
        await Promise.all(Array.from({ length: 8 }, () => store.transaction(async (tx) => {
          const t = await tx.getThrottle(key);
          assert.ok(t);
          await tx.putThrottle({ ...t, failures: t.failures + 1 });
        })));
        assert.equal((await store.getThrottle(key))?.failures, 8);
      });
    });

    describe('OTP challenges', () => {
      it('round-trips and is found by id, done hash and (once set) OTP hash', async () => {
        const u = await user();
        const c = challenge(u.id);
        await store.insertOtpChallenge(c);
        assert.deepEqual(await store.findOtpChallenge(c.id), c);
        assert.deepEqual(await store.findOtpChallengeByDoneHash(c.doneHash), c);
        assert.equal(await store.findOtpChallenge('missing'), undefined);
        assert.equal(await store.findOtpChallengeByDoneHash('missing'), undefined);
        assert.equal(await store.findOtpChallengeByOtpHash('missing'), undefined);
        const approval = { approvedAt: NOW + 1, method: 'webauthn' as const, otpHash: unique('otp'), expiresAt: NOW + 2 * MINUTE };
        await store.updateOtpChallenge(c.id, approval);
        assert.deepEqual(await store.findOtpChallengeByOtpHash(approval.otpHash), { ...c, ...approval });
        await store.updateOtpChallenge(c.id, { otpHash: null });
        assert.equal(await store.findOtpChallengeByOtpHash(approval.otpHash), undefined);
        await store.updateOtpChallenge(c.id, {});
        assert.equal((await store.findOtpChallenge(c.id))?.method, 'webauthn');
      });

      it('done and OTP hashes are unique', async () => {
        const u = await user();
        const c = challenge(u.id, { otpHash: unique('otp') });
        await store.insertOtpChallenge(c);
        await assert.rejects(store.insertOtpChallenge(challenge(u.id, { doneHash: c.doneHash })), UniqueViolation);
        await assert.rejects(store.insertOtpChallenge(challenge(u.id, { otpHash: c.otpHash })), UniqueViolation);
        // Many challenges without an OTP yet coexist.
        await store.insertOtpChallenge(challenge(u.id));
        await store.insertOtpChallenge(challenge(u.id));
      });

      it('an unknown method in the database is a fault', async () => {
        const u = await user();
        const c = challenge(u.id);
        await store.insertOtpChallenge(c);
        await db.run('UPDATE otp_challenges SET method = ? WHERE id = ?', ['password', c.id]);
        await assert.rejects(store.findOtpChallenge(c.id), /otp_challenges\.method/);
        await db.run('DELETE FROM otp_challenges WHERE id = ?', [c.id]);
      });

      it('deleteExpiredOtpChallenges removes only expired ones', async () => {
        const u = await user();
        const old = challenge(u.id, { expiresAt: NOW - 1 });
        const fresh = challenge(u.id, { expiresAt: NOW + 1 });
        await store.insertOtpChallenge(old);
        await store.insertOtpChallenge(fresh);
        await store.deleteExpiredOtpChallenges(NOW);
        assert.equal(await store.findOtpChallenge(old.id), undefined);
        assert.ok(await store.findOtpChallenge(fresh.id));
      });
    });

    describe('devices and history', () => {
      it('recordDevice is true only the first time a user is seen on a device', async () => {
        const u = await user();
        const other = await user();
        assert.equal(await store.recordDevice(u.id, 'dev-a', NOW), true);
        assert.equal(await store.recordDevice(u.id, 'dev-a', NOW + 1), false);
        assert.equal(await store.recordDevice(u.id, 'dev-a', NOW + 2), false);
        assert.equal(await store.recordDevice(u.id, 'dev-b', NOW), true);
        assert.equal(await store.recordDevice(other.id, 'dev-a', NOW), true, 'devices are per user');
        const row = await db.get<{ first_seen_at: number; last_seen_at: number }>(
          'SELECT first_seen_at, last_seen_at FROM known_devices WHERE user_id = ? AND device_hash = ?', [u.id, 'dev-a']);
        assert.deepEqual({ first: Number(row?.first_seen_at), last: Number(row?.last_seen_at) }, { first: NOW, last: NOW + 2 });
      });

      it('of concurrent first sightings exactly one is new', async () => {
        const u = await user();
        const results = await Promise.all([1, 2, 3].map((i) => store.recordDevice(u.id, 'dev-race', NOW + i)));
        assert.equal(results.filter(Boolean).length, 1);
      });

      it("listUserEvents gives the user's own events, newest first, limited", async () => {
        const u = await user();
        const other = await user();
        const event = (actorId: number | null, at: number, type: string) =>
          store.insertEvent({ at, type, actorId, ecosystem: null, packageName: null, version: null, data: { n: at - NOW } });
        await event(u.id, NOW + 1, 'user.login');
        await event(u.id, NOW + 3, 'user.totp_enabled');
        await event(other.id, NOW + 4, 'user.login');
        await event(null, NOW + 5, 'package.unpublished');
        await event(u.id, NOW + 2, 'user.password_changed');
        await event(u.id, NOW + 3, 'user.recovery_codes_regenerated');
        const all = await store.listUserEvents(u.id, 10);
        assert.deepEqual(all.map((e) => e.type), ['user.recovery_codes_regenerated', 'user.totp_enabled', 'user.password_changed', 'user.login']);
        assert.deepEqual(all[0], {
          id: nth(all, 0).id, at: NOW + 3, type: 'user.recovery_codes_regenerated', actorId: u.id, ecosystem: null, packageName: null, version: null, data: { n: 3 },
          subjectId: null, orgId: null, actorName: u.name, subjectName: null,
        });
        assert.deepEqual((await store.listUserEvents(u.id, 2)).map((e) => e.type), ['user.recovery_codes_regenerated', 'user.totp_enabled']);
        assert.deepEqual(await store.listUserEvents((await user()).id, 10), []);
      });

      it('listUserEvents also gives what others did to the user (subject), once, with both names', async () => {
        const u = await user();
        const other = await user();
        await store.insertEvent({ at: NOW + 10, type: 'owner.added', actorId: other.id, subjectId: u.id, ecosystem: 'npm', packageName: 'pkg', version: null, data: {} });
        await store.insertEvent({ at: NOW + 11, type: 'token.revoked-by-scanner', actorId: null, subjectId: u.id, ecosystem: null, packageName: null, version: null, data: {} });
        await store.insertEvent({ at: NOW + 12, type: 'self.noted', actorId: u.id, subjectId: u.id, ecosystem: null, packageName: null, version: null, data: {} });
        await store.insertEvent({ at: NOW + 13, type: 'owner.added', actorId: other.id, subjectId: other.id, ecosystem: 'npm', packageName: 'pkg', version: null, data: {} });
        const mine = await store.listUserEvents(u.id, 10);
        assert.deepEqual(mine.map((e) => [e.type, e.actorName, e.subjectName]), [
          ['self.noted', u.name, u.name], ['token.revoked-by-scanner', null, u.name], ['owner.added', other.name, u.name],
        ]);
      });

      it('listOrgEvents gives the events of one org: named, or on a package in its scope', async () => {
        const u = await user();
        const org = await store.insertOrg(`org${u.id}`, NOW);
        const otherOrg = await store.insertOrg(`other${u.id}`, NOW);
        const ev = (at: number, type: string, over: { org?: string; packageName?: string }) =>
          store.insertEvent({ at, type, actorId: u.id, ecosystem: over.packageName ? 'npm' : null, packageName: over.packageName ?? null, version: null, data: {}, ...(over.org ? { org: over.org } : {}) });
        await ev(NOW + 1, 'org.created', { org: org.name });
        await ev(NOW + 2, 'release.published', { packageName: `@${org.name}/a` });
        await ev(NOW + 3, 'release.published', { packageName: `@${otherOrg.name}/a` });
        await ev(NOW + 4, 'release.published', { packageName: `@${org.name}x/a` });
        await ev(NOW + 5, 'release.published', { packageName: 'unscoped' });
        const events = await store.listOrgEvents(org.id, 10);
        assert.deepEqual(events.map((e) => [e.type, e.packageName, e.orgId, e.actorName]), [
          ['release.published', `@${org.name}/a`, org.id, u.name], ['org.created', null, org.id, u.name],
        ]);
        assert.equal((await store.listOrgEvents(org.id, 1)).length, 1);
      });

      it('claimTotpStep applies the replay rule in the row: later steps, or the same step by the same credential', async () => {
        const u = await user();
        assert.equal(await store.claimTotpStep(u.id, 100, 'token:a'), true, 'no step used yet');
        assert.equal(await store.claimTotpStep(u.id, 100, 'token:a'), true, 'again by the same credential');
        assert.equal(await store.claimTotpStep(u.id, 100, 'token:b'), false, 'never by another');
        assert.equal(await store.claimTotpStep(u.id, 99, 'token:a'), false, 'an older step');
        assert.equal(await store.claimTotpStep(u.id, 101, ''), true);
        assert.equal(await store.claimTotpStep(u.id, 101, ''), false, 'an empty credential is no one\'s, not even its own');
        const after = await store.findUserById(u.id);
        assert.deepEqual([after?.totpLastStep, after?.totpLastCredential], [101, '']);
      });

      it('audit listings page by position: (time, id) descending, ties on the time broken by id', async () => {
        const u = await user();
        const org = await store.insertOrg(`paged${u.id}`, NOW);
        // Two events share each time, so a cursor on the time alone would skip or repeat one.
        for (let i = 0; i < 7; i++) {
          await store.insertEvent({ at: NOW + 100 + Math.floor(i / 2), type: `org.step${i}`, actorId: u.id, ecosystem: null, packageName: null, version: null, data: {}, org: org.name });
        }
        const all = (await store.listOrgEvents(org.id, 50)).map((e) => e.type);
        assert.deepEqual(all, ['org.step6', 'org.step5', 'org.step4', 'org.step3', 'org.step2', 'org.step1', 'org.step0']);
        for (const list of [(n: number, b?: EventCursor) => store.listOrgEvents(org.id, n, b), (n: number, b?: EventCursor) => store.listUserEvents(u.id, n, b)]) {
          const seen: string[] = [];
          let before: EventCursor | undefined;
          for (;;) {
            const page = await list(3, before);
            seen.push(...page.map((e) => e.type));
            const last = page.at(-1);
            if (page.length < 3 || !last) break;
            before = { at: last.at, id: last.id };
          }
          assert.deepEqual(seen, all);
        }
      });
    });

    describe('tokens and packages', () => {
      it('a token keeps its bypass2fa flag', async () => {
        const u = await user();
        const token = (id: string, bypass2fa: boolean) => ({
          id, userId: u.id, tokenHash: unique('th'), displayPrefix: 'atr_', kind: 'api' as const, name: null, readonly: false, cidrWhitelist: null,
          createdAt: NOW, expiresAt: NOW + 7 * 24 * 60 * MINUTE, lastUsedAt: null, lastUsedIp: null, bypass2fa, scope: null,
        });
        const automation = token(unique('tok'), true);
        const plain = token(unique('tok'), false);
        await store.insertToken(automation);
        await store.insertToken(plain);
        assert.deepEqual(await store.findTokenByHash(automation.tokenHash), automation);
        assert.deepEqual(await store.findTokenByHash(plain.tokenHash), plain);
      });

      it('a package is not critical until marked, and can be unmarked', async () => {
        const p = await store.insertPackage({ ecosystem: 'npm', name: unique('pkg'), createdAt: NOW, modifiedAt: NOW, rev: 0, access: 'public', description: '', keywords: '', latestVersion: null, deletedAt: null });
        assert.equal(p.critical, false);
        await store.updatePackage(p.id, { critical: true });
        assert.equal((await store.findPackage('npm', p.name))?.critical, true);
        await store.updatePackage(p.id, { critical: false });
        assert.equal((await store.findPackage('npm', p.name))?.critical, false);
      });
    });
  });
}
