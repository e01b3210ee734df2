// EmailVerification against a real (in-memory SQLite) store with the clock and the DNS resolver in
// the test's hands: single-use links that expire, email changes that take effect only from the new
// address (and tell both), and recovery refused for unverified addresses and abandoned domains
// (AUTHN-1.1, 1.2, 2.1; docs/account-recovery.md). Mail goes to a capturing Mailer (the port).
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { EMAIL_LINK_TTL_MS, EmailVerification, RECOVERY_LINK_TTL_MS, type EmailPurpose } from '../../src/core/accounts/email-verification.ts';
import { Notifier } from '../../src/core/accounts/notifier.ts';
import { isAttestryError, type ErrorKind } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { MailMessage, Mailer } from '../../src/mail/mailer.ts';
import type { MailResolver } from '../../src/security/email/mail-domain.ts';
import { hashToken } from '../../src/security/tokens/token-format.ts';
import { migrate } from '../../src/storage/metadata/sql/migrations.ts';
import { SqlMetadataStore } from '../../src/storage/metadata/sql/sql-store.ts';
import { SqliteDatabase } from '../../src/storage/metadata/sqlite/sqlite-database.ts';
import type { UserRecord } from '../../src/storage/metadata/store.ts';

const PUBLIC_URL = 'https://registry.test';
const LINK = /https:\/\/registry\.test\/-\/web\/(verify-email|reset-password)\/([A-Za-z0-9_-]+)/;

class CapturingMailer implements Mailer {
  readonly sent: MailMessage[] = [];
  async send(message: MailMessage): Promise<{ messageId: string }> {
    this.sent.push(message);
    return { messageId: `<${this.sent.length}@test>` };
  }
}

interface LogLine {
  level: string;
  msg: string;
  fields: Record<string, unknown> | undefined;
}

type Answer<T> = T | { error: string };
interface Zone {
  mx?: Answer<Array<{ exchange: string; priority: number }>>;
  a?: Answer<string[]>;
  aaaa?: Answer<string[]>;
}

/** DNS as the tests declare it; a name not declared does not exist (NXDOMAIN). */
class FakeResolver implements MailResolver {
  readonly asked: string[] = [];
  private readonly zones: Record<string, Zone>;
  constructor(zones: Record<string, Zone>) {
    this.zones = zones;
  }
  private answer<T>(domain: string, pick: (z: Zone) => Answer<T> | undefined): Promise<T> {
    this.asked.push(domain);
    const zone = this.zones[domain];
    const a = zone === undefined ? { error: 'ENOTFOUND' } : (pick(zone) ?? { error: 'ENODATA' });
    if (typeof a === 'object' && a !== null && 'error' in a) return Promise.reject(Object.assign(new Error(a.error), { code: a.error }));
    return Promise.resolve(a);
  }
  resolveMx(d: string) {
    return this.answer(d, (z) => z.mx);
  }
  resolve4(d: string) {
    return this.answer(d, (z) => z.a);
  }
  resolve6(d: string) {
    return this.answer(d, (z) => z.aaaa);
  }
}

let now: number;
let db: SqliteDatabase;
let store: SqlMetadataStore;
let mailer: CapturingMailer;
let logs: LogLine[];
let resolver: FakeResolver;
let ev: EmailVerification;

const logger = (): Logger => {
  const line = (level: string) => (msg: string, fields?: Record<string, unknown>) => void logs.push({ level, msg, fields });
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error'), debugEnabled: false };
};

async function refused(p: Promise<unknown>, code: string, kind: ErrorKind): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isAttestryError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.kind, kind);
    return true;
  });
}

let seq = 0;
async function user(over: { email?: string; verified?: boolean } = {}): Promise<UserRecord> {
  const name = `user${++seq}`;
  return store.insertUser({
    name, email: over.email ?? `${name}@example.com`, passwordHash: 'x', isAdmin: false, createdAt: now, updatedAt: now, emailVerifiedAt: over.verified === false ? null : now,
  });
}
const fresh = async (u: UserRecord): Promise<UserRecord> => (await store.findUserById(u.id)) ?? assert.fail('user vanished');
const eventsOf = async (u: UserRecord) => (await store.listUserEvents(u.id, 100)).reverse();

/** The one-time secret in the last mail to `to`, and which page it opens. */
function linkTo(to: string): { page: string; secret: string; mail: MailMessage } {
  const mail = mailer.sent.filter((m) => m.to === to).at(-1) ?? assert.fail(`no mail to ${to}`);
  const m = LINK.exec(mail.text) ?? assert.fail(`no link in ${mail.text}`);
  return { page: m[1] as string, secret: m[2] as string, mail };
}

