// Time-bound web credentials with an injected clock, on a real (in-memory SQLite) store: browser
// sessions end after the idle timeout and at the absolute limit whatever the activity, a new id on
// every privilege change strands the old one, the CSRF token is the session's own; and emailed
// links expire, are spent once, and open only the page they were made for.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../../src/core/logger.ts';
import { isAttestryError } from '../../src/core/errors.ts';
import { WebSessions } from '../../src/core/accounts/web-sessions.ts';
import { EMAIL_LINK_TTL_MS, EmailVerification } from '../../src/core/accounts/email-verification.ts';
import { Notifier } from '../../src/core/accounts/notifier.ts';
import { OutboxMailer } from '../../src/mail/outbox-mailer.ts';
import { migrate } from '../../src/storage/metadata/sql/migrations.ts';
import { SqlMetadataStore } from '../../src/storage/metadata/sql/sql-store.ts';
import { SqliteDatabase } from '../../src/storage/metadata/sqlite/sqlite-database.ts';
import type { UserRecord } from '../../src/storage/metadata/store.ts';
import { inspectEmailLink } from '../../src/web/email-links.ts';
import { clearedSessionCookie, parseCookies, sessionCookie } from '../../src/web/cookies.ts';
import { linkIn, readOutbox } from '../support/mail.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const START = Date.UTC(2026, 5, 1, 9);
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, debugEnabled: false };

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isAttestryError(e)) return e.code;
    throw e;
  }
  return assert.fail('expected a refusal');
}

describe('web sessions with a clock', () => {
  let store: SqlMetadataStore;
  let now = START;
  let sessions: WebSessions;
  let seq = 0;
  const user = () => store.insertUser({ name: `u${++seq}`, email: `u${seq}@example.com`, passwordHash: 'h', isAdmin: false, createdAt: START, updatedAt: START });

  before(async () => {
    const db = new SqliteDatabase(':memory:');
    await migrate(db);
    store = new SqlMetadataStore(db);
    sessions = new WebSessions(store, () => now, { idleMs: 120 * MINUTE, absoluteMs: 12 * HOUR });
  });
  after(() => store.close());

  it('resolves a fresh session with its user and data; the store keeps only a hash of the cookie', async () => {
    now = START;
    const u = await user();
    const s = await sessions.create(u.id, '192.0.2.1', 'test-agent', { flash: 'hello' });
    const again = await sessions.resolve(s.cookie);
    assert.equal(again?.user?.id, u.id);
    assert.equal(again?.data.flash, 'hello');
    assert.notEqual(s.record.idHash, s.cookie);
    assert.equal(await store.findWebSession(s.cookie), undefined);
  });

  it('ends a session left idle for the idle timeout, and it stays ended', async () => {
    now = START;
    const s = await sessions.create((await user()).id, null, null);
    now = START + 120 * MINUTE - 1;
    assert.ok(await sessions.resolve(s.cookie), 'alive just before the idle limit');
    now = START + 2 * 120 * MINUTE;
    assert.equal(await sessions.resolve(s.cookie), undefined);
    now = START;
    assert.equal(await sessions.resolve(s.cookie), undefined, 'the expired session was deleted, not just hidden');
  });

  it('slides the idle expiry with activity, but never past the absolute limit', async () => {
    now = START;
    const s = await sessions.create((await user()).id, null, null);
    for (let t = START + 100 * MINUTE; t < START + 12 * HOUR; t += 100 * MINUTE) {
      now = t;
      assert.ok(await sessions.resolve(s.cookie), `alive with activity at +${(t - START) / MINUTE} min`);
    }
    now = START + 12 * HOUR;
    assert.equal(await sessions.resolve(s.cookie), undefined, 'the absolute limit ends it despite the activity');
  });

  it('strands the old id when a session is elevated (login, second factor)', async () => {
    now = START;
    const u = await user();
    const anonymous = await sessions.create(null, null, null, { returnTo: '/-/web/account' });
    const elevated = await sessions.elevate(anonymous, u.id, null, null);
    assert.equal(await sessions.resolve(anonymous.cookie), undefined);
    assert.equal((await sessions.resolve(elevated.cookie))?.user?.id, u.id);
    assert.notEqual(elevated.record.csrfToken, anonymous.record.csrfToken);
    assert.deepEqual(elevated.data, {}, 'nothing from before the login is carried over unless asked');
  });

  it('accepts only the session\'s own CSRF token', async () => {
    now = START;
    const a = await sessions.create(null, null, null);
    const b = await sessions.create(null, null, null);
    assert.equal(sessions.csrfValid(a, a.record.csrfToken), true);
    assert.equal(sessions.csrfValid(a, b.record.csrfToken), false, 'another session\'s token');
    assert.equal(sessions.csrfValid(a, ''), false);
    assert.equal(sessions.csrfValid(a, undefined), false);
    assert.equal(sessions.csrfValid(a, [a.record.csrfToken]), false, 'a repeated header is not a token');
    assert.equal(sessions.csrfValid(a, `${a.record.csrfToken}x`), false);
    assert.equal(sessions.csrfValid(a, a.record.csrfToken.slice(0, -1)), false);
  });

  it('ends every other session of the account, keeping the current one', async () => {
    now = START;
    const u = await user();
    const here = await sessions.create(u.id, null, null);
    const elsewhere = await sessions.create(u.id, null, null);
    const someoneElse = await sessions.create((await user()).id, null, null);
    await sessions.destroyOthers(u.id, here);
    assert.ok(await sessions.resolve(here.cookie));
    assert.equal(await sessions.resolve(elsewhere.cookie), undefined);
    assert.ok(await sessions.resolve(someoneElse.cookie), 'other accounts are untouched');
  });

  it('ignores absent and oversized cookies', async () => {
    assert.equal(await sessions.resolve(undefined), undefined);
    assert.equal(await sessions.resolve(''), undefined);
    assert.equal(await sessions.resolve('x'.repeat(101)), undefined);
  });
});

