// Confirming changes with a passkey in the web pages (issue 6): a critical package's settings
// need a phishing-resistant factor, which a one-time password is not; a passkey confirmation
// ("sudo", a few minutes) lets the same person make the change from the browser. In Chromium with
// a virtual authenticator, against a real registry whose public URL names localhost (WebAuthn).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createUser, type TestUser } from '../support/accounts.ts';
import { chromiumPath, launchBrowser, type TestBrowser } from '../support/browser.ts';
import { NODE, ROOT } from '../support/paths.ts';
import { publishBody, putPublish, request } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { freePort } from '../support/web-client.ts';

const PKG = '@pia/lib';

describe('passkey confirmation for changes in the web pages', { skip: chromiumPath() === null ? 'Chromium is not installed' : false, timeout: 120_000 }, () => {
  let registry: TestRegistry;
  let browser: TestBrowser;
  let pia: TestUser;
  let url: string;

  before(async () => {
    const port = await freePort();
    registry = await startRegistry({ env: { ATTESTRY_HOST: '127.0.0.1', ATTESTRY_PORT: String(port), ATTESTRY_PUBLIC_URL: `http://localhost:${port}` } });
    url = registry.url;
    pia = await createUser(url, 'pia');
    assert.equal((await putPublish(url, pia.token, publishBody({ name: PKG, version: '1.0.0', registry: url }))).status, 201);
    // An administrator marks it critical: every write now needs a passkey.
    const code = await new Promise<number>((resolve) => {
      spawn(NODE, [path.join(ROOT, 'src/cli/main.ts'), 'package', 'critical', PKG], { env: { ...process.env, ...registry.env }, stdio: 'ignore' })
        .once('exit', (c) => resolve(c ?? 1));
    });
    assert.equal(code, 0);
    browser = await launchBrowser({ artifactsName: 'web-passkey-confirm' });
  });

  after(async () => {
    await browser?.close();
    await registry?.destroy();
  });

  const text = async (selector: string) => ((await browser.page.textContent(selector)) ?? '').trim();
  const accessPage = () => `${url}/-/web/package/${encodeURIComponent(PKG)}/access`;

  it('logs in with the password and adds a passkey', async () => {
    const { page } = browser;
    await page.goto(`${url}/-/web/login`);
    await page.fill('#name', pia.name);
    await page.fill('#password', pia.password);
    await page.click('#login-submit');
    await page.waitForURL((u) => u.pathname === '/-/web/account');
    await browser.addVirtualAuthenticator();
    await page.fill('#passkey-name', 'Laptop');
    await page.click('#passkey-add');
    await page.waitForSelector('#passkeys tr[data-passkey]');
  });

  it('a critical package refuses the change without a passkey confirmation, and takes it after one', async () => {
    const { page } = browser;
    await page.goto(accessPage());
    assert.equal(await page.locator('#passkey-confirmed').count(), 0);
    assert.equal(await page.locator('#access-critical').count(), 1, 'the page says why');
    await page.selectOption('#access-status', 'restricted');
    await page.click('#access-submit');
    await page.waitForSelector('[role="alert"][data-code="OTP_REQUIRED"]');
    assert.match(await text('[role="alert"][data-code="OTP_REQUIRED"]'), /passkey/);
    assert.equal((await request('GET', `${url}/-/package/${encodeURIComponent(PKG)}/visibility`, pia.token)).body.public, true, 'nothing changed');
    await browser.screenshot('refused-without-passkey');

    await page.goto(accessPage());
    await page.click('#passkey-confirm-button');
    await page.waitForSelector('#passkey-confirmed');
    await browser.screenshot('confirmed');
    await page.selectOption('#access-status', 'restricted');
    await page.click('#access-submit');
    await page.waitForSelector('#access-state[data-access="restricted"]');
    assert.equal((await request('GET', `${url}/-/package/${encodeURIComponent(PKG)}/visibility`, pia.token)).body.public, false);
    // The refusal page itself answered 401 (OTP_REQUIRED), which Chromium logs; nothing else may fail.
    assert.deepEqual(browser.consoleErrors.filter((e) => !/status of 401/.test(e)), []);
  });

  it('the confirmation needs this session: posting the verify step without a challenge is refused', async () => {
    const res = await fetch(`${url}/-/web/passkeys/confirm/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.ok(res.status === 401 || res.status === 403, String(res.status));
  });
});
