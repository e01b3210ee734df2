// Account security as the npm CLI meets it (issue 5; spec §4.3, §4.5, §4.6): npm 11 enrols TOTP
// through the profile API, publishes with --otp, meets the 401 OTP challenge, logs in with a
// recovery code, creates tokens, and is refused when the account may not write. Codes come from
// the secret npm prints, as an authenticator app would compute them. Mail is read from the outbox.
//
// npm reads passwords and codes with `read`, which works on a pipe: when stdin is not a TTY it
// writes the prompt to stdout and takes the next line, so the prompts are answered through the
// child's stdin and no pseudo-terminal (`script`) is needed. What does need a TTY is npm's
// otplease retry: without one npm stops at the first OTP challenge and prints authUrl/doneUrl,
// which is exactly what a CI log shows and what these tests assert.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, type RunResult } from '../support/clients.ts';
import { linkIn, readOutbox, waitForMail, type ReceivedMail } from '../support/mail.ts';
import { NODE, ROOT } from '../support/paths.ts';
import { storesUnderTest } from '../support/postgres.ts';
import { publishBody, putPublish, request, type ApiResponse } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { totpCode } from '../../src/security/mfa/totp.ts';

const STEP_MS = 30_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const RECOVERY_CODE = /^\t([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})$/gm;
const NPM_SECRET_PROMPT = /Or enter code:\s*([A-Z2-7]+)[\s\S]*OTP code from your authenticator:/;

interface Account {
  name: string;
  email: string;
  password: string;
  token: string;
}

/**
 * An authenticator app that knows the registry's replay rule: a step already used is accepted
 * again only from the credential that used it, so a new credential gets a newer step (the next one
 * is already valid, ±1 step), waiting for the clock when both are spent.
 */
class Authenticator {
  readonly secret: string;
  private last: { step: number; credential: string } | null = null;

  constructor(secret: string) {
    this.secret = secret;
  }

  async code(credential: string): Promise<string> {
    for (;;) {
      const current = Math.floor(Date.now() / STEP_MS);
      if (this.last !== null && this.last.credential === credential && this.last.step >= current) return totpCode(this.secret, this.last.step * STEP_MS);
      const step = this.last === null ? current : Math.max(current, this.last.step + 1);
      if (step <= current + 1) {
        this.last = { step, credential };
        return totpCode(this.secret, step * STEP_MS);
      }
      await sleep((step - 1) * STEP_MS - Date.now() + 50);
    }
  }

  /** A code that no step within reach accepts. */
  wrongCode(): string {
    const current = Math.floor(Date.now() / STEP_MS);
    const valid = new Set([-2, -1, 0, 1, 2].map((d) => totpCode(this.secret, (current + d) * STEP_MS)));
    let n = 123_456;
    while (valid.has(String(n).padStart(6, '0'))) n++;
    return String(n).padStart(6, '0');
  }
}

const basic = (a: Account): string => `Basic ${Buffer.from(`${a.name}:${a.password}`).toString('base64')}`;
const output = (r: RunResult): string => `${r.stdout}\n${r.stderr}`;

function assertOtpChallenge(res: ApiResponse, registryUrl: string, web: boolean): { authUrl: string; doneUrl: string } {
  assert.equal(res.status, 401, JSON.stringify(res.body));
  assert.equal(res.headers.get('www-authenticate'), 'OTP');
  assert.equal(res.body.code, 'OTP_REQUIRED');
  assert.equal(typeof res.body.error, 'string');
  if (!web) {
    assert.equal(res.body.authUrl, undefined);
    assert.equal(res.body.doneUrl, undefined);
    return { authUrl: '', doneUrl: '' };
  }
  const { authUrl, doneUrl } = res.body as { authUrl: string; doneUrl: string };
  assert.ok(authUrl.startsWith(`${registryUrl}/-/web/otp/`), authUrl);
  assert.match(doneUrl, new RegExp(`^${registryUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/-/v1/otp/done/[A-Za-z0-9_-]{43,}$`));
  // yarn shows npm-notice and has no browser flow; it must name the page to open.
  assert.ok(res.headers.get('npm-notice')?.includes(authUrl));
  return { authUrl, doneUrl };
}

