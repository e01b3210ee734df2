// What the account pages refuse, over plain HTTP with a cookie jar (a browser adds nothing to a
// refusal): leaked, taken and invalid sign-ups; POSTs without the session's CSRF token; ended
// sessions; a verification link used twice; a TOTP code reused at the second step; a recovery code
// used twice; a brute-force run of TOTP codes stopped and then locked out; the npm CLI's web login
// without the second factor; a returnTo that tries to approve someone's CLI login; another
// account's web-OTP request; recovery mail to a domain that no longer receives mail.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { totpCode } from '../../src/security/mfa/totp.ts';
import { linkIn, readOutbox, waitForMail } from '../support/mail.ts';
import { publishBody, putPublish, request } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { freePort, WebClient } from '../support/web-client.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';

const LEAKED = 'correct horse battery staple';

const GOOD_PASSWORD = 'an entirely fresh passphrase';

describe('account pages: refusals', () => {
  let registry: TestRegistry;
  let outbox: string;
  let leakedDir: string;
  let url: string;
  let seq = 0;
  let dns: TestDnsServer;

  before(async () => {
    outbox = mkdtempSync(path.join(os.tmpdir(), 'attestry-outbox-'));
    leakedDir = mkdtempSync(path.join(os.tmpdir(), 'attestry-leaked-'));
    mkdirSync(leakedDir, { recursive: true });
    const sha1 = createHash('sha1').update(LEAKED).digest('hex').toUpperCase();
    writeFileSync(path.join(leakedDir, `${sha1.slice(0, 5)}.txt`), `${sha1.slice(5)}:42\r\n`);
    const port = await freePort();
    // Every mail domain is abandoned here (NXDOMAIN from a local server): deterministic, and no query leaves the machine.
    dns = await startDnsServer({});
    registry = await startRegistry({
      env: {
        ATTESTRY_HOST: '127.0.0.1', ATTESTRY_PORT: String(port), ATTESTRY_PUBLIC_URL: `http://localhost:${port}`,
        ATTESTRY_REQUIRE_VERIFIED_EMAIL: 'true', ATTESTRY_REQUIRE_MFA: 'true', ATTESTRY_MAIL_OUTBOX: outbox,
        ATTESTRY_LEAKED_PASSWORD_RANGE_DIR: leakedDir, ATTESTRY_DNS_SERVERS: dns.address,
      },
    });
    url = registry.url;
  });

  after(async () => {
    await registry?.destroy();
    await dns?.close();
    rmSync(outbox, { recursive: true, force: true });
    rmSync(leakedDir, { recursive: true, force: true });
  });

  /** A new, logged-in account (the sign-up logs in). */
  async function signUp(prefix: string): Promise<{ client: WebClient; name: string; email: string }> {
    const name = `${prefix}${++seq}`;
    const email = `${name}@example.com`;
    const client = new WebClient(url);
    await client.get('/-/web/signup');
    const r = await client.post('/-/web/signup', { name, email, password: GOOD_PASSWORD });
    assert.equal(r.status, 303, `sign-up of ${name}: ${r.code}`);
    await client.get('/-/web/account');
    return { client, name, email };
  }

  /** An account with a verified address and an authenticator app; returns the key and the recovery codes. */
  async function enrolled(prefix: string) {
    const account = await signUp(prefix);
    const { client } = account;
    const link = linkIn(await waitForMail(outbox, (m) => m.template === 'verify-email' && m.to === account.email), /verify-email/);
    await client.get(new URL(link).pathname);
    assert.equal((await client.post('/-/web/verify-email', { secret: link.split('/').at(-1) as string })).status, 200);
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

  /** Logs out, then gives the password: the second step is next. */
  async function passwordStep(client: WebClient, name: string, extra: Record<string, string> = {}): Promise<void> {
    await client.get('/-/web/account');
    await client.post('/-/web/logout', {});
    await client.get('/-/web/login');
    const r = await client.post('/-/web/login', { name, password: GOOD_PASSWORD, ...extra });
    assert.equal(r.location, '/-/web/second-factor');
    assert.equal((await client.get('/-/web/second-factor')).status, 200);
  }

  /** The step after the one now: unused by the enrolment (which used the current one). */
  const nextCode = (secret: string) => totpCode(secret, Date.now() + 30_000);

  it('refuses sign-up with a leaked password, a taken name and invalid fields, creating nothing', async () => {
    const client = new WebClient(url);
    await client.get('/-/web/signup');
    const name = `leak${++seq}`;
    const leaked = await client.post('/-/web/signup', { name, email: `${name}@example.com`, password: LEAKED });
    assert.equal(leaked.status, 400);
    assert.equal(leaked.code, 'PASSWORD_LEAKED');
    assert.match(leaked.html, new RegExp(`value="${name}"`), 'the form keeps what was typed (but not the password)');
    assert.doesNotMatch(leaked.html, new RegExp(LEAKED));
    for (const [fields, status, code] of [
      [{ name: 'Not Valid', email: 'x@example.com', password: GOOD_PASSWORD }, 400, 'INVALID_USERNAME'],
      [{ name: `ok${++seq}`, email: 'not-an-address', password: GOOD_PASSWORD }, 400, 'INVALID_EMAIL'],
      [{ name: `ok${++seq}`, email: 'x@example.com', password: 'short' }, 400, 'INVALID_PASSWORD'],
    ] as const) {
      const r = await client.post('/-/web/signup', fields);
      assert.deepEqual([r.status, r.code], [status, code]);
    }
    // The leaked attempt created nothing: the name is still free.
    assert.equal((await client.post('/-/web/signup', { name, email: `${name}@example.com`, password: GOOD_PASSWORD })).status, 303);
    const other = new WebClient(url);
    await other.get('/-/web/signup');
    const taken = await other.post('/-/web/signup', { name, email: 'someone@example.com', password: GOOD_PASSWORD });
    assert.deepEqual([taken.status, taken.code], [409, 'USERNAME_TAKEN']);
  });

  it('refuses every POST without the session\'s own CSRF token, and keeps the session', async () => {
    const { client } = await signUp('csrf');
    const stranger = new WebClient(url);
    await stranger.get('/-/web/login');
    for (const csrf of [null, '', 'forged', stranger.csrf]) {
      const r = await client.post('/-/web/logout', {}, csrf);
      assert.deepEqual([r.status, r.code], [403, 'CSRF_TOKEN_INVALID'], `token ${String(csrf)}`);
    }
    const change = await client.post('/-/web/account/password', { oldPassword: GOOD_PASSWORD, newPassword: 'whatever-new-passphrase' }, null);
    assert.deepEqual([change.status, change.code], [403, 'CSRF_TOKEN_INVALID']);
    const json = await client.postJson('/-/web/passkeys/register/options', {}, null);
    assert.deepEqual([json.status, json.code], [403, 'CSRF_TOKEN_INVALID']);
    const forged = await client.postJson('/-/web/passkeys/register/options', {}, stranger.csrf);
    assert.deepEqual([forged.status, forged.code], [403, 'CSRF_TOKEN_INVALID']);
    // A cross-site form can send text/plain without a preflight; the pages accept only real forms and JSON.
    const plain = await fetch(`${url}/-/web/logout`, { method: 'POST', redirect: 'manual', headers: { cookie: `attestry_session=${client.cookie}`, 'content-type': 'text/plain' }, body: `_csrf=${client.csrf}` });
    assert.equal(plain.status, 400);
    assert.equal((await client.get('/-/web/account')).status, 200, 'still logged in after the refusals');
    assert.equal((await client.postJson('/-/web/passkeys/register/options', {}, client.csrf)).status, 200, 'the header form of the token works');
  });

  it('treats logged-out and unknown sessions as logged out: to the login page, and back afterwards', async () => {
    const { client, name } = await signUp('ended');
    const old = client.cookie;
    const out = await client.post('/-/web/logout', {});
    assert.equal(out.location, '/-/web/login');
    assert.ok(out.setCookie.some((c) => /^attestry_session=;.*Max-Age=0/.test(c)), 'the cookie is cleared');
    const replay = new WebClient(url);
    replay.cookie = old;
    const page = await replay.get('/-/web/account');
    assert.deepEqual([page.status, page.location], [303, '/-/web/login?returnTo=%2F-%2Fweb%2Faccount']);
    const form = await replay.post('/-/web/account/password', { oldPassword: GOOD_PASSWORD, newPassword: 'x'.repeat(20) }, 'whatever');
    assert.equal(form.status, 303, 'a form posted after the session ended goes to the login, changing nothing');
    assert.match(form.location ?? '', /^\/-\/web\/login/);
    const garbage = new WebClient(url);
    garbage.cookie = 'made-up-session-id';
    const g = await garbage.get('/-/web/account/security');
    assert.deepEqual([g.status, g.location], [303, '/-/web/login?returnTo=%2F-%2Fweb%2Faccount%2Fsecurity']);
    assert.ok(g.setCookie.some((c) => c.startsWith('attestry_session=;')), 'a dead cookie is cleared');
    // Logging in again returns to the page that was asked for; an outside returnTo is ignored.
    const back = new WebClient(url);
    await back.get('/-/web/login?returnTo=%2F-%2Fweb%2Faccount%2Fsecurity');
    assert.equal((await back.post('/-/web/login', { name, password: GOOD_PASSWORD, returnTo: '/-/web/account/security' })).location, '/-/web/account/security');
    const elsewhere = new WebClient(url);
    await elsewhere.get('/-/web/login');
    assert.equal((await elsewhere.post('/-/web/login', { name, password: GOOD_PASSWORD, returnTo: 'https://evil.example/' })).location, '/-/web/account');
    const typo = new WebClient(url);
    await typo.get('/-/web/login');
    const wrong = await typo.post('/-/web/login', { name, password: 'not the password' });
    assert.deepEqual([wrong.status, wrong.code], [401, 'BAD_CREDENTIALS']);
  });

  it('refuses password and email changes without the current password, or to a leaked password; a change ends other sessions', async () => {
    const { client, name } = await signUp('change');
    const laptop = new WebClient(url);
    await laptop.get('/-/web/login');
    await laptop.post('/-/web/login', { name, password: GOOD_PASSWORD });
    assert.equal((await laptop.get('/-/web/account')).status, 200);
    for (const [fields, status, code] of [
      [{ oldPassword: 'not the password', newPassword: 'a brand new passphrase' }, 401, 'BAD_CREDENTIALS'],
      [{ oldPassword: GOOD_PASSWORD, newPassword: LEAKED }, 400, 'PASSWORD_LEAKED'],
      [{ oldPassword: GOOD_PASSWORD, newPassword: 'short' }, 400, 'INVALID_PASSWORD'],
    ] as const) {
      const r = await client.post('/-/web/account/password', fields);
      assert.deepEqual([r.status, r.code], [status, code]);
    }
    for (const [fields, status, code] of [
      [{ email: 'new@example.com', password: 'not the password' }, 401, 'BAD_CREDENTIALS'],
      [{ email: 'not-an-address', password: GOOD_PASSWORD }, 400, 'INVALID_EMAIL'],
    ] as const) {
      const r = await client.post('/-/web/account/email', fields);
      assert.deepEqual([r.status, r.code], [status, code]);
    }
    assert.equal((await laptop.get('/-/web/account')).status, 200, 'refused changes end nothing');
    const changed = await client.post('/-/web/account/password', { oldPassword: GOOD_PASSWORD, newPassword: 'a brand new passphrase' });
    assert.equal(changed.location, '/-/web/account');
    assert.match((await client.get('/-/web/account')).html, /Your password was changed/);
    assert.equal((await laptop.get('/-/web/account')).status, 303, 'the other browser was logged out');
    await waitForMail(outbox, (m) => m.template === 'password-changed' && m.to === `${name}@example.com`);
  });

  it('spends a verification link once', async () => {
    const { client, email } = await signUp('link');
    const link = linkIn(await waitForMail(outbox, (m) => m.template === 'verify-email' && m.to === email), /verify-email/);
    const secret = link.split('/').at(-1) as string;
    assert.equal((await client.get(`/-/web/verify-email/${secret}`)).status, 200);
    assert.equal((await client.get(`/-/web/verify-email/${secret}`)).status, 200, 'opening the link does not spend it');
    assert.equal((await client.post('/-/web/verify-email', { secret })).status, 200);
    const again = await client.get(`/-/web/verify-email/${secret}`);
    assert.deepEqual([again.status, again.code], [403, 'EMAIL_LINK_USED']);
    const post = await client.post('/-/web/verify-email', { secret });
    assert.deepEqual([post.status, post.code], [403, 'EMAIL_LINK_USED']);
    const made = await client.get(`/-/web/verify-email/${'A'.repeat(43)}`);
    assert.deepEqual([made.status, made.code], [404, 'EMAIL_LINK_INVALID']);
    assert.ok(!registry.logs.some((l) => l.includes(secret)), 'the link\'s secret is not in the logs');
  });

  it('refuses a TOTP code already used at the second step, from another session', async () => {
    const { client, name, secret } = await enrolled('reuse');
    await passwordStep(client, name);
    const code = nextCode(secret);
    assert.equal((await client.post('/-/web/second-factor', { method: 'totp', code })).location, '/-/web/account');
    await passwordStep(client, name);
    const reused = await client.post('/-/web/second-factor', { method: 'totp', code });
    assert.deepEqual([reused.status, reused.code], [401, 'OTP_REUSED']);
    assert.equal((await client.get('/-/web/account')).status, 303, 'not logged in');
  });

  it('accepts a recovery code once', async () => {
    const { client, name, codes } = await enrolled('recovery');
    await passwordStep(client, name);
    assert.equal((await client.post('/-/web/second-factor', { method: 'recovery', code: codes[0] as string })).location, '/-/web/account');
    await passwordStep(client, name);
    const twice = await client.post('/-/web/second-factor', { method: 'recovery', code: codes[0] as string });
    assert.deepEqual([twice.status, twice.code], [401, 'RECOVERY_CODE_INVALID']);
    await waitForMail(outbox, (m) => m.template === 'recovery-code-used');
  });

  it('asks the npm CLI\'s web login for the second factor, and a returnTo cannot approve it', async () => {
    const { client, name, secret, codes } = await enrolled('cli');
    const start = await request('POST', `${url}/-/v1/login`, null, {});
    const { loginUrl, doneUrl } = start.body as { loginUrl: string; doneUrl: string };
    const cliPath = new URL(loginUrl).pathname;

    // Someone else's browser tries to smuggle the CLI login in as a place to return to.
    await passwordStep(client, name, { returnTo: cliPath });
    assert.equal((await client.post('/-/web/second-factor', { method: 'totp', code: nextCode(secret) })).location, '/-/web/account');
    assert.equal((await request('GET', doneUrl)).status, 202, 'the website login did not approve the CLI');

    const browser = new WebClient(url);
    assert.equal((await browser.get(cliPath)).status, 200);
    const password = await browser.post(cliPath, { name, password: GOOD_PASSWORD }, null);
    assert.equal(password.location, '/-/web/second-factor');
    assert.equal((await request('GET', doneUrl)).status, 202, 'a password alone does not log the CLI in');
    await browser.get('/-/web/second-factor');
    const wrong = await browser.post('/-/web/second-factor', { method: 'recovery', code: 'aaaa-bbbb-cccc' });
    assert.deepEqual([wrong.status, wrong.code], [401, 'RECOVERY_CODE_INVALID']);
    assert.equal((await request('GET', doneUrl)).status, 202);
    assert.equal((await browser.post('/-/web/second-factor', { method: 'recovery', code: codes[1] as string })).location, cliPath);
    assert.match((await browser.get(cliPath)).html, /You are logged in/);
    assert.equal((await request('GET', doneUrl)).status, 200, 'the CLI gets its token');
    assert.equal((await browser.get('/-/web/account')).status, 303, 'the browser itself was not logged in');
  });

  it('shows a web-OTP request only to its own account, and refuses a wrong code', async () => {
    const owner = await enrolled('otp');
    const start = await request('POST', `${url}/-/v1/login`, null, {});
    const { loginUrl, doneUrl } = start.body as { loginUrl: string; doneUrl: string };
    const cli = new WebClient(url);
    await cli.post(new URL(loginUrl).pathname, { name: owner.name, password: GOOD_PASSWORD }, null);
    await cli.get('/-/web/second-factor');
    await cli.post('/-/web/second-factor', { method: 'recovery', code: owner.codes[0] as string });
    const token = ((await request('GET', doneUrl)).body as { token: string }).token;
    const challenge = await putPublish(url, token, publishBody({ name: `${owner.name}-pkg`, version: '1.0.0' }));
    assert.equal(challenge.status, 401);
    const authPath = new URL((challenge.body as { authUrl: string }).authUrl).pathname;

    const anonymous = new WebClient(url);
    assert.equal((await anonymous.get(authPath)).location, `/-/web/login?returnTo=${encodeURIComponent(authPath)}`);
    const { client: other } = await signUp('nosy');
    const nosy = await other.get(authPath);
    assert.deepEqual([nosy.status, nosy.code], [404, 'OTP_CHALLENGE_EXPIRED']);
    const nosyPost = await other.post(authPath, { code: totpCode(owner.secret, Date.now()) });
    assert.deepEqual([nosyPost.status, nosyPost.code], [404, 'OTP_CHALLENGE_EXPIRED']);

    assert.equal((await owner.client.get(authPath)).status, 200);
    const wrong = await owner.client.post(authPath, { code: String((Number(nextCode(owner.secret)) + 1) % 1_000_000).padStart(6, '0') });
    assert.deepEqual([wrong.status, wrong.code], [401, 'OTP_INVALID']);
    const approved = await owner.client.post(authPath, { code: nextCode(owner.secret) });
    assert.equal(approved.status, 200);
    assert.match(approved.html, /id="otp-approved"/);
  });

  it('answers a recovery request the same whatever the address, and mails nothing to an abandoned domain', async () => {
    const { client, name, email } = await enrolled('recover');
    const before = readOutbox(outbox).length;
    for (const address of [email, 'nobody-here@example.com']) {
      const anonymous = new WebClient(url);
      await anonymous.get('/-/web/forgot-password');
      const r = await anonymous.post('/-/web/forgot-password', { email: address });
      assert.equal(r.status, 200);
      assert.match(r.html, /id="recovery-sent"/);
    }
    // example.com publishes a null MX (and does not resolve offline): its mail is not deliverable.
    assert.equal(readOutbox(outbox).length, before, 'no recovery link was mailed');
    const history = await client.get('/-/web/account/security');
    assert.match(history.html, /data-event="account.recovery-refused"/, `${name}'s history shows the refusal`);
    const made = await client.get(`/-/web/reset-password/${'B'.repeat(43)}`);
    assert.deepEqual([made.status, made.code], [404, 'EMAIL_LINK_INVALID']);
  });

  it('stops a brute-force run of TOTP codes, then locks the account', async () => {
    const { client, name, secret } = await enrolled('brute');
    await passwordStep(client, name);
    const right = nextCode(secret);
    const wrongCode = (i: number) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0');
    const seen: string[] = [];
    let i = 0;
    const deadline = Date.now() + 20_000;
    while (!seen.includes('ACCOUNT_LOCKED') && Date.now() < deadline) {
      const r = await client.post('/-/web/second-factor', { method: 'totp', code: wrongCode(i++) });
      seen.push(r.code ?? String(r.status));
      if (r.code === 'TOO_MANY_ATTEMPTS') {
        assert.equal(r.status, 429);
        await sleep(1000);
      } else if (r.code !== 'ACCOUNT_LOCKED') {
        assert.deepEqual([r.status, r.code], [401, 'OTP_INVALID']);
      }
      // The last wrong code locked it: even the right code is now refused before it is compared.
      if (r.code === 'OTP_INVALID' && seen.filter((c) => c === 'OTP_INVALID').length === 5) {
        const locked = await client.post('/-/web/second-factor', { method: 'totp', code: right });
        seen.push(locked.code ?? String(locked.status));
        assert.equal(locked.status, 429);
      }
    }
    assert.equal(seen.slice(0, 3).join(), 'OTP_INVALID,OTP_INVALID,OTP_INVALID', 'three free tries');
    assert.ok(seen.includes('TOO_MANY_ATTEMPTS'), `backoff before the lockout: ${seen.join()}`);
    assert.equal(seen.at(-1), 'ACCOUNT_LOCKED', seen.join());
    assert.equal(seen.filter((c) => c === 'OTP_INVALID').length, 5, 'only five codes were ever compared');
    await waitForMail(outbox, (m) => m.template === 'account-locked');
  });
});
