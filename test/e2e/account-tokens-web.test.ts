// Granular tokens from the web UI (issue 6, scope items 2 and 6): a maintainer creates, on the
// account pages, a token that can only publish @acme/widget, only from 127.0.0.1/32, for 7 days;
// the real npm CLI publishes @acme/widget with it and is refused another package (403
// AUTHZ_TOKEN_SCOPE). Refusals: a token fenced to another network, a wrong password (no token
// made), a form without its CSRF token, malformed scopes and lifetimes. Revoking from the account
// page stops the token. The security history shows the token's creation, and who else acted on
// the account (an owner added by another user through `npm owner add`). Plain HTTP with a cookie
// jar (WebClient); one Chromium pass keeps screenshots of the form and of the shown token.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createUser, type TestUser } from '../support/accounts.ts';
import { chromiumPath, launchBrowser } from '../support/browser.ts';
import { Client, type RunResult } from '../support/clients.ts';
import { storesUnderTest } from '../support/postgres.ts';
import { publishBody, putPublish, request } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { WebClient, type WebAnswer } from '../support/web-client.ts';
import { totpCode } from '../../src/security/mfa/totp.ts';

const DAY = 86_400_000;
const WIDGET = '@acme/widget';
const output = (r: RunResult): string => `${r.stdout}\n${r.stderr}`;

/** The token shown once on the creation page, or null. */
const shownToken = (a: WebAnswer): string | null => /<p class="secret" id="new-token">(atr_[0-9A-Za-z]+)<\/p>/.exec(a.html)?.[1] ?? null;

/** The rows of the security history: event type, who did it, details (tags dropped). */
function historyRows(html: string): Array<{ type: string; by: string; text: string }> {
  const rows: Array<{ type: string; by: string; text: string }> = [];
  for (const m of html.matchAll(/<tr data-event="([^"]+)">([\s\S]*?)<\/tr>/g)) {
    const by = /<td data-by>([\s\S]*?)<\/td>/.exec(m[2] as string)?.[1] ?? '';
    rows.push({ type: m[1] as string, by, text: (m[2] as string).replace(/<[^>]+>/g, ' ') });
  }
  return rows;
}

async function logIn(url: string, user: TestUser): Promise<WebClient> {
  const web = new WebClient(url);
  await web.get('/-/web/login');
  const res = await web.post('/-/web/login', { name: user.name, password: user.password });
  assert.equal(res.status, 303, res.html);
  assert.equal(res.location, '/-/web/account');
  return web;
}

