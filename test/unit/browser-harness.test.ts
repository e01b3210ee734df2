// The whole WebAuthn path in real Chromium: a tiny node:http app (strict CSP, CSRF header) loads
// src/web/assets/webauthn.js, the harness's virtual authenticator answers, and the server side is
// src/security/mfa/webauthn.ts — registration, a duplicate refused by the browser, a passkey login
// with no username, and an assertion made on another origin refused by the server.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAttestryError } from '../../src/core/errors.ts';
import {
  authenticationOptions,
  credentialIdOf,
  newUserHandle,
  registrationOptions,
  verifyAuthentication,
  verifyRegistration,
  webAuthnPolicyFor,
  type StoredCredential,
  type WebAuthnPolicy,
} from '../../src/security/mfa/webauthn.ts';
import { chromiumPath, launchBrowser, type TestBrowser } from '../support/browser.ts';
import { ROOT } from '../support/paths.ts';

const CSRF = 'csrf-token-for-the-test';
const CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const SCRIPT = readFileSync(path.join(ROOT, 'src/web/assets/webauthn.js'));

const page = (title: string, body: string): string => `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="csrf-token" content="${CSRF}"><title>${title}</title><script src="/webauthn.js" defer></script></head>
<body><h1>${title}</h1>${body}<p role="alert" data-webauthn-error style="color:#a00"></p></body></html>`;

const HOME = page('Passkeys', `
<form data-webauthn="register" data-options-url="/register/options" data-verify-url="/register/verify">
  <label>Passkey name <input name="name" value="Test key"></label> <button type="submit" id="register">Add a passkey</button>
</form>
<button id="login" data-webauthn="authenticate" data-options-url="/login/options" data-verify-url="/login/verify">Sign in with a passkey</button>`);

/** The server side of the test: one user, challenges kept per ceremony, a log of what happened. */
class App {
  readonly user = { id: 1, name: 'alice', handle: newUserHandle() };
  readonly credentials: StoredCredential[] = [];
  readonly refusals: string[] = [];
  csrfMissing = 0;
  logins = 0;
  private challenges = new Map<string, string>();
  policy!: WebAuthnPolicy;

  private take(ceremony: string): string {
    const c = this.challenges.get(ceremony);
    this.challenges.delete(ceremony); // single use
    if (c === undefined) throw new Error('no challenge');
    return c;
  }

  async handle(method: string, url: string, body: Record<string, unknown>): Promise<unknown> {
    switch (`${method} ${url}`) {
      case 'POST /register/options': {
        const { options, challenge } = await registrationOptions(this.policy, this.user, this.credentials);
        this.challenges.set('register', challenge);
        return options;
      }
      case 'POST /register/verify': {
        const cred = await verifyRegistration(this.policy, body.credential, this.take('register'), String(body.name), Date.now());
        this.credentials.push(cred);
        return { redirect: '/registered' };
      }
      case 'POST /login/options': {
        const { options, challenge } = await authenticationOptions(this.policy, null);
        this.challenges.set('login', challenge);
        return options;
      }
      case 'POST /login/verify': {
        const id = credentialIdOf(body.credential);
        const owned = this.credentials.filter((c) => c.id === id);
        const { credential, userHandle } = await verifyAuthentication(this.policy, body.credential, this.take('login'), owned, Date.now());
        assert.equal(userHandle, this.user.handle, 'the passkey names its owner');
        this.credentials.splice(this.credentials.findIndex((c) => c.id === credential.id), 1, credential);
        this.logins += 1;
        return { redirect: '/welcome' };
      }
      default:
        return undefined;
    }
  }
}

function serve(app: App): http.Server {
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x').pathname;
    const send = (status: number, type: string, text: string | Buffer): void => {
      res.writeHead(status, { 'content-type': type, 'content-security-policy': CSP, 'cache-control': 'no-store' }).end(text);
    };
    if (req.method === 'GET') {
      if (url === '/') return send(200, 'text/html; charset=utf-8', HOME);
      if (url === '/webauthn.js') return send(200, 'text/javascript; charset=utf-8', SCRIPT);
      if (url === '/registered') return send(200, 'text/html; charset=utf-8', page('Passkey added', '<p>Your passkey is registered.</p>'));
      if (url === '/welcome') return send(200, 'text/html; charset=utf-8', page('Signed in', '<p>Welcome back, alice.</p>'));
      return send(404, 'text/plain', 'not found');
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.headers['x-csrf-token'] !== CSRF) {
        app.csrfMissing += 1;
        return send(403, 'application/json', JSON.stringify({ error: 'CSRF token missing' }));
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        return send(400, 'application/json', JSON.stringify({ error: 'bad json' }));
      }
      app.handle(req.method ?? '', url, body).then(
        (answer) => (answer === undefined ? send(404, 'application/json', '{"error":"not found"}') : send(200, 'application/json', JSON.stringify(answer))),
        (e: unknown) => {
          const code = isAttestryError(e) ? `${e.code}:${String(e.detail?.reason ?? '')}` : String(e);
          app.refusals.push(code);
          send(400, 'application/json', JSON.stringify({ error: `Refused: ${code}` }));
        },
      );
    });
  });
}

