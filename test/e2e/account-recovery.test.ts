// Recovering a forgotten password end to end (docs/account-recovery.md), over plain HTTP with a
// cookie jar, against a registry whose abandoned-mail-domain check asks a DNS server of this test
// (ATTESTRY_DNS_SERVERS) instead of the network: example.test has an MX record, implicit.test only
// an A record, and gone.test does not exist (NXDOMAIN). The recovery link arrives in the outbox,
// sets a new password together with a second factor, works once, and is mailed only to verified
// addresses at domains that still receive mail; the answer page never tells which case it was.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { totpCode } from '../../src/security/mfa/totp.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { linkIn, readOutbox, waitForMail } from '../support/mail.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { WebClient, type WebAnswer } from '../support/web-client.ts';

const PASSWORD = 'an entirely fresh passphrase';
const NEW_PASSWORD = 'a recovered and different passphrase';
const RECOVERY_TEMPLATE = 'account-recovery';

describe('account recovery by email', () => {
  let dns: TestDnsServer;
  let registry: TestRegistry;
  let outbox: string;
  let url: string;
  let seq = 0;

  before(async () => {
    dns = await startDnsServer({
      mx: { 'example.test': ['mail.example.test'] },
      a: { 'mail.example.test': ['192.0.2.25'], 'implicit.test': ['192.0.2.26'] },
    });
    outbox = mkdtempSync(path.join(os.tmpdir(), 'attestry-outbox-'));
    registry = await startRegistry({
      env: { ATTESTRY_REQUIRE_VERIFIED_EMAIL: 'true', ATTESTRY_REQUIRE_MFA: 'true', ATTESTRY_MAIL_OUTBOX: outbox, ATTESTRY_DNS_SERVERS: dns.address },
    });
    url = registry.url;
  });

  after(async () => {
    await registry?.destroy();
    await dns?.close();
    rmSync(outbox, { recursive: true, force: true });
  });

  const recoveryMailsTo = (email: string) => readOutbox(outbox).filter((m) => m.template === RECOVERY_TEMPLATE && m.to === email);

  /** A new account at `domain`, logged in (the sign-up logs in), its address verified unless told otherwise. */
  async function signUp(prefix: string, domain: string, options: { verify?: boolean } = {}): Promise<{ client: WebClient; name: string; email: string }> {
    const name = `${prefix}${++seq}`;
    const email = `${name}@${domain}`;
    const client = new WebClient(url);
    await client.get('/-/web/signup');
    const r = await client.post('/-/web/signup', { name, email, password: PASSWORD });
    assert.equal(r.status, 303, `sign-up of ${name}: ${r.code}`);
    if (options.verify !== false) await verify(client, email);
    return { client, name, email };
  }

  async function verify(client: WebClient, email: string): Promise<void> {
    const link = linkIn(await waitForMail(outbox, (m) => m.template === 'verify-email' && m.to === email), /verify-email/);
    await client.get(new URL(link).pathname);
    const verified = await client.post('/-/web/verify-email', { secret: link.split('/').at(-1) as string });
    assert.equal(verified.status, 200, `verifying ${email}: ${verified.code}`);
  }

  /** A verified account with an authenticator app enrolled through the pages; returns its key and recovery codes. */
  async function withAuthenticator(prefix: string, domain: string) {
    const account = await signUp(prefix, domain);
    const { client } = account;
    await client.get('/-/web/account');
    assert.equal((await client.post('/-/web/account/totp/start', {})).location, '/-/web/account/totp');
    const setup = await client.get('/-/web/account/totp');
    const secret = /data-secret="([A-Z2-7]+)"/.exec(setup.html)?.[1] ?? assert.fail('no key on the set-up page');
    const confirmed = await client.post('/-/web/account/totp/confirm', { code: totpCode(secret, Date.now()) });
    assert.equal(confirmed.status, 200);
    const codes = [...confirmed.html.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1] as string);
    assert.equal(codes.length, 10);
    return { ...account, secret, codes };
  }

  /** Asks for a recovery link as someone who is not logged in. */
  async function askForReset(email: string): Promise<WebAnswer> {
    const anonymous = new WebClient(url);
    assert.equal((await anonymous.get('/-/web/forgot-password')).status, 200);
    return anonymous.post('/-/web/forgot-password', { email });
  }

  /** The password step of the login: to the second factor (or the account) when the password is right. */
  async function logIn(name: string, password: string): Promise<{ client: WebClient; answer: WebAnswer }> {
    const client = new WebClient(url);
    await client.get('/-/web/login');
    return { client, answer: await client.post('/-/web/login', { name, password }) };
  }

  /** The step after the one now: unused by the enrolment, which used the current one. */
  const nextCode = (secret: string) => totpCode(secret, Date.now() + 30_000);

  it('resets the password of a verified account with an authenticator app: mailed link, new password and a TOTP code', async () => {
    const { client: laptop, name, email, secret, codes } = await withAuthenticator('reset', 'example.test');
    const asked = dns.queries.length;
    const sent = await askForReset(email);
    assert.equal(sent.status, 200);
    assert.match(sent.html, /id="recovery-sent"/);
    assert.ok(dns.queries.slice(asked).includes('MX example.test'), `the domain was checked: ${dns.queries.slice(asked).join(', ')}`);
    const mail = await waitForMail(outbox, (m) => m.template === RECOVERY_TEMPLATE && m.to === email);
    const link = linkIn(mail, /\/-\/web\/reset-password\//);
    assert.ok(link.startsWith(`${url}/-/web/reset-password/`), link);
    const linkPath = new URL(link).pathname;
    const linkSecret = linkPath.split('/').at(-1) as string;

    const browser = new WebClient(url);
    const form = await browser.get(linkPath);
    assert.equal(form.status, 200);
    assert.match(form.html, /name="password"/);
    assert.match(form.html, /name="code"/, 'the form asks for the second factor');

    // Refusals before the link is spent: each keeps the link and the old password.
    const right = nextCode(secret);
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    for (const [fields, status, code] of [
      [{ password: NEW_PASSWORD }, 400, 'SECOND_FACTOR_REQUIRED'],
      [{ password: NEW_PASSWORD, code: wrong }, 401, 'OTP_INVALID'],
      [{ password: 'short', code: right }, 400, 'INVALID_PASSWORD'],
    ] as const) {
      const r = await browser.post('/-/web/reset-password', { secret: linkSecret, ...fields });
      assert.deepEqual([r.status, r.code], [status, code], JSON.stringify(fields));
    }
    assert.equal((await browser.get(linkPath)).status, 200, 'the refusals did not spend the link');
    assert.equal((await laptop.get('/-/web/account')).status, 200, 'nor end the account\'s sessions');

    const reset = await browser.post('/-/web/reset-password', { secret: linkSecret, password: NEW_PASSWORD, code: right });
    assert.deepEqual([reset.status, reset.location], [303, '/-/web/login']);
    assert.match((await browser.get('/-/web/login')).html, /Your password was changed/);
    assert.equal((await laptop.get('/-/web/account')).status, 303, 'every session of the account ended');
    const notice = await waitForMail(outbox, (m) => m.template === 'password-changed' && m.to === email);
    assert.equal(notice.to, email);

    const old = await logIn(name, PASSWORD);
    assert.deepEqual([old.answer.status, old.answer.code], [401, 'BAD_CREDENTIALS'], 'the old password no longer works');
    const fresh = await logIn(name, NEW_PASSWORD);
    assert.equal(fresh.answer.location, '/-/web/second-factor', 'the new password works, and the second factor is still asked');
    await fresh.client.get('/-/web/second-factor');
    assert.equal((await fresh.client.post('/-/web/second-factor', { method: 'recovery', code: codes[0] as string })).location, '/-/web/account');
    const account = await fresh.client.get('/-/web/account');
    assert.equal(account.status, 200);
    assert.match((await fresh.client.get('/-/web/account/security')).html, /data-event="account.password-reset"/);

    // The link works once.
    const again = await new WebClient(url).get(linkPath);
    assert.deepEqual([again.status, again.code], [403, 'EMAIL_LINK_USED']);
    const replay = new WebClient(url);
    await replay.get('/-/web/forgot-password');
    const reused = await replay.post('/-/web/reset-password', { secret: linkSecret, password: 'a third passphrase, never set', code: codes[1] as string });
    assert.deepEqual([reused.status, reused.code], [403, 'EMAIL_LINK_USED']);
    assert.deepEqual((await logIn(name, 'a third passphrase, never set')).answer.code, 'BAD_CREDENTIALS', 'the second use changed nothing');
    assert.equal((await logIn(name, NEW_PASSWORD)).answer.location, '/-/web/second-factor');
    assert.equal(recoveryMailsTo(email).length, 1);
    assert.ok(!registry.logs.some((l) => l.includes(linkSecret)), 'the link\'s secret is not in the logs');
  });

  it('resets the password of an account without a second factor with the password alone; an A record is enough of a mail host', async () => {
    const { name, email } = await signUp('plain', 'implicit.test');
    const asked = dns.queries.length;
    // Addresses are compared without regard to case; the link goes to the address on record.
    assert.equal((await askForReset(email.toUpperCase())).status, 200);
    assert.deepEqual(dns.queries.slice(asked).filter((q) => q.startsWith('MX ') || q.startsWith('A ')), ['MX implicit.test', 'A implicit.test']);
    const link = linkIn(await waitForMail(outbox, (m) => m.template === RECOVERY_TEMPLATE && m.to === email), /\/-\/web\/reset-password\//);
    const linkPath = new URL(link).pathname;
    const browser = new WebClient(url);
    const form = await browser.get(linkPath);
    assert.equal(form.status, 200);
    assert.doesNotMatch(form.html, /name="code"/, 'no second factor to ask for');
    const reset = await browser.post('/-/web/reset-password', { secret: linkPath.split('/').at(-1) as string, password: NEW_PASSWORD });
    assert.deepEqual([reset.status, reset.location], [303, '/-/web/login']);
    await waitForMail(outbox, (m) => m.template === 'password-changed' && m.to === email);
    assert.equal((await logIn(name, PASSWORD)).answer.code, 'BAD_CREDENTIALS');
    assert.equal((await logIn(name, NEW_PASSWORD)).answer.location, '/-/web/account');
  });

  it('mails nothing to a verified address whose domain does not exist, and records the refusal', async () => {
    const { client, name, email } = await signUp('gone', 'gone.test');
    const asked = dns.queries.length;
    const r = await askForReset(email);
    assert.equal(r.status, 200);
    assert.match(r.html, /id="recovery-sent"/);
    assert.ok(dns.queries.slice(asked).includes('MX gone.test'), `the domain was checked: ${dns.queries.slice(asked).join(', ')}`);
    // The mail would have been written before the answer: nothing can still be on its way.
    assert.deepEqual(recoveryMailsTo(email), []);
    assert.match((await client.get('/-/web/account/security')).html, /data-event="account.recovery-refused"/, `${name}'s history shows the refusal`);
    assert.ok(registry.records().some((rec) => rec.level === 'warn' && String(rec.msg).startsWith('account recovery refused') && rec.user === name), 'the refusal is logged');
    assert.equal((await logIn(name, PASSWORD)).answer.location, '/-/web/account', 'the password is unchanged');
  });

  it('mails nothing to an address that is not verified, until it is', async () => {
    const { client, email } = await signUp('unverified', 'example.test', { verify: false });
    assert.equal((await askForReset(email)).status, 200);
    assert.deepEqual(recoveryMailsTo(email), []);
    assert.doesNotMatch((await client.get('/-/web/account/security')).html, /data-event="account.recovery-refused"/, 'not an abandoned domain: nothing to record');
    // Control: the same address, once verified, gets its link.
    await verify(client, email);
    await askForReset(email);
    assert.equal(recoveryMailsTo(email).length, 1);
  });

  it('answers the same page whatever the address: mailed, abandoned domain, unverified, unknown or malformed', async () => {
    const cases = {
      mailed: (await signUp('same', 'example.test')).email,
      abandoned: (await signUp('same', 'gone.test')).email,
      unverified: (await signUp('same', 'example.test', { verify: false })).email,
      unknown: `nobody-${++seq}@example.test`,
      malformed: 'not an address',
    };
    const pages: Record<string, { status: number; type: string | null; headers: string; html: string }> = {};
    for (const [label, email] of Object.entries(cases)) {
      const r = await askForReset(email);
      assert.match(r.html, /id="recovery-sent"/, label);
      pages[label] = {
        status: r.status,
        type: r.headers.get('content-type'),
        headers: [...r.headers.keys()].filter((k) => k !== 'date' && k !== 'content-length').sort().join(),
        // The page repeats the address it was given; everything else must be the same.
        html: r.html.split(email).join('ADDRESS'),
      };
    }
    assert.equal(recoveryMailsTo(cases.mailed).length, 1, 'control: one of them was mailed');
    for (const [label, page] of Object.entries(pages)) assert.deepEqual(page, pages.mailed, label);
  });
});