/**
 * Plays the browser on a page with one confirmation form: opens it (keeping the session cookie it
 * sets), then submits the form with its hidden fields (the CSRF token among them).
 */
async function submitPageForm(pageUrl: string): Promise<{ status: number; html: string }> {
  const page = await fetch(pageUrl);
  const html = await page.text();
  assert.equal(page.status, 200, html.slice(0, 500));
  const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const form = /<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(html) ?? assert.fail(`no form on ${pageUrl}`);
  const fields = new URLSearchParams();
  for (const m of (form[2] as string).matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields.set(m[1] as string, m[2] as string);
  const res = await fetch(new URL(form[1] as string, pageUrl), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body: fields.toString() });
  return { status: res.status, html: await res.text() };
}

function assertStatus(res: ApiResponse, status: number): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
}

function assertRefusal(res: ApiResponse, status: number, code: string): void {
  assertStatus(res, status);
  assert.equal(res.body.code, code);
}

for (const store of storesUnderTest()) {
  describe(`npm CLI account security on ${store}`, () => {
    let registry: TestRegistry;
    let outbox: string;
    const clients: Client[] = [];
    const mailTo = (to: string, template: string): Promise<ReceivedMail> => waitForMail(outbox, (m) => m.to === to && m.template === template);

    const npmAs = (token: string | null): Client => {
      const c = new Client('npm', registry.url);
      c.setToken(token);
      clients.push(c);
      return c;
    };

    const couchLogin = (a: Pick<Account, 'name' | 'password'>, headers: Record<string, string> = {}, email?: string): Promise<ApiResponse> =>
      request('PUT', `${registry.url}/-/user/org.couchdb.user:${a.name}`, null, {
        _id: `org.couchdb.user:${a.name}`, name: a.name, password: a.password, type: 'user', roles: [], date: new Date().toISOString(), ...(email ? { email } : {}),
      }, headers);

    /** An administrator creates the account (`attestry user create`: verified), and it logs in. */
    async function adminCreated(name: string): Promise<Account> {
      const account = { name, email: `${name}@example.com`, password: `${name}-correct-horse-battery` };
      const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ATTESTRY_')));
      const r = spawnSync(NODE, [path.join(ROOT, 'src/cli/main.ts'), 'user', 'create', name, '--email', account.email, '--password-stdin'], {
        input: account.password, env: { ...inherited, ...registry.env }, encoding: 'utf8', timeout: 30_000,
      });
      assert.equal(r.status, 0, `attestry user create: ${r.stderr}`);
      const login = await couchLogin(account);
      assertStatus(login, 201);
      return { ...account, token: login.body.token as string };
    }

    /** Publishes `name@version` from a fresh npm project; returns the run. */
    function npmPublish(c: Client, name: string, version: string, extra: string[] = []): Promise<RunResult> {
      const dir = c.project(name, { version, description: `${name} for account-security tests` });
      return c.run(['publish', ...extra], dir);
    }

    async function versionsOf(name: string): Promise<string[]> {
      const res = await request('GET', `${registry.url}/${name}`);
      if (res.status === 404) return [];
      assertStatus(res, 200);
      return Object.keys(res.body.versions as object);
    }

    const start = async () => {
      outbox = mkdtempSync(path.join(os.tmpdir(), 'attestry-outbox-'));
      registry = await startRegistry({ store, env: { ATTESTRY_REQUIRE_VERIFIED_EMAIL: 'true', ATTESTRY_REQUIRE_MFA: 'true', ATTESTRY_MAIL_OUTBOX: outbox } });
    };

    before(start);
    after(async () => {
      for (const c of clients) c.cleanup();
      await registry?.destroy();
      rmSync(outbox, { recursive: true, force: true });
    });

    describe('two-factor authentication through the npm CLI', () => {
      let alice: Account;
      let npm: Client;
      let app: Authenticator;
      let recoveryCodes: string[];
      let bypassToken: string;
      const T1 = 'token:alice-login';
      const pkg = 'alice-widget';

      before(async () => {
        alice = await adminCreated('alice');
        npm = npmAs(alice.token);
      });

      it('npm profile enable-2fa auth-and-writes: password, then a code from the secret; recovery codes printed', async () => {
        const dir = npm.project('alice-profile', { version: '0.0.0' });
        let secret = '';
        const r = await npm.ok(['profile', 'enable-2fa', 'auth-and-writes'], dir, {
          on: [
            [/npm password:/, () => `${alice.password}\n`],
            [NPM_SECRET_PROMPT, (m) => {
              secret = m[1] as string;
              app = new Authenticator(secret);
              return app.code('enrolment').then((c) => `${c}\n`);
            }],
          ],
        });
        assert.match(secret, /^[A-Z2-7]{32}$/, 'a 160-bit base32 secret');
        assert.match(r.stdout, /2FA successfully enabled/);
        recoveryCodes = [...r.stdout.matchAll(RECOVERY_CODE)].map((m) => m[1] as string);
        assert.equal(recoveryCodes.length, 10);
        assert.equal(new Set(recoveryCodes).size, 10);
        const notice = await mailTo(alice.email, 'factor-added');
        assert.ok(!notice.text.includes(secret), 'the secret is never mailed');
      });

      it('npm profile get shows the mode and the verified address', async () => {
        const dir = npm.project('alice-profile', { version: '0.0.0' });
        const r = await npm.ok(['profile', 'get'], dir);
        assert.match(r.stdout, /^two-factor auth: auth-and-writes$/m);
        assert.match(r.stdout, /^email: alice@example\.com \(verified\)$/m);
        const json = JSON.parse((await npm.ok(['profile', 'get', '--json'], dir)).stdout) as Record<string, unknown>;
        assert.deepEqual(json.tfa, { pending: false, mode: 'auth-and-writes' });
        assert.equal(json.email_verified, true);
      });

      it('npm publish without an OTP meets the challenge; the raw PUT gets 401, www-authenticate: OTP and authUrl/doneUrl', async () => {
        const r = await npmPublish(npm, pkg, '1.0.0');
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /code EOTP/);
        // The URLs in npm's error are usable: nothing in them looks like a secret npm would redact (a UUID would).
        assert.match(r.stderr, /^npm error\s+http:\/\/\S+\/-\/web\/otp\/[A-Za-z0-9_-]{20,}$/m);
        assert.match(r.stderr, /^npm error\s+http:\/\/\S+\/-\/v1\/otp\/done\/[A-Za-z0-9_-]{43,}$/m);
        assert.doesNotMatch(r.stderr, /\*\*\*/);
        assert.deepEqual(await versionsOf(pkg), []);

        const body = publishBody({ name: pkg, version: '1.0.0', registry: registry.url });
        const web = assertOtpChallenge(await putPublish(registry.url, alice.token, body), registry.url, true);
        const again = assertOtpChallenge(await putPublish(registry.url, alice.token, body), registry.url, true);
        assert.notEqual(again.doneUrl, web.doneUrl, 'every challenge has its own doneUrl');
        // `--otp` makes npm send npm-auth-type: legacy: the classic challenge, no browser flow.
        assertOtpChallenge(await putPublish(registry.url, alice.token, body, { 'npm-auth-type': 'legacy' }), registry.url, false);
      });

      it('the web OTP flow: doneUrl answers 202 pending with JSON and retry-after; unknown and forged values are refused', async () => {
        const body = publishBody({ name: pkg, version: '1.0.0', registry: registry.url });
        const { doneUrl } = assertOtpChallenge(await putPublish(registry.url, alice.token, body), registry.url, true);
        for (let i = 0; i < 2; i++) {
          // pnpm polls without credentials: the doneUrl itself is the capability.
          const poll = await request('GET', doneUrl);
          assert.equal(poll.status, 202);
          assert.deepEqual(poll.body, { status: 'pending' });
          assert.equal(poll.headers.get('retry-after'), '1');
        }
        assertRefusal(await request('GET', `${registry.url}/-/v1/otp/done/${'A'.repeat(43)}`), 404, 'OTP_CHALLENGE_EXPIRED');
        assertRefusal(await request('GET', `${registry.url}/-/v1/otp/done/${'A'.repeat(500)}`), 404, 'OTP_CHALLENGE_EXPIRED');
        // An approval token this registry never issued (or issued to someone else, or expired:
        // test/unit/second-factors.test.ts) is no second factor. The approval itself happens on the
        // web-OTP page; the browser test completes that flow and repeats the PUT with its token.
        for (const forged of [`otp_${'x'.repeat(32)}`, `otp_${'x'.repeat(200)}`, 'not-a-code']) {
          const res = await putPublish(registry.url, alice.token, body, { 'npm-otp': forged });
          assertRefusal(res, 401, 'OTP_INVALID');
          assert.equal(res.headers.get('www-authenticate'), 'OTP');
        }
        assert.deepEqual(await versionsOf(pkg), []);
      });

      it('npm publish --otp <code> publishes; the same code works again from the same token within its step', async () => {
        const code = await app.code(T1);
        for (const version of ['1.0.0', '1.0.1']) {
          const r = await npmPublish(npm, pkg, version, ['--otp', code]);
          assert.equal(r.code, 0, output(r));
        }
        assert.deepEqual(await versionsOf(pkg), ['1.0.0', '1.0.1']);
        // npm unpublish sends its --otp with every request of the flow (read, rewrite, delete tarball).
        await npm.ok(['unpublish', `${pkg}@1.0.1`, '--otp', code], npm.project('alice-unpublish', { version: '0.0.0' }));
        assert.deepEqual(await versionsOf(pkg), ['1.0.0']);
      });

      it('a recovery code logs npm in once (npm login --otp <recovery code>); the second use is refused', async () => {
        const second = npmAs(null);
        const dir = second.project('alice-login', { version: '0.0.0' });
        const recovery = recoveryCodes[0] as string;
        const login = (otp: string) => second.run(['login', '--auth-type=legacy', '--otp', otp], dir, {
          on: [[/Username:/, () => `${alice.name}\n`], [/Password:/, () => `${alice.password}\n`]],
        });
        const r = await login(recovery);
        assert.equal(r.code, 0, output(r));
        assert.match(readFileSync(path.join(second.home, '.npmrc'), 'utf8'), /:_authToken=atr_/);
        const used = await mailTo(alice.email, 'recovery-code-used');
        assert.match(used.text, /\b9\b/, 'the notice says how many codes are left');

        const reused = await login(recovery);
        assert.notEqual(reused.code, 0);
        assert.match(reused.stderr, /E401|EOTP/);
        const raw = await couchLogin(alice, { 'npm-otp': recovery });
        assertRefusal(raw, 401, 'RECOVERY_CODE_INVALID');
        // Without a second factor a 2FA account's password alone logs nobody in; no browser flow for logins.
        const bare = await couchLogin(alice);
        assertRefusal(bare, 401, 'OTP_REQUIRED');
        assert.equal(bare.headers.get('www-authenticate'), 'OTP');
        assert.equal(bare.body.authUrl, undefined);
      });

      it('a TOTP code used by one credential is refused from another (OTP_REUSED)', async () => {
        // A second device: a login token obtained with a recovery code (it spends no TOTP step).
        const other = await couchLogin(alice, { 'npm-otp': recoveryCodes[1] as string });
        assertStatus(other, 201);
        const T2 = other.body.token as string;
        const code = await app.code(T1);
        const whoami = await request('GET', `${registry.url}/-/whoami`, alice.token, undefined, { 'npm-otp': code });
        assert.equal(whoami.status, 200, 'T1 uses the code');

        const device = npmAs(T2);
        const r = await npmPublish(device, pkg, '1.0.2', ['--otp', code]);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /EOTP|E401/);
        const body = publishBody({ name: pkg, version: '1.0.2', registry: registry.url });
        const raw = await putPublish(registry.url, T2, body, { 'npm-otp': code });
        assertRefusal(raw, 401, 'OTP_REUSED');
        assert.equal(raw.headers.get('www-authenticate'), 'OTP');
        assertRefusal(await request('GET', `${registry.url}/-/whoami`, null, undefined, { authorization: basic(alice), 'npm-otp': code }), 401, 'OTP_REUSED');
        // Each login is its own credential: a code that logged one client in logs in no other.
        const fresh = await app.code('login-1');
        assertStatus(await couchLogin(alice, { 'npm-otp': fresh }), 201);
        assertRefusal(await couchLogin(alice, { 'npm-otp': fresh }), 401, 'OTP_REUSED');
        assert.deepEqual(await versionsOf(pkg), ['1.0.0']);
      });

      it('npm token create --bypass-2fa: a write token that publishes without an OTP; 7 days by default', async () => {
        const dir = npm.project('alice-tokens', { version: '0.0.0' });
        // Creating a token is a change to the account: it needs the second factor too.
        const unconfirmed = await npm.run(['token', 'create', '--password', alice.password, '--bypass-2fa', '--json'], dir);
        assert.notEqual(unconfirmed.code, 0);
        assert.match(unconfirmed.stderr, /EOTP/);

        const r = await npm.ok(['token', 'create', '--password', alice.password, '--bypass-2fa', '--otp', await app.code(T1), '--json'], dir);
        const created = JSON.parse(r.stdout) as { token: string; expires: string; created: string; readonly: boolean };
        assert.match(created.token, /^atr_/);
        assert.equal(created.readonly, false);
        assert.equal(Date.parse(created.expires) - Date.parse(created.created), 7 * DAY);
        bypassToken = created.token;
        await mailTo(alice.email, 'token-created');

        const automation = npmAs(bypassToken);
        const published = await npmPublish(automation, pkg, '1.1.0');
        assert.equal(published.code, 0, output(published));
        assert.deepEqual(await versionsOf(pkg), ['1.0.0', '1.1.0']);
        const list = JSON.parse((await npm.ok(['token', 'list', '--json'], dir)).stdout) as Array<{ automation: boolean }>;
        assert.equal(list.filter((t) => t.automation).length, 1);
      });

      it('write tokens live at most 90 days; CLI login tokens expire after 2 hours', async () => {
        const dir = npm.project('alice-tokens', { version: '0.0.0' });
        const tooLong = await npm.run(['token', 'create', '--password', alice.password, '--expires', '91', '--otp', await app.code(T1)], dir);
        assert.notEqual(tooLong.code, 0);
        assert.match(tooLong.stderr, /E400/);
        const raw = await request('POST', `${registry.url}/-/npm/v1/tokens`, alice.token, { name: null, password: alice.password, expires: 91 }, { 'npm-otp': await app.code(T1) });
        assertRefusal(raw, 400, 'BAD_EXPIRY');

        const longest = JSON.parse((await npm.ok(['token', 'create', '--password', alice.password, '--expires', '90', '--otp', await app.code(T1), '--json'], dir)).stdout) as { expires: string; created: string };
        assert.equal(Date.parse(longest.expires) - Date.parse(longest.created), 90 * DAY);

        const tokens = JSON.parse((await npm.ok(['token', 'list', '--json'], dir)).stdout) as Array<{ name: string | null; created: string; expires: string | null }>;
        const logins = tokens.filter((t) => t.name === 'npm login');
        assert.ok(logins.length >= 3, JSON.stringify(tokens));
        for (const t of logins) assert.equal(Date.parse(t.expires ?? '') - Date.parse(t.created), 2 * HOUR);
        assert.ok(tokens.every((t) => t.expires !== null), 'no token that can write lives forever');
      });

      it('npm profile disable-2fa needs the password and a current code; writes then need enrolment again', async () => {
        const dir = npm.project('alice-profile', { version: '0.0.0' });
        const withoutCode = await request('POST', `${registry.url}/-/npm/v1/user`, alice.token, { tfa: { password: alice.password, mode: 'disable' } });
        assertRefusal(withoutCode, 401, 'OTP_REQUIRED');
        assert.equal(withoutCode.headers.get('www-authenticate'), 'OTP');
        const badPassword = await request('POST', `${registry.url}/-/npm/v1/user`, alice.token, { tfa: { password: 'not-the-password', mode: 'disable' } }, { 'npm-otp': await app.code(T1) });
        assertRefusal(badPassword, 401, 'BAD_CREDENTIALS');

        const r = await npm.ok(['profile', 'disable-2fa', '--otp', await app.code(T1)], dir, { on: [[/npm password:/, () => `${alice.password}\n`]] });
        assert.match(r.stdout, /Two factor authentication disabled/);
        assert.match((await npm.ok(['profile', 'get'], dir)).stdout, /^two-factor auth: disabled$/m);
        await mailTo(alice.email, 'factor-removed');

        // MFA is required for maintainers: without a factor, neither her token nor the bypass token writes.
        const refused = await npmPublish(npm, pkg, '1.2.0');
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, /E403/);
        const body = publishBody({ name: pkg, version: '1.2.0', registry: registry.url });
        assertRefusal(await putPublish(registry.url, alice.token, body), 403, 'AUTHZ_MFA_ENROLLMENT_REQUIRED');
        assertRefusal(await putPublish(registry.url, bypassToken, body), 403, 'AUTHZ_MFA_ENROLLMENT_REQUIRED');
        assert.deepEqual(await versionsOf(pkg), ['1.0.0', '1.1.0']);
      });
    });

    describe('accounts that may not write', () => {
      it('an unverified account gets a link, and cannot publish (AUTHZ_EMAIL_UNVERIFIED) nor create a token (EMAIL_UNVERIFIED)', async () => {
        const dave = { name: 'dave', email: 'dave@example.com', password: 'dave-correct-horse-battery' };
        const signup = await couchLogin(dave, {}, dave.email);
        assert.equal(signup.status, 201, JSON.stringify(signup.body));
        const token = signup.body.token as string;
        const mail = await mailTo(dave.email, 'verify-email');
        assert.ok(linkIn(mail, /\/-\/web\/verify-email\//).startsWith(`${registry.url}/-/web/verify-email/`));

        const npm = npmAs(token);
        const dir = npm.project('dave-profile', { version: '0.0.0' });
        assert.match((await npm.ok(['profile', 'get'], dir)).stdout, /^email: dave@example\.com\s*\(unverified\)$/m);

        const published = await npmPublish(npm, 'dave-widget', '1.0.0');
        assert.notEqual(published.code, 0);
        assert.match(published.stderr, /E403/);
        assertRefusal(await putPublish(registry.url, token, publishBody({ name: 'dave-widget', version: '1.0.0', registry: registry.url })), 403, 'AUTHZ_EMAIL_UNVERIFIED');
        assert.deepEqual(await versionsOf('dave-widget'), []);

        const created = await npm.run(['token', 'create', '--password', dave.password], dir);
        assert.notEqual(created.code, 0);
        assert.match(created.stderr, /E403/);
        assertRefusal(await request('POST', `${registry.url}/-/npm/v1/tokens`, token, { name: null, password: dave.password }), 403, 'EMAIL_UNVERIFIED');
        // The refused request left nothing behind.
        const list = await request('GET', `${registry.url}/-/npm/v1/tokens`, token);
        assert.equal((list.body.objects as unknown[]).length, 1, 'only the login token');

        // Following the link (the page asks for a click, so a mail scanner's GET proves nothing) verifies
        // the address, once; then tokens may be created, and publishing meets the next rule: MFA.
        const link = linkIn(mail, /\/-\/web\/verify-email\//);
        const verified = await submitPageForm(link);
        assert.equal(verified.status, 200);
        assert.match(verified.html, /id="email-verified"/);
        assert.match((await npm.ok(['profile', 'get'], dir)).stdout, /^email: dave@example\.com \(verified\)$/m);
        const again = await fetch(link);
        assert.equal(again.status, 403);
        assert.match(await again.text(), /data-code="EMAIL_LINK_USED"/);
        const token2 = await npm.run(['token', 'create', '--password', dave.password, '--json'], dir);
        assert.equal(token2.code, 0, output(token2));
        assertRefusal(await putPublish(registry.url, token, publishBody({ name: 'dave-widget', version: '1.0.0', registry: registry.url })), 403, 'AUTHZ_MFA_ENROLLMENT_REQUIRED');
      });

      it('a verified maintainer without 2FA cannot publish when MFA is required (AUTHZ_MFA_ENROLLMENT_REQUIRED)', async () => {
        const carol = await adminCreated('carol');
        const npm = npmAs(carol.token);
        const r = await npmPublish(npm, 'carol-widget', '1.0.0');
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /E403/);
        assert.match(r.stderr, /npm profile enable-2fa/, 'the refusal says how to fix it');
        assertRefusal(await putPublish(registry.url, carol.token, publishBody({ name: 'carol-widget', version: '1.0.0', registry: registry.url })), 403, 'AUTHZ_MFA_ENROLLMENT_REQUIRED');
        // A bypass token is no way around enrolment either.
        const token = await request('POST', `${registry.url}/-/npm/v1/tokens`, carol.token, { name: 'ci', password: carol.password, bypass_2fa: true });
        assert.equal(token.status, 201, JSON.stringify(token.body));
        assertRefusal(await putPublish(registry.url, token.body.token as string, publishBody({ name: 'carol-widget', version: '1.0.0', registry: registry.url })), 403, 'AUTHZ_MFA_ENROLLMENT_REQUIRED');
        assert.deepEqual(await versionsOf('carol-widget'), []);

        // An enrolment abandoned after step 1 is pending, not enabled; npm drops it (disable with
        // the password) before starting again, and that is no "factor removed" event to mail about.
        const begun = await request('POST', `${registry.url}/-/npm/v1/user`, carol.token, { tfa: { mode: 'auth-and-writes', password: carol.password } });
        assertStatus(begun, 200);
        assert.match(begun.body.tfa as string, /^otpauth:\/\/totp\//);
        assert.deepEqual((await request('GET', `${registry.url}/-/npm/v1/user`, carol.token)).body.tfa, { pending: true, mode: 'auth-and-writes' });
        assertRefusal(await putPublish(registry.url, carol.token, publishBody({ name: 'carol-widget', version: '1.0.0', registry: registry.url })), 403, 'AUTHZ_MFA_ENROLLMENT_REQUIRED');
        const dropped = await request('POST', `${registry.url}/-/npm/v1/user`, carol.token, { tfa: { password: carol.password, mode: 'disable' } });
        assertStatus(dropped, 200);
        assert.equal(dropped.body.tfa, false);
        assert.deepEqual(readOutbox(outbox).filter((m) => m.to === carol.email && m.template === 'factor-removed'), []);
      });
    });

    describe('guessing codes', () => {
      // A registry of its own: the failures other scenarios provoke from this address must not
      // count towards the address's limit here, or the delays below would not be the account's.
      before(async () => {
        await registry.destroy();
        rmSync(outbox, { recursive: true, force: true });
        await start();
      });

      it('wrong codes slow down, then lock the account (429 TOO_MANY_ATTEMPTS, then ACCOUNT_LOCKED, with retry-after)', async () => {
        const bob = await adminCreated('bob');
        // Enrolment through the profile API, as npm does it (spec §4.6).
        const begun = await request('POST', `${registry.url}/-/npm/v1/user`, bob.token, { tfa: { mode: 'auth-and-writes', password: bob.password } });
        assert.equal(begun.status, 200, JSON.stringify(begun.body));
        const uri = new URL(begun.body.tfa as string);
        assert.equal(uri.protocol, 'otpauth:');
        const app = new Authenticator(uri.searchParams.get('secret') ?? '');
        const done = await request('POST', `${registry.url}/-/npm/v1/user`, bob.token, { tfa: [await app.code('enrolment')] });
        assert.equal(done.status, 200, JSON.stringify(done.body));
        assert.equal((done.body.tfa as string[]).length, 10);

        const npm = npmAs(bob.token);
        const body = publishBody({ name: 'bob-widget', version: '1.0.0', registry: registry.url });
        const guess = () => putPublish(registry.url, bob.token, body, { 'npm-otp': app.wrongCode() });
        // Reads never check a one-time password: npm sends `--otp` with every request of a command,
        // and its GETs must neither fail nor count as wrong codes (the count below starts at zero).
        for (let i = 0; i < 5; i++) {
          const read = await request('GET', `${registry.url}/bob-widget`, bob.token, undefined, { 'npm-otp': app.wrongCode() });
          assert.equal(read.status, 404, JSON.stringify(read.body));
        }
        const first = await npmPublish(npm, 'bob-widget', '1.0.0', ['--otp', app.wrongCode()]);
        assert.notEqual(first.code, 0);
        assert.match(first.stderr, /EOTP|E401/);
        // Three failures are free, the fourth earns a delay.
        for (let i = 2; i <= 4; i++) assertRefusal(await guess(), 401, 'OTP_INVALID');
        const slowed = await guess();
        assertRefusal(slowed, 429, 'TOO_MANY_ATTEMPTS');
        const wait = Number(slowed.headers.get('retry-after'));
        assert.ok(wait >= 1 && wait <= 2, `retry-after ${wait}`);
        // During the delay even the right code waits: the check comes before any comparison.
        assertRefusal(await putPublish(registry.url, bob.token, body, { 'npm-otp': await app.code('token:bob') }), 429, 'TOO_MANY_ATTEMPTS');

        await sleep(wait * 1000 + 100);
        assertRefusal(await guess(), 401, 'OTP_INVALID');
        const locked = await putPublish(registry.url, bob.token, body, { 'npm-otp': await app.code('token:bob') });
        assertRefusal(locked, 429, 'ACCOUNT_LOCKED');
        const lockSeconds = Number(locked.headers.get('retry-after'));
        assert.ok(lockSeconds > 25 * 60 && lockSeconds <= 30 * 60, `retry-after ${lockSeconds}`);
        // The mail names the real end of the lock (TOTP locks last 30 minutes, not a password's 15).
        const notice = await mailTo(bob.email, 'account-locked');
        const until = Date.parse(/locked until (\S+)\./.exec(notice.text)?.[1] ?? '');
        assert.ok(Math.abs(until - (Date.now() + lockSeconds * 1000)) < 10_000, notice.text);
        const locks = readOutbox(outbox).filter((m) => m.to === bob.email && m.template === 'account-locked');
        assert.equal(locks.length, 1, 'one mail per lock, not per refused attempt');
        assert.deepEqual(await versionsOf('bob-widget'), []);
      });
    });
  });
}
