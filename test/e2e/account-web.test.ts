// The account pages in headless Chromium against a real registry with the security defaults on
// (verified email, MFA for maintainers): sign up → verify the address from the outbox → enrol an
// authenticator app (codes computed from the key the page shows) → add a passkey with the virtual
// authenticator → log out → log in with the passkey and no password → new recovery codes → every
// step in the security history. Then the npm CLI's browser flows for that account: a web login
// that must also pass the second factor, and a web-OTP approval of a publish with the passkey.
// A screenshot of every page is kept under test-artifacts/screenshots/account-web/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { totpCode } from '../../src/security/mfa/totp.ts';
import { chromiumPath, launchBrowser, type TestBrowser } from '../support/browser.ts';
import { linkIn, readOutbox, waitForMail } from '../support/mail.ts';
import { Client } from '../support/clients.ts';
import { publishBody, putPublish, request } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { freePort } from '../support/web-client.ts';

const NAME = 'ada';
const EMAIL = 'ada@example.com';
const PASSWORD = 'a long and unremarkable passphrase';

describe('account security in the browser', { skip: chromiumPath() === null ? 'Chromium is not installed' : false }, () => {
  let registry: TestRegistry;
  let browser: TestBrowser;
  let outbox: string;
  let url: string;
  let totpSecret = '';
  let firstCodes: string[] = [];

  before(async () => {
    outbox = mkdtempSync(path.join(os.tmpdir(), 'attestry-outbox-'));
    const port = await freePort();
    // Browsers refuse WebAuthn on IP addresses: the public URL names localhost.
    registry = await startRegistry({
      env: {
        ATTESTRY_HOST: '127.0.0.1', ATTESTRY_PORT: String(port), ATTESTRY_PUBLIC_URL: `http://localhost:${port}`,
        ATTESTRY_REQUIRE_VERIFIED_EMAIL: 'true', ATTESTRY_REQUIRE_MFA: 'true', ATTESTRY_MAIL_OUTBOX: outbox,
      },
    });
    url = registry.url;
    browser = await launchBrowser({ artifactsName: 'account-web' });
  });

  after(async () => {
    await browser?.close();
    await registry?.destroy();
    rmSync(outbox, { recursive: true, force: true });
  });

  const onPage = async (pathname: string) => browser.page.waitForURL((u) => u.pathname === pathname);
  const text = async (selector: string) => ((await browser.page.textContent(selector)) ?? '').trim();

  it('signs up and verifies the address from the outbox', async () => {
    const { page } = browser;
    await page.goto(`${url}/-/web/signup`);
    await browser.screenshot('signup');
    await page.fill('#name', NAME);
    await page.fill('#email', EMAIL);
    await page.fill('#password', PASSWORD);
    await page.click('#signup-submit');
    await onPage('/-/web/account');
    assert.equal(await page.getAttribute('#email-state', 'data-verified'), 'false');
    await browser.screenshot('account-unverified');

    const mail = await waitForMail(outbox, (m) => m.template === 'verify-email' && m.to === EMAIL);
    const link = linkIn(mail, /\/-\/web\/verify-email\//);
    assert.ok(link.startsWith(`${url}/`), `the link points at the public URL: ${link}`);
    await page.goto(link);
    await browser.screenshot('verify-email');
    await page.click('#verify-email');
    await page.waitForSelector('#email-verified');
    await browser.screenshot('email-verified');
    await page.goto(`${url}/-/web/account`);
    assert.equal(await page.getAttribute('#email-state', 'data-verified'), 'true');
  });

  it('enrols an authenticator app from the QR page and shows ten recovery codes once', async () => {
    const { page } = browser;
    await page.click('#totp-start');
    await onPage('/-/web/account/totp');
    assert.equal(await page.locator('.qr svg').count(), 1, 'the QR code is inline SVG');
    // The key as a person would copy it: grouped for reading, spaces are not part of it.
    totpSecret = (await text('#totp-secret')).replace(/\s+/g, '');
    assert.match(totpSecret, /^[A-Z2-7]{32}$/);
    await browser.screenshot('totp-setup');
    await page.fill('#totp-code', totpCode(totpSecret, Date.now()));
    await page.click('#totp-confirm');
    await page.waitForSelector('#recovery-codes');
    firstCodes = await page.locator('#recovery-codes li').allTextContents();
    assert.equal(firstCodes.length, 10);
    assert.equal(new Set(firstCodes).size, 10);
    await browser.screenshot('recovery-codes');
    await page.click('#recovery-done');
    await onPage('/-/web/account');
    assert.equal(await page.getAttribute('#totp-state', 'data-enabled'), 'true');
    assert.equal(await text('#recovery-remaining'), '10');
    await waitForMail(outbox, (m) => m.template === 'factor-added' && /authenticator/i.test(m.text));
  });

  it('adds a passkey with the virtual authenticator', async () => {
    const { page } = browser;
    const authenticator = await browser.addVirtualAuthenticator();
    await page.fill('#passkey-name', 'Laptop');
    await page.click('#passkey-add');
    await page.waitForSelector('#passkeys tr[data-passkey]');
    assert.match(await text('#passkeys'), /Laptop/);
    assert.equal((await browser.credentials(authenticator)).length, 1, 'the authenticator holds one (discoverable) credential');
    await browser.screenshot('passkey-added');
    await waitForMail(outbox, (m) => m.template === 'factor-added' && /passkey/i.test(m.text));
  });

  it('logs out, and the account page then asks for a login', async () => {
    const { page } = browser;
    await page.click('#logout');
    await onPage('/-/web/login');
    await browser.screenshot('logged-out');
    await page.goto(`${url}/-/web/account`);
    await onPage('/-/web/login');
    assert.equal(new URL(page.url()).searchParams.get('returnTo'), '/-/web/account');
  });

  it('logs in with the passkey alone: no username, no password', async () => {
    const { page } = browser;
    assert.equal(await page.inputValue('#password'), '');
    await browser.screenshot('login');
    await page.click('#login-passkey');
    await onPage('/-/web/account');
    assert.match(await text('header'), new RegExp(`Signed in as ${NAME}`));
    await browser.screenshot('passkey-login');
    await waitForMail(outbox, (m) => m.template === 'new-device-login');
  });

  it('makes new recovery codes, which replace the old ones', async () => {
    const { page } = browser;
    await page.click('#recovery-regenerate');
    await page.waitForSelector('#recovery-codes');
    const codes = await page.locator('#recovery-codes li').allTextContents();
    assert.equal(codes.length, 10);
    assert.equal(codes.filter((c) => firstCodes.includes(c)).length, 0);
    await browser.screenshot('recovery-codes-regenerated');
    await waitForMail(outbox, (m) => m.template === 'recovery-codes-regenerated');
  });

  it('shows every step in the security history, newest first', async () => {
    const { page } = browser;
    await page.goto(`${url}/-/web/account/security`);
    await browser.screenshot('security-history');
    const events = await page.locator('#security-history tr[data-event]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event')));
    assert.deepEqual(events, [
      'mfa.recovery-codes-generated', // regenerated
      'account.login', // the passkey login
      'mfa.passkey-added',
      'mfa.recovery-codes-generated', // the first ten, with the authenticator app
      'mfa.totp-enabled',
      'account.email-verified',
      'account.created',
    ]);
    const times = await page.locator('#security-history time').evaluateAll((ts) => ts.map((t) => Date.parse(t.getAttribute('datetime') ?? '')));
    assert.deepEqual(times, [...times].sort((a, b) => b - a));
  });

  it('asks for the second factor in the npm CLI\'s web login, and approves it with the passkey', async () => {
    const { page } = browser;
    const start = await request('POST', `${url}/-/v1/login`, null, {});
    assert.equal(start.status, 200);
    const { loginUrl, doneUrl } = start.body as { loginUrl: string; doneUrl: string };
    await page.goto(loginUrl);
    await browser.screenshot('cli-login');
    await page.fill('#name', NAME);
    await page.fill('#password', PASSWORD);
    await page.click('#cli-login-submit');
    await onPage('/-/web/second-factor');
    await browser.screenshot('cli-login-second-factor');
    assert.equal((await request('GET', doneUrl)).status, 202, 'a password alone does not log the CLI in');
    await page.click('#second-factor-passkey');
    await onPage(new URL(loginUrl).pathname);
    assert.match(await text('main'), /You can close this window/);
    await browser.screenshot('cli-login-done');
    const done = await request('GET', doneUrl);
    assert.equal(done.status, 200);
    const token = (done.body as { token: string }).token;
    assert.equal(((await request('GET', `${url}/-/whoami`, token)).body as { username: string }).username, NAME);
    // The website session was not touched by the CLI login.
    await page.goto(`${url}/-/web/account`);
    await onPage('/-/web/account');

    // A publish needs the second factor: npm's web OTP, approved in the browser with the passkey.
    const body = publishBody({ name: `${NAME}-web-otp`, version: '1.0.0' });
    const challenge = await putPublish(url, token, body);
    assert.equal(challenge.status, 401);
    assert.equal(challenge.headers.get('www-authenticate'), 'OTP');
    const { authUrl, doneUrl: otpDone } = challenge.body as { authUrl: string; doneUrl: string };
    assert.ok(authUrl && otpDone, 'the challenge carries the web-OTP URLs');
    await page.goto(authUrl);
    await browser.screenshot('web-otp');
    await page.click('#otp-approve-passkey');
    await page.waitForSelector('#otp-approved');
    await browser.screenshot('web-otp-approved');
    const approved = await request('GET', otpDone);
    assert.equal(approved.status, 200);
    const otp = (approved.body as { token: string }).token;
    const published = await putPublish(url, token, body, { 'npm-otp': otp });
    assert.ok(published.status === 200 || published.status === 201, `published with the approval: ${JSON.stringify(published.body)}`);

    await page.goto(`${url}/-/web/account/security`);
    const approval = page.locator('#security-history tr[data-event="mfa.cli-approved"]');
    assert.match((await approval.textContent()) ?? '', /webauthn/);
  });

  it('the unmodified npm CLI publishes through the web OTP: it prints authUrl, the browser approves with the passkey, npm retries', { skip: !existsSync('/usr/bin/script') && 'util-linux script is missing' }, async () => {
    const { page } = browser;
    // A CLI login token for this account (its web login asks for the passkey too).
    const start = await request('POST', `${url}/-/v1/login`, null, {});
    const { loginUrl, doneUrl } = start.body as { loginUrl: string; doneUrl: string };
    await page.goto(loginUrl);
    await page.fill('#name', NAME);
    await page.fill('#password', PASSWORD);
    await page.click('#cli-login-submit');
    await onPage('/-/web/second-factor');
    await page.click('#second-factor-passkey');
    await onPage(new URL(loginUrl).pathname);
    const token = ((await request('GET', doneUrl)).body as { token: string }).token;

    const npm = new Client('npm', url);
    npm.setToken(token);
    const name = `${NAME}-cli-web-otp`;
    const dir = npm.project(name, { version: '1.0.0', main: 'index.js' }, { 'index.js': 'module.exports = 1;\n' });
    // npm's web OTP needs a terminal (otplease checks isTTY): script(1) gives it one. --browser=false
    // makes it print the URL instead of launching a browser; this test's Chromium plays the person.
    const child = spawn('script', ['-qec', `npm publish --browser=false --registry ${url}/`, '/dev/null'], { cwd: dir, env: { ...process.env, ...npm.env() } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    const authUrl = await (async () => {
      for (let i = 0; i < 200; i++) {
        const m = /(https?:\/\/\S+\/-\/web\/otp\/[A-Za-z0-9_-]+)/.exec(out);
        if (m) return m[1] as string;
        await new Promise((r) => setTimeout(r, 100));
      }
      child.kill('SIGKILL');
      throw new Error(`npm printed no authUrl:\n${out}`);
    })();
    await page.goto(authUrl);
    await page.click('#otp-approve-passkey');
    await page.waitForSelector('#otp-approved');
    await browser.screenshot('cli-web-otp-approved');
    const code = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-2), 60_000))]);
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`\\+ ${name}@1\\.0\\.0`));
    const doc = await request('GET', `${url}/${name}`);
    assert.equal(doc.status, 200);
  });

  it('ran no inline script and broke no Content-Security-Policy rule', () => {
    assert.deepEqual(browser.consoleErrors, []);
    assert.ok(readOutbox(outbox).every((m) => !m.text.includes(totpSecret)), 'no mail carries the authenticator key');
  });
});