beforeEach(async () => {
  now = Date.UTC(2026, 5, 1, 12);
  db = new SqliteDatabase(':memory:');
  await migrate(db);
  store = new SqlMetadataStore(db);
  mailer = new CapturingMailer();
  logs = [];
  resolver = new FakeResolver({
    'example.com': { mx: [{ exchange: 'mx.example.com', priority: 10 }] },
    'example.org': { mx: [{ exchange: 'mx.example.org', priority: 10 }] },
    'implicit.test': { mx: { error: 'ENODATA' }, a: ['192.0.2.25'] },
    'null-mx.test': { mx: [{ exchange: '', priority: 0 }] },
    'no-host.test': { mx: { error: 'ENODATA' }, a: { error: 'ENODATA' }, aaaa: { error: 'ENODATA' } },
    'timeout.test': { mx: { error: 'ETIMEOUT' } },
    'servfail.test': { mx: { error: 'ESERVFAIL' } },
  });
  const log = logger();
  ev = new EmailVerification({ store, notifier: new Notifier(mailer, log, PUBLIC_URL), clock: () => now, log, publicUrl: PUBLIC_URL, resolver });
});

describe('EmailVerification: verification links', () => {
  it("sign-up: a link to the account's address, valid 24 hours; the store keeps only its hash", async () => {
    const u = await user({ verified: false });
    await ev.sendVerification(u);
    assert.equal(mailer.sent.length, 1);
    const { page, secret, mail } = linkTo(u.email);
    assert.equal(mail.template, 'verify-email');
    assert.equal(page, 'verify-email');
    assert.ok(secret.length >= 43, 'at least 256 bits');
    assert.match(mail.text, /24 hours/);
    const rows = await db.all<{ token_hash: string; expires_at: number; purpose: string }>('SELECT token_hash, expires_at, purpose FROM email_tokens');
    assert.deepEqual(rows.map((r) => ({ ...r, expires_at: Number(r.expires_at) })), [{ token_hash: hashToken(secret), expires_at: now + EMAIL_LINK_TTL_MS, purpose: 'verify' }]);
  });

  it('following it verifies the address, records an event, and works once (EMAIL_LINK_USED)', async () => {
    const u = await user({ verified: false });
    await ev.sendVerification(u);
    const { secret } = linkTo(u.email);
    now += 60_000;
    const result = await ev.consume(secret);
    assert.equal(result.purpose, 'verify');
    assert.equal(result.email, u.email);
    assert.equal(result.user.emailVerifiedAt, now);
    assert.equal((await fresh(u)).emailVerifiedAt, now);
    assert.deepEqual((await eventsOf(u)).map((e) => e.type), ['account.email-verified']);
    await refused(ev.consume(secret), 'EMAIL_LINK_USED', 'forbidden');
    // Used stays used, also once it would have expired.
    now += EMAIL_LINK_TTL_MS;
    await refused(ev.consume(secret), 'EMAIL_LINK_USED', 'forbidden');
  });

  it('an expired link is refused (EMAIL_LINK_EXPIRED) and verifies nothing; a millisecond earlier it works', async () => {
    const early = await user({ verified: false });
    const late = await user({ verified: false });
    await ev.sendVerification(early);
    await ev.sendVerification(late);
    const a = linkTo(early.email).secret;
    const b = linkTo(late.email).secret;
    now += EMAIL_LINK_TTL_MS - 1;
    await ev.consume(a);
    now += 1;
    await refused(ev.consume(b), 'EMAIL_LINK_EXPIRED', 'forbidden');
    assert.equal((await fresh(late)).emailVerifiedAt, null);
    assert.notEqual((await fresh(early)).emailVerifiedAt, null);
  });

  it('unknown, malformed and overlong links are EMAIL_LINK_INVALID', async () => {
    for (const bad of ['', 'nope', 'A'.repeat(43), 'A'.repeat(201), 42 as unknown as string]) {
      await refused(ev.consume(bad), 'EMAIL_LINK_INVALID', 'not_found');
    }
  });

  it('a link offered for another purpose is invalid, and stays usable for its own', async () => {
    const u = await user({ verified: false });
    await ev.sendVerification(u);
    const { secret } = linkTo(u.email);
    for (const other of ['recover', 'change'] as EmailPurpose[]) await refused(ev.consume(secret, other), 'EMAIL_LINK_INVALID', 'not_found');
    assert.equal((await ev.consume(secret, 'verify')).purpose, 'verify');
  });

  it('a link for an address the account no longer has verifies nothing', async () => {
    const u = await user({ verified: false });
    await ev.sendVerification(u);
    const { secret } = linkTo(u.email);
    await store.updateUser(u.id, { email: 'someone-else@example.org' });
    await ev.consume(secret);
    assert.equal((await fresh(u)).emailVerifiedAt, null);
  });
});