for (const store of storesUnderTest()) {
  describe(`tokens in the web UI on ${store}`, { timeout: 300_000 }, () => {
    let registry: TestRegistry;
    let maya: TestUser;
    let otto: TestUser;
    let web: WebClient;
    let widgetToken = '';
    const clients: Client[] = [];
    const other = 'maya-other';

    const npmAs = (token: string): Client => {
      const c = new Client('npm', registry.url);
      c.setToken(token);
      clients.push(c);
      return c;
    };
    const publish = (c: Client, name: string, version: string): Promise<RunResult> =>
      c.run(['publish', '--access', 'public'], c.project(name, { version, description: `${name} for web token tests` }));
    const tokenCount = async (): Promise<number> =>
      ((await request('GET', `${registry.url}/-/npm/v1/tokens`, maya.token)).body.objects as unknown[]).length;
    /** The creation form, filled: packages @acme/widget read-write, from 127.0.0.1/32, 7 days. */
    const form = (extra: Record<string, string> = {}): Record<string, string> => ({
      name: 'widget ci', packages: WIDGET, scopes: '', permission: 'read-write', orgs: '', orgsPermission: 'read-only',
      expires: '7', cidr: '127.0.0.1/32', password: maya.password, ...extra,
    });

    before(async () => {
      registry = await startRegistry({ store });
      maya = await createUser(registry.url, 'maya');
      otto = await createUser(registry.url, 'otto');
      const org = await request('POST', `${registry.url}/-/org`, maya.token, { name: 'acme' });
      assert.equal(org.status, 201, JSON.stringify(org.body));
      // maya owns another package: the token's refusal there is about its scope, not ownership.
      const r = await publish(npmAs(maya.token), other, '1.0.0');
      assert.equal(r.code, 0, output(r));
      web = await logIn(registry.url, maya);
    });
    after(async () => {
      for (const c of clients) c.cleanup();
      await registry?.destroy();
    });

    it('the account page links to the creation form, which asks for every granular option and the password', async () => {
      const account = await web.get('/-/web/account');
      assert.equal(account.status, 200);
      assert.match(account.html, /<a href="\/-\/web\/account\/tokens\/new" id="token-new-link">/);
      const page = await web.get('/-/web/account/tokens/new');
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('cache-control'), 'no-store');
      for (const field of ['name', 'packages', 'packagesAll', 'scopes', 'permission', 'orgs', 'orgsPermission', 'expires', 'cidr', 'bypass2fa', 'password']) {
        assert.match(page.html, new RegExp(`name="${field}"`), field);
      }
      // The lifetime policy is told before the choice (the registry's defaults: a week, at most 90 days).
      assert.match(page.html, /id="token-expires-hint">Empty: 7 days for a token that can write; [^<]* lives at most 90 days\./);
      // Every input has a label.
      for (const m of page.html.matchAll(/<input id="([^"]+)"/g)) assert.match(page.html, new RegExp(`for="${m[1]}"`), m[1]);
    });

    it('creates a token limited to publishing @acme/widget from 127.0.0.1/32 for 7 days, shown once', async () => {
      const before = await tokenCount();
      const res = await web.post('/-/web/account/tokens/new', form());
      assert.equal(res.status, 200, res.html);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      widgetToken = shownToken(res) ?? '';
      assert.match(widgetToken, /^atr_[0-9A-Za-z]{42}$/);
      assert.match(res.html, /id="new-token-access">packages @acme\/widget: read and write; from 127\.0\.0\.1\/32 only</);
      const expires = Date.parse(/id="new-token-expires"><time datetime="([^"]+)"/.exec(res.html)?.[1] ?? '');
      assert.ok(Math.abs(expires - (Date.now() + 7 * DAY)) < 5 * 60_000, res.html);
      assert.equal(await tokenCount(), before + 1);
      // npm's own list agrees on the scope and the network.
      const listed = (await request('GET', `${registry.url}/-/npm/v1/tokens`, maya.token)).body.objects as Array<Record<string, unknown>>;
      const mine = listed.find((t) => widgetToken.startsWith(String(t.token)));
      assert.ok(mine, JSON.stringify(listed));
      assert.deepEqual(mine.scopes, [{ name: WIDGET, type: 'package' }]);
      assert.deepEqual(mine.permissions, [{ name: 'package', action: 'write' }]);
      assert.deepEqual(mine.cidr_whitelist, ['127.0.0.1/32']);
      // Never shown again: the account page lists a prefix, not the value.
      const account = await web.get('/-/web/account');
      assert.ok(!account.html.includes(widgetToken));
      assert.match(account.html, /<td data-access>packages @acme\/widget: read and write; from 127\.0\.0\.1\/32 only<\/td>/);
    });

    it('npm publishes @acme/widget with it; another package of maya\'s is refused 403 AUTHZ_TOKEN_SCOPE', async () => {
      const c = npmAs(widgetToken);
      const ok = await publish(c, WIDGET, '1.0.0');
      assert.equal(ok.code, 0, output(ok));
      assert.equal((await request('GET', `${registry.url}/@acme%2fwidget`)).status, 200);
      const refused = await publish(c, other, '1.0.1');
      assert.notEqual(refused.code, 0);
      assert.match(output(refused), /E403/);
      const direct = await putPublish(registry.url, widgetToken, publishBody({ name: other, version: '1.0.2', registry: registry.url }));
      assert.deepEqual([direct.status, direct.body.code], [403, 'AUTHZ_TOKEN_SCOPE']);
      const doc = await request('GET', `${registry.url}/${other}`);
      assert.deepEqual(Object.keys(doc.body.versions as object), ['1.0.0']);
      // Last use (time and address) shows on the account page.
      const account = await web.get('/-/web/account');
      assert.match(account.html, /from <span data-last-ip>(::ffff:)?127\.0\.0\.1<\/span>/);
    });

    it('a token fenced to a network without 127.0.0.1 is refused: 401 TOKEN_IP_NOT_ALLOWED', async () => {
      const res = await web.post('/-/web/account/tokens/new', form({ name: 'fenced', cidr: '10.0.0.0/8, 192.168.0.0/16' }));
      const fenced = shownToken(res);
      assert.ok(fenced, res.html);
      const whoami = await request('GET', `${registry.url}/-/whoami`, fenced);
      assert.deepEqual([whoami.status, whoami.body.code], [401, 'TOKEN_IP_NOT_ALLOWED']);
      const r = await publish(npmAs(fenced), WIDGET, '1.0.1');
      assert.notEqual(r.code, 0);
    });

    it('refusals: wrong password, malformed scope or network or lifetime, nothing named; no token is made and the form keeps its fields', async () => {
      const before = await tokenCount();
      const wrong = await web.post('/-/web/account/tokens/new', form({ password: 'not the password' }));
      assert.deepEqual([wrong.status, wrong.code], [401, 'BAD_CREDENTIALS']);
      assert.equal(shownToken(wrong), null);
      assert.match(wrong.html, /id="token-packages" name="packages" value="@acme\/widget"/);
      assert.doesNotMatch(wrong.html, /not the password/);
      const cases: Array<[Record<string, string>, number, string]> = [
        [{ packages: 'Not A Name!' }, 400, 'TOKEN_SCOPE_INVALID'],
        [{ packages: '', scopes: '' }, 400, 'TOKEN_SCOPE_EMPTY'],
        [{ packagesAll: 'on' }, 400, 'TOKEN_SCOPE_CONFLICT'],
        [{ permission: 'admin' }, 400, 'TOKEN_SCOPE_BAD_PERMISSION'],
        [{ orgs: 'acme', orgsPermission: 'manage' }, 400, 'TOKEN_SCOPE_BAD_PERMISSION'],
        [{ cidr: '127.0.0.1' }, 400, 'BAD_CIDR'],
        [{ expires: '0' }, 400, 'BAD_EXPIRY'],
        [{ expires: 'soon' }, 400, 'BAD_EXPIRY'],
        // Tokens that can write are bounded by the registry's policy (90 days by default).
        [{ expires: '91' }, 400, 'BAD_EXPIRY'],
      ];
      for (const [extra, status, code] of cases) {
        const res = await web.post('/-/web/account/tokens/new', form(extra));
        assert.deepEqual([res.status, res.code], [status, code], JSON.stringify(extra));
        assert.equal(shownToken(res), null);
      }
      // Malformed forms are refused before the password is looked at: a wrong one changes nothing.
      const first = await web.post('/-/web/account/tokens/new', form({ packages: 'Not A Name!', password: 'wrong' }));
      assert.equal(first.code, 'TOKEN_SCOPE_INVALID');
      assert.equal(await tokenCount(), before);
    });

    it('a read-only token may live beyond the write limit; an org-only token gets no package access', async () => {
      const ro = await web.post('/-/web/account/tokens/new', form({ name: 'reader', permission: 'read-only', expires: '', cidr: '' }));
      assert.ok(shownToken(ro), ro.html);
      assert.match(ro.html, /id="new-token-access">packages @acme\/widget: read-only</);
      assert.match(ro.html, /id="new-token-expires">never</);
      const orgOnly = await web.post('/-/web/account/tokens/new', form({ name: 'org admin', packages: '', orgs: 'acme', orgsPermission: 'read-write', cidr: '' }));
      assert.ok(shownToken(orgOnly), orgOnly.html);
      assert.match(orgOnly.html, /id="new-token-access">organizations acme: read and write</);
      const r = await putPublish(registry.url, shownToken(orgOnly), publishBody({ name: WIDGET, version: '1.0.3', registry: registry.url }));
      assert.deepEqual([r.status, r.body.code], [403, 'AUTHZ_TOKEN_SCOPE']);
    });

    it('a POST without the CSRF token is refused and makes nothing; so is a logged-out one', async () => {
      const before = await tokenCount();
      const res = await web.post('/-/web/account/tokens/new', form(), null);
      assert.deepEqual([res.status, res.code], [403, 'CSRF_TOKEN_INVALID']);
      const forged = await web.post('/-/web/account/tokens/new', form(), 'forged');
      assert.deepEqual([forged.status, forged.code], [403, 'CSRF_TOKEN_INVALID']);
      const revoke = await web.post('/-/web/account/tokens/revoke', { id: 'x' }, null);
      assert.deepEqual([revoke.status, revoke.code], [403, 'CSRF_TOKEN_INVALID']);
      const stranger = new WebClient(registry.url);
      const anonymous = await stranger.post('/-/web/account/tokens/new', form(), null);
      assert.equal(anonymous.status, 303);
      assert.match(anonymous.location ?? '', /^\/-\/web\/login/);
      assert.equal((await stranger.get('/-/web/account/tokens/new')).status, 303);
      assert.equal(await tokenCount(), before);
    });

    it('revoking from the account page stops the token; revoking someone else\'s token is refused', async () => {
      const account = await web.get('/-/web/account');
      const listed = (await request('GET', `${registry.url}/-/npm/v1/tokens`, maya.token)).body.objects as Array<{ key: string; token: string }>;
      const key = listed.find((t) => widgetToken.startsWith(t.token))?.key ?? '';
      assert.match(account.html, new RegExp(`<tr data-token="${key}">`));
      // otto cannot revoke maya's token by its id, nor learn whether it exists.
      const ottoWeb = await logIn(registry.url, otto);
      await ottoWeb.get('/-/web/account');
      const foreign = await ottoWeb.post('/-/web/account/tokens/revoke', { id: key });
      assert.deepEqual([foreign.status, foreign.code], [404, 'TOKEN_NOT_FOUND']);
      assert.equal((await request('GET', `${registry.url}/-/whoami`, widgetToken)).status, 200);

      const res = await web.post('/-/web/account/tokens/revoke', { id: key });
      assert.equal(res.status, 303);
      assert.equal(res.location, '/-/web/account');
      const after = await web.get('/-/web/account');
      assert.match(after.html, /The token widget ci was revoked\./);
      assert.doesNotMatch(after.html, new RegExp(`data-token="${key}"`));
      const whoami = await request('GET', `${registry.url}/-/whoami`, widgetToken);
      assert.deepEqual([whoami.status, whoami.body.code], [401, 'INVALID_TOKEN']);
      const revoked = npmAs(widgetToken);
      const r = await revoked.run(['whoami'], revoked.project('whoami', { version: '0.0.0' }));
      assert.notEqual(r.code, 0);
      assert.match(output(r), /E401|401/);
      // Twice: nothing left to revoke.
      const again = await web.post('/-/web/account/tokens/revoke', { id: key });
      assert.deepEqual([again.status, again.code], [404, 'TOKEN_NOT_FOUND']);
    });

    it('an account with an authenticator app confirms a new token with a code (OTP_REQUIRED, then OTP_INVALID, then made)', async () => {
      const tina = await createUser(registry.url, 'tina');
      const start = await request('POST', `${registry.url}/-/npm/v1/user`, tina.token, { tfa: { password: tina.password, mode: 'auth-only' } });
      const secret = new URL(String(start.body.tfa)).searchParams.get('secret') as string;
      // Three codes from three credentials, each a newer step than the last, all within the ±1-step
      // window: enrolment step-1, login step, the form step+1 (not too close to a step's end).
      if (Date.now() % 30_000 > 25_000) await new Promise((r) => setTimeout(r, 30_500 - (Date.now() % 30_000)));
      const step = Math.floor(Date.now() / 30_000);
      assert.equal((await request('POST', `${registry.url}/-/npm/v1/user`, tina.token, { tfa: [totpCode(secret, (step - 1) * 30_000)] })).status, 200);
      const browser = new WebClient(registry.url);
      await browser.get('/-/web/login');
      assert.equal((await browser.post('/-/web/login', { name: tina.name, password: tina.password })).location, '/-/web/second-factor');
      await browser.get('/-/web/second-factor');
      const login = await browser.post('/-/web/second-factor', { method: 'totp', code: totpCode(secret, step * 30_000) });
      assert.equal(login.location, '/-/web/account', login.html);
      assert.match((await browser.get('/-/web/account/tokens/new')).html, /id="token-otp"/);
      const fields = { name: 'tina ci', packages: 'tina-pkg', permission: 'read-write', orgsPermission: 'read-only', password: tina.password };
      const missing = await browser.post('/-/web/account/tokens/new', fields);
      assert.equal(missing.status, 401);
      assert.match(missing.html, /data-code="OTP_REQUIRED"/);
      assert.equal(shownToken(missing), null);
      const wrong = await browser.post('/-/web/account/tokens/new', { ...fields, otp: '12345' });
      assert.match(wrong.html, /data-code="OTP_INVALID"/);
      const made = await browser.post('/-/web/account/tokens/new', { ...fields, otp: totpCode(secret, (step + 1) * 30_000) });
      assert.equal(made.status, 200, made.html);
      assert.ok(shownToken(made));
    });

    it('the security history shows token events by "you" and an owner added by otto, without ids', async () => {
      // otto adds maya as an owner of his package with the real npm CLI.
      const ottoNpm = npmAs(otto.token);
      const pkg = 'otto-lib';
      assert.equal((await publish(ottoNpm, pkg, '1.0.0')).code, 0);
      const added = await ottoNpm.run(['owner', 'add', maya.name, pkg], ottoNpm.project('owner', { version: '0.0.0' }));
      assert.equal(added.code, 0, output(added));

      const history = await web.get('/-/web/account/security');
      assert.equal(history.status, 200);
      assert.match(history.html, /<th scope="col">By<\/th>/);
      const rows = historyRows(history.html);
      const created = rows.filter((r) => r.type === 'token.created');
      assert.ok(created.length >= 4, JSON.stringify(rows));
      assert.ok(created.every((r) => r.by === 'you'));
      assert.ok(created.some((r) => /scope: packages @acme\/widget: read and write/.test(r.text)), JSON.stringify(created));
      assert.ok(rows.some((r) => r.type === 'token.revoked' && r.by === 'you'));
      const owner = rows.find((r) => r.type === 'owner.added');
      assert.ok(owner, JSON.stringify(rows));
      assert.equal(owner.by, 'otto');
      assert.match(owner.text, /Package owner added/);
      assert.match(owner.text, /package otto-lib/);
      assert.ok(rows.some((r) => r.type === 'org.created' && r.by === 'you'), JSON.stringify(rows));
      // Token ids never show.
      for (const t of (await request('GET', `${registry.url}/-/npm/v1/tokens`, maya.token)).body.objects as Array<{ key: string }>) {
        assert.ok(!history.html.includes(t.key));
      }
      // otto's history shows what he did, as "you".
      const ottoWeb = await logIn(registry.url, otto);
      const ottoRows = historyRows((await ottoWeb.get('/-/web/account/security')).html);
      assert.ok(ottoRows.some((r) => r.type === 'owner.added' && r.by === 'you'), JSON.stringify(ottoRows));
    });
  });
}