describe('the session cookie', () => {
  it('is HttpOnly, SameSite=Lax, for the whole site, and Secure only over https', () => {
    assert.equal(sessionCookie('abc_-1', false), 'attestry_session=abc_-1; Path=/; HttpOnly; SameSite=Lax');
    assert.equal(sessionCookie('abc', true), 'attestry_session=abc; Path=/; HttpOnly; SameSite=Lax; Secure');
    assert.match(clearedSessionCookie(true), /^attestry_session=; Path=\/; HttpOnly; SameSite=Lax; Max-Age=0; Secure$/);
  });

  it('refuses to write a value that could inject attributes', () => {
    assert.throws(() => sessionCookie('a; Domain=evil.example', false));
    assert.throws(() => sessionCookie('', false));
  });

  it('is read from a Cookie header; the first of a repeated name wins, junk is skipped', () => {
    const c = parseCookies('junk; a=1; attestry_session="v1"; attestry_session=v2; =x');
    assert.equal(c.get('attestry_session'), 'v1');
    assert.equal(c.get('a'), '1');
    assert.equal(c.size, 2);
    assert.equal(parseCookies(undefined).size, 0);
  });
});

describe('emailed links with a clock', () => {
  let store: SqlMetadataStore;
  let outbox: string;
  let now = START;
  let links: EmailVerification;
  let seq = 0;
  const user = () => store.insertUser({ name: `m${++seq}`, email: `m${seq}@example.com`, passwordHash: 'h', isAdmin: false, createdAt: START, updatedAt: START });
  const secretOf = (u: UserRecord): string => {
    const mail = readOutbox(outbox).filter((m) => m.to === u.email).at(-1) ?? assert.fail(`no mail to ${u.email}`);
    return linkIn(mail, /\/-\/web\/(verify-email|reset-password)\//).split('/').at(-1) as string;
  };

  before(async () => {
    outbox = mkdtempSync(path.join(os.tmpdir(), 'attestry-links-'));
    const db = new SqliteDatabase(':memory:');
    await migrate(db);
    store = new SqlMetadataStore(db);
    const notifier = new Notifier(new OutboxMailer(outbox, 'Attestry <noreply@registry.test>'), silent, 'https://registry.test');
    const resolver = { resolveMx: async () => [{ exchange: 'mx.example.com', priority: 10 }] };
    links = new EmailVerification({ store, notifier, clock: () => now, log: silent, publicUrl: 'https://registry.test', resolver });
  });
  after(async () => {
    await store.close();
    rmSync(outbox, { recursive: true, force: true });
  });

  it('refuses an expired verification link, on the page and when spent, and leaves the address unverified', async () => {
    now = START;
    const u = await user();
    await links.sendVerification(u);
    const secret = secretOf(u);
    now = START + EMAIL_LINK_TTL_MS - 1;
    assert.equal((await inspectEmailLink(store, () => now, secret, ['verify'])).user.id, u.id, 'still good just before the limit');
    now = START + EMAIL_LINK_TTL_MS;
    assert.equal(await refusal(inspectEmailLink(store, () => now, secret, ['verify'])), 'EMAIL_LINK_EXPIRED');
    assert.equal(await refusal(links.consume(secret, 'verify')), 'EMAIL_LINK_EXPIRED');
    assert.equal((await store.findUserById(u.id))?.emailVerifiedAt, null);
  });

  it('shows a link without spending it, then refuses it once spent', async () => {
    now = START;
    const u = await user();
    await links.sendVerification(u);
    const secret = secretOf(u);
    await inspectEmailLink(store, () => now, secret, ['verify', 'change']);
    await inspectEmailLink(store, () => now, secret, ['verify', 'change']);
    const used = await links.consume(secret, 'verify');
    assert.equal(used.user.emailVerifiedAt, now);
    assert.equal(await refusal(inspectEmailLink(store, () => now, secret, ['verify', 'change'])), 'EMAIL_LINK_USED');
    assert.equal(await refusal(links.consume(secret, 'verify')), 'EMAIL_LINK_USED');
  });

  it('opens only the page a link was made for, and nothing for made-up secrets', async () => {
    now = START;
    const u = await user();
    await links.sendVerification(u);
    const secret = secretOf(u);
    assert.equal(await refusal(inspectEmailLink(store, () => now, secret, ['recover'])), 'EMAIL_LINK_INVALID');
    assert.equal(await refusal(inspectEmailLink(store, () => now, 'A'.repeat(43), ['verify'])), 'EMAIL_LINK_INVALID');
    assert.equal(await refusal(inspectEmailLink(store, () => now, 'A'.repeat(201), ['verify'])), 'EMAIL_LINK_INVALID');
    // Inspecting never spends: the right page still works.
    assert.equal((await inspectEmailLink(store, () => now, secret, ['verify'])).purpose, 'verify');
  });

  it('expires a recovery link after an hour', async () => {
    now = START;
    const u = await user();
    await store.updateUser(u.id, { emailVerifiedAt: START });
    await links.requestRecovery(u.email);
    const secret = secretOf(u);
    assert.equal((await inspectEmailLink(store, () => now, secret, ['recover'])).purpose, 'recover');
    now = START + HOUR;
    assert.equal(await refusal(inspectEmailLink(store, () => now, secret, ['recover'])), 'EMAIL_LINK_EXPIRED');
    assert.equal(await refusal(links.consume(secret, 'recover')), 'EMAIL_LINK_EXPIRED');
  });
});