describe('EmailVerification: changing the address', () => {
  it('the link goes to the new address; the old one stays until it is followed; then both are told', async () => {
    const u = await user({ verified: false });
    await ev.requestEmailChange(u, 'new@example.org');
    assert.deepEqual(mailer.sent.map((m) => m.to), ['new@example.org']);
    assert.equal((await fresh(u)).email, u.email);
    const { secret } = linkTo('new@example.org');
    now += 60_000;
    const result = await ev.consume(secret);
    assert.equal(result.purpose, 'change');
    const after = await fresh(u);
    assert.equal(after.email, 'new@example.org');
    assert.equal(after.emailVerifiedAt, now, 'following the link proved the new address');
    assert.ok((await eventsOf(u)).some((e) => e.type === 'account.email-changed'));
    const notices = mailer.sent.filter((m) => m.template === 'email-changed');
    assert.deepEqual(notices.map((m) => m.to).sort(), [u.email, 'new@example.org'].sort());
    await refused(ev.consume(secret), 'EMAIL_LINK_USED', 'forbidden');
  });

  it('an expired change link is refused and the address stays as it was', async () => {
    const u = await user();
    await ev.requestEmailChange(u, 'new@example.org');
    const { secret } = linkTo('new@example.org');
    now += EMAIL_LINK_TTL_MS;
    await refused(ev.consume(secret), 'EMAIL_LINK_EXPIRED', 'forbidden');
    const after = await fresh(u);
    assert.equal(after.email, u.email);
    assert.equal(mailer.sent.filter((m) => m.template === 'email-changed').length, 0);
  });
});

describe('EmailVerification: recovery by email', () => {
  it('a verified address whose domain receives mail gets a reset link, valid one hour, usable once', async () => {
    const u = await user();
    await ev.requestRecovery(u.email.toUpperCase());
    const { page, secret } = linkTo(u.email);
    assert.equal(page, 'reset-password');
    assert.equal((await ev.consume(secret, 'recover')).purpose, 'recover');
    await refused(ev.consume(secret, 'recover'), 'EMAIL_LINK_USED', 'forbidden');

    await ev.requestRecovery(u.email);
    const second = linkTo(u.email).secret;
    now += RECOVERY_LINK_TTL_MS;
    await refused(ev.consume(second, 'recover'), 'EMAIL_LINK_EXPIRED', 'forbidden');
  });

  it('the recovery mail is a recovery mail, not a verification mail', async () => {
    const u = await user();
    await ev.requestRecovery(u.email);
    assert.equal(linkTo(u.email).mail.template, 'account-recovery');
  });

  it('a domain without MX records but with an address still receives mail (implicit MX)', async () => {
    const u = await user({ email: 'carol@implicit.test' });
    await ev.requestRecovery(u.email);
    assert.equal(linkTo(u.email).page, 'reset-password');
  });

  const abandoned: Array<[string, string]> = [['gone.test', 'no longer exists'], ['null-mx.test', 'publishes a null MX'], ['no-host.test', 'has neither MX nor address']];
  for (const [domain, why] of abandoned) {
    it(`refused for an abandoned domain (one that ${why}): no mail, an event, a log line without the address`, async () => {
      const u = await user({ email: `dave@${domain}` });
      await ev.requestRecovery(u.email);
      assert.deepEqual(mailer.sent, []);
      const events = await eventsOf(u);
      assert.deepEqual(events.map((e) => [e.type, e.data]), [['account.recovery-refused', { reason: 'abandoned-domain' }]]);
      const warned = logs.filter((l) => l.level === 'warn');
      assert.equal(warned.length, 1);
      assert.ok(!JSON.stringify(warned).includes(u.email));
      assert.ok(resolver.asked.includes(domain));
    });
  }

  it('a DNS failure that proves nothing (timeout, SERVFAIL) does not count as abandoned', async () => {
    for (const domain of ['timeout.test', 'servfail.test']) {
      const u = await user({ email: `erin@${domain}` });
      await ev.requestRecovery(u.email);
      assert.equal(linkTo(u.email).page, 'reset-password', domain);
    }
  });

  it('refused for an unverified address: no mail, no link, and DNS is not even asked', async () => {
    const u = await user({ verified: false });
    await ev.requestRecovery(u.email);
    assert.deepEqual(mailer.sent, []);
    assert.deepEqual(resolver.asked, []);
    const rows = await db.all<{ purpose: string }>('SELECT purpose FROM email_tokens');
    assert.deepEqual(rows, []);
  });

  it('an address no account uses gets the same answer and no mail', async () => {
    await ev.requestRecovery('nobody@example.com');
    assert.deepEqual(mailer.sent, []);
  });

  it('a recovery link proves nothing else: it neither verifies an address nor changes one', async () => {
    const u = await user();
    await ev.requestRecovery(u.email);
    const { secret } = linkTo(u.email);
    await refused(ev.consume(secret, 'verify'), 'EMAIL_LINK_INVALID', 'not_found');
    await refused(ev.consume(secret, 'change'), 'EMAIL_LINK_INVALID', 'not_found');
    assert.equal((await fresh(u)).email, u.email);
  });
});