describe('tokens in the web UI, in Chromium', { skip: chromiumPath() === null ? 'Chromium is not installed' : false, timeout: 120_000 }, () => {
  let registry: TestRegistry;
  let user: TestUser;

  before(async () => {
    registry = await startRegistry();
    user = await createUser(registry.url, 'bea');
    assert.equal((await request('POST', `${registry.url}/-/org`, user.token, { name: 'acme' })).status, 201);
  });
  after(async () => registry?.destroy());

  it('fills the form, sees the token once (screenshots of both)', async () => {
    const browser = await launchBrowser({ artifactsName: 'account-tokens-web' });
    try {
      const { page } = browser;
      await page.goto(`${registry.url}/-/web/login`);
      await page.fill('#name', user.name);
      await page.fill('#password', user.password);
      await page.click('#login-submit');
      await page.waitForURL((u) => u.pathname === '/-/web/account');
      await page.click('#token-new-link');
      await page.waitForURL((u) => u.pathname === '/-/web/account/tokens/new');
      await page.fill('#token-name', 'widget ci');
      await page.fill('#token-packages', WIDGET);
      await page.selectOption('#token-permission', 'read-write');
      await page.fill('#token-expires', '7');
      await page.fill('#token-cidr', '127.0.0.1/32');
      await page.fill('#token-password', user.password);
      await browser.screenshot('create-form');
      await page.click('#token-create');
      const token = ((await page.textContent('#new-token')) ?? '').trim();
      assert.match(token, /^atr_/);
      assert.match((await page.textContent('#new-token-access')) ?? '', /packages @acme\/widget: read and write; from 127\.0\.0\.1\/32 only/);
      await browser.screenshot('token-shown');
      await page.goto(`${registry.url}/-/web/account`);
      assert.equal(await page.locator('#tokens tr[data-token]').count(), 2); // the sign-up's login token and the new one
      await browser.screenshot('account-tokens');
      assert.deepEqual(browser.consoleErrors, []);
    } finally {
      await browser.close();
    }
  });
});