const skip = chromiumPath() === null ? 'Chromium is not installed (/usr/bin/chromium or `chromium` on PATH)' : false;

describe('browser harness: WebAuthn in headless Chromium', { skip, timeout: 90_000 }, () => {
  const app = new App();
  const server = serve(app);
  const relay = serve(app); // a second origin in front of the same registry
  let browser: TestBrowser;
  let origin = '';
  let relayOrigin = '';

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    relayOrigin = `http://localhost:${(relay.address() as AddressInfo).port}`;
    // Chromium refuses WebAuthn on IP addresses; localhost is a secure context and resolves to loopback.
    origin = `http://localhost:${(server.address() as AddressInfo).port}`;
    app.policy = webAuthnPolicyFor(origin);
    browser = await launchBrowser({ artifactsName: 'browser-harness' });
  });

  after(async () => {
    await browser?.close();
    server.close();
    relay.close();
  });

  it('registers a passkey through webauthn.js and verifyRegistration', async () => {
    const { page: p } = browser;
    const authenticatorId = await browser.addVirtualAuthenticator();
    await p.goto(`${origin}/`);
    const first = await browser.screenshot('passkeys');
    assert.match(first, /test-artifacts\/screenshots\/browser-harness\/01-passkeys\.png$/);

    await p.fill('input[name=name]', '  My laptop ');
    await Promise.all([p.waitForURL(`${origin}/registered`), p.click('#register')]);
    await browser.screenshot('registered');

    assert.deepEqual(app.refusals, []);
    assert.equal(app.csrfMissing, 0);
    assert.equal(app.credentials.length, 1);
    const stored = app.credentials[0] as StoredCredential;
    assert.equal(stored.name, 'My laptop');
    assert.deepEqual(stored.transports, ['internal']);
    assert.equal(stored.lastUsedAt, null);

    const held = (await browser.credentials(authenticatorId)) as { credentialId: string; isResidentCredential: boolean; rpId: string; userHandle: string }[];
    assert.equal(held.length, 1);
    const only = held[0] as (typeof held)[number];
    assert.equal(Buffer.from(only.credentialId, 'base64').toString('base64url'), stored.id);
    assert.equal(only.isResidentCredential, true, 'a discoverable credential (passkey)');
    assert.equal(only.rpId, 'localhost');
    assert.equal(Buffer.from(only.userHandle, 'base64').toString('base64url'), app.user.handle, 'the opaque handle, not the user id');
  });

  it('shows the browser refusing a second registration of the same authenticator', async () => {
    const { page: p } = browser;
    await p.goto(`${origin}/`);
    await p.click('#register');
    await p.waitForSelector('[data-webauthn-error]:not(:empty)');
    assert.equal(await p.textContent('[data-webauthn-error]'), 'This passkey is already registered.');
    assert.equal(await p.isEnabled('#register'), true, 'the button is usable again');
    await browser.screenshot('already-registered');
    assert.equal(app.credentials.length, 1);
    assert.deepEqual(app.refusals, []);
  });

  it('signs in with the passkey alone (no username) through verifyAuthentication', async () => {
    const { page: p } = browser;
    const before = (app.credentials[0] as StoredCredential).counter;
    await p.goto(`${origin}/`);
    await Promise.all([p.waitForURL(`${origin}/welcome`), p.click('#login')]);
    await browser.screenshot('signed-in');
    assert.equal(app.logins, 1);
    assert.deepEqual(app.refusals, []);
    const after = app.credentials[0] as StoredCredential;
    assert.ok(after.counter > before, `counter advanced (${before} -> ${after.counter})`);
    assert.notEqual(after.lastUsedAt, null);
  });

  it('refuses an assertion the browser made on another origin (a relaying phishing site)', async () => {
    const { page: p } = browser;
    // Another port on the same host is another origin under the same RP ID, so the browser lets the
    // passkey sign there; only the server's origin check stands between the relay and a login.
    await p.goto(`${relayOrigin}/`);
    await p.click('#login');
    await p.waitForSelector('[data-webauthn-error]:not(:empty)');
    await browser.screenshot('other-origin-refused');
    assert.match(await p.textContent('[data-webauthn-error]') ?? '', /WEBAUTHN_AUTHENTICATION_FAILED/);
    assert.deepEqual(app.refusals, ['WEBAUTHN_AUTHENTICATION_FAILED:origin']);
    assert.equal(app.logins, 1);
  });

  it('ran under the strict CSP without violations and sent the CSRF header every time', () => {
    assert.deepEqual(browser.consoleErrors.filter((m) => /Content Security Policy|Refused to/i.test(m)), []);
    assert.equal(app.csrfMissing, 0);
  });
});
