// The organization pages in headless Chromium against a real registry: Alice signs up, creates
// @acme, adds Bob (signed up too) as a developer, creates a team, grants it read-write on the
// package she published over npm's publish API, makes the package restricted and sets its 2FA
// policy; then reads every one of those events, with actor and subject, on the audit page. Bob
// (plain HTTP with a cookie jar) sees the org but is refused the audit log and every change; an
// outsider gets the missing-org and missing-package 404s; forms without the CSRF token are
// refused; a person with an authenticator app confirms changes with a code typed into the form.
// Screenshots under test-artifacts/screenshots/org-web/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { totpCode } from '../../src/security/mfa/totp.ts';
import { chromiumPath, launchBrowser, type TestBrowser } from '../support/browser.ts';
import { publishBody, putPublish, request } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { WebClient, type WebAnswer } from '../support/web-client.ts';

const PASSWORD = 'a long and unremarkable passphrase';
const WIDGET = '@acme/widget';
const WIDGET_ACCESS = '/-/web/package/@acme/widget/access';

describe('organizations in the browser', { skip: chromiumPath() === null ? 'Chromium is not installed' : false, timeout: 300_000 }, () => {
  let registry: TestRegistry;
  let browser: TestBrowser;
  let url: string;
  let bob: WebClient;
  let carol: WebClient;

  /** Signs up over HTTP (the sign-up logs in) and loads the account page, for a CSRF token. */
  async function signUp(name: string): Promise<WebClient> {
    const client = new WebClient(url);
    await client.get('/-/web/signup');
    const r = await client.post('/-/web/signup', { name, email: `${name}@example.com`, password: PASSWORD });
    assert.equal(r.status, 303, `sign-up of ${name}: ${r.code}`);
    await client.get('/-/web/account');
    return client;
  }

  /** A logged-in HTTP session for an existing account. */
  async function logIn(name: string): Promise<WebClient> {
    const client = new WebClient(url);
    await client.get('/-/web/login');
    const r = await client.post('/-/web/login', { name, password: PASSWORD });
    assert.equal(r.status, 303, `login of ${name}: ${r.code}`);
    return client;
  }

  const refused = (r: WebAnswer, status: number, code: string, what: string): void =>
    assert.deepEqual([r.status, r.code], [status, code], `${what}: ${r.html.slice(0, 300)}`);

  before(async () => {
    registry = await startRegistry();
    url = registry.url;
    browser = await launchBrowser({ artifactsName: 'org-web' });
    bob = await signUp('bob');
    carol = await signUp('carol');
  });

  after(async () => {
    await browser?.close();
    await registry?.destroy();
  });

  const onPage = async (pathname: string) => browser.page.waitForURL((u) => decodeURIComponent(u.pathname) === pathname);
  const text = async (selector: string) => ((await browser.page.textContent(selector)) ?? '').trim();
  const attr = async (selector: string, name: string) => browser.page.getAttribute(selector, name);

  it('Alice signs up and creates the organization acme from her account page', async () => {
    const { page } = browser;
    await page.goto(`${url}/-/web/signup`);
    await page.fill('#name', 'alice');
    await page.fill('#email', 'alice@example.com');
    await page.fill('#password', PASSWORD);
    await page.click('#signup-submit');
    await onPage('/-/web/account');
    await page.click('#orgs-link');
    await onPage('/-/web/orgs');
    assert.equal(await page.locator('#orgs-none').count(), 1);
    await browser.screenshot('orgs-empty');
    await page.fill('#org-name', 'acme');
    await page.click('#org-create');
    await onPage('/-/web/orgs');
    assert.match(await text('.notice'), /You created @acme/);
    assert.equal(await attr('#orgs tr[data-org="acme"] td[data-role]', 'data-role'), 'owner');
    await browser.screenshot('orgs-created');

    // A taken name is refused on the same page, with its code.
    await page.fill('#org-name', 'acme');
    await page.click('#org-create');
    assert.equal(await attr('.error', 'data-code'), 'ORG_NAME_TAKEN');
    await page.fill('#org-name', 'Not An Org');
    await page.click('#org-create');
    assert.equal(await attr('.error', 'data-code'), 'ORG_BAD_NAME');
  });

  it('Alice publishes @acme/widget over npm\'s publish API (a legacy-login token)', async () => {
    const login = await request('PUT', `${url}/-/user/org.couchdb.user:alice`, null, { _id: 'org.couchdb.user:alice', name: 'alice', password: PASSWORD, type: 'user', roles: [] });
    assert.equal(login.status, 201, JSON.stringify(login.body));
    const published = await putPublish(url, login.body.token as string, publishBody({ name: WIDGET, version: '1.0.0', access: 'public' }));
    assert.ok(published.status === 200 || published.status === 201, JSON.stringify(published.body));
  });

  it('adds Bob as a developer; refuses an unknown user and removing the last owner', async () => {
    const { page } = browser;
    await page.click('#orgs tr[data-org="acme"] a');
    await onPage('/-/web/org/acme');
    assert.equal(await attr('#my-role', 'data-role'), 'owner');
    await page.fill('#member-name', 'bob');
    await page.selectOption('#member-role', 'developer');
    await page.click('#member-add');
    await onPage('/-/web/org/acme');
    assert.match(await text('.notice'), /bob is now a developer of @acme/);
    assert.equal(await attr('#members tr[data-member="bob"] td[data-role]', 'data-role'), 'member');
    await browser.screenshot('org-member-added');

    await page.fill('#member-name', 'nobody-here');
    await page.click('#member-add');
    assert.equal(await attr('.error', 'data-code'), 'USER_NOT_FOUND');
    await page.click('#members tr[data-member="alice"] button[data-action="remove-member"]');
    assert.equal(await attr('.error', 'data-code'), 'ORG_LAST_OWNER');
    assert.equal(await page.locator('#members tr[data-member="alice"]').count(), 1);
    await browser.screenshot('org-last-owner-refused');
  });

  it('creates the team devs, adds Bob and grants it read-write on the package', async () => {
    const { page } = browser;
    await page.goto(`${url}/-/web/org/acme`);
    await page.fill('#team-name', 'devs');
    await page.fill('#team-description', 'People who <ship> it');
    await page.click('#team-create');
    await onPage('/-/web/org/acme');
    assert.equal(await attr('#teams tr[data-team="devs"] td[data-members]', 'data-members'), '0');
    assert.match(await text('#teams tr[data-team="devs"]'), /People who <ship> it/, 'the description is text, not markup');
    await page.click('#teams tr[data-team="devs"] a');
    await onPage('/-/web/org/acme/team/devs');
    await page.fill('#team-member-name', 'bob');
    await page.click('#team-member-add');
    await onPage('/-/web/org/acme/team/devs');
    assert.equal(await page.locator('#team-members tr[data-team-member="bob"]').count(), 1);
    // Teams never reach beyond their org's scope.
    await page.fill('#grant-package', 'left-pad');
    await page.click('#grant-submit');
    assert.equal(await attr('.error', 'data-code'), 'PACKAGE_NOT_IN_ORG');
    await page.fill('#grant-package', WIDGET);
    await page.selectOption('#grant-permission', 'read-write');
    await page.click('#grant-submit');
    await onPage('/-/web/org/acme/team/devs');
    assert.equal(await attr(`#grants tr[data-grant="${WIDGET}"] td[data-permission]`, 'data-permission'), 'read-write');
    await browser.screenshot('team');
    await page.click('#back-to-org');
    assert.equal(await attr('#teams tr[data-team="devs"] td[data-members]', 'data-members'), '1');
    assert.equal(await page.locator(`#org-packages tr[data-package="${WIDGET}"]`).count(), 1);
  });

  it('makes the package restricted and sets its 2FA policy; then a change needs a second factor Alice has not set up', async () => {
    const { page } = browser;
    await page.click(`#org-packages tr[data-package="${WIDGET}"] a`);
    await onPage(WIDGET_ACCESS);
    assert.equal(await attr('#access-state', 'data-access'), 'public');
    assert.deepEqual(await page.locator('#maintainers li').allTextContents(), ['alice']);
    assert.equal(await attr('#package-teams tr[data-team="acme:devs"] td[data-permission]', 'data-permission'), 'read-write');
    await page.selectOption('#access-status', 'restricted');
    await page.click('#access-submit');
    await onPage(WIDGET_ACCESS);
    assert.equal(await attr('#access-state', 'data-access'), 'restricted');
    await page.selectOption('#mfa-policy', 'publish');
    await page.click('#mfa-submit');
    await onPage(WIDGET_ACCESS);
    assert.equal(await attr('#mfa-state', 'data-mfa'), 'publish');
    await browser.screenshot('package-access');
    // The policy now asks every write for a second factor: Alice has none. The core says so, the
    // page shows why instead of the forms, and a posted change is refused with that code.
    assert.equal(await attr('#access-read-only', 'data-reason'), 'AUTHZ_MFA_ENROLLMENT_REQUIRED');
    assert.equal(await page.locator('#access-submit, #mfa-submit').count(), 0);
    await browser.screenshot('package-access-needs-2fa');
    const alice = await logIn('alice');
    await alice.get(WIDGET_ACCESS);
    refused(await alice.post(WIDGET_ACCESS, { access: 'public' }), 403, 'AUTHZ_MFA_ENROLLMENT_REQUIRED', 'a write under the 2FA policy without a second factor');
    // The npm view of the same settings agrees.
    const login = await request('PUT', `${url}/-/user/org.couchdb.user:alice`, null, { name: 'alice', password: PASSWORD });
    const visibility = await request('GET', `${url}/-/package/${encodeURIComponent(WIDGET)}/visibility`, login.body.token as string);
    assert.deepEqual(visibility.body, { public: false, mfa: 'publish' });
  });

  it('Bob sees the org and the package, but no management forms; the core refuses his changes and the audit log', async () => {
    const orgs = await bob.get('/-/web/orgs');
    assert.match(orgs.html, /data-org="acme"[^]*data-role="member"/);
    const org = await bob.get('/-/web/org/acme');
    assert.equal(org.status, 200);
    assert.doesNotMatch(org.html, /id="member-add"|id="team-create"|id="audit-link"/);
    assert.match(org.html, /data-package="@acme\/widget"/);
    refused(await bob.get('/-/web/org/acme/audit'), 403, 'AUTHZ_ORG_ADMIN_REQUIRED', 'a developer reading the audit log');
    refused(await bob.post('/-/web/org/acme/members', { user: 'carol', role: 'developer' }), 403, 'AUTHZ_ORG_ADMIN_REQUIRED', 'a developer adding a member');
    refused(await bob.post('/-/web/org/acme/teams', { team: 'mine' }), 403, 'AUTHZ_ORG_ADMIN_REQUIRED', 'a developer creating a team');
    refused(await bob.post('/-/web/org/acme/team/devs/grants/revoke', { package: WIDGET }), 403, 'AUTHZ_ORG_ADMIN_REQUIRED', 'a developer revoking a grant');
    const access = await bob.get('/-/web/package/%40acme%2Fwidget/access');
    assert.equal(access.status, 200, 'read-write through the team: Bob can read the restricted package');
    assert.match(access.html, /id="access-read-only" data-reason="AUTHZ_ORG_ADMIN_REQUIRED"/);
    assert.doesNotMatch(access.html, /id="access-submit"|id="mfa-submit"/);
    refused(await bob.post('/-/web/package/%40acme%2Fwidget/access', { access: 'public' }), 403, 'AUTHZ_ORG_ADMIN_REQUIRED', 'a developer changing the status');
  });

  it('an outsider gets the missing-org and missing-package pages, for reads and for changes', async () => {
    const missingOrg = await carol.get('/-/web/org/nosuchorg');
    refused(missingOrg, 404, 'ORG_NOT_FOUND', 'a missing org');
    const hiddenOrg = await carol.get('/-/web/org/acme');
    refused(hiddenOrg, 404, 'ORG_NOT_FOUND', 'an org one is not in');
    assert.equal(hiddenOrg.html.replace('acme', 'X'), missingOrg.html.replace('nosuchorg', 'X'), 'the same page as for a missing org');
    refused(await carol.get('/-/web/org/acme/team/devs'), 404, 'ORG_NOT_FOUND', 'a team of an org one is not in');
    refused(await carol.get('/-/web/org/acme/audit'), 404, 'ORG_NOT_FOUND', 'the audit log of an org one is not in');
    refused(await carol.post('/-/web/org/acme/members', { user: 'carol', role: 'owner' }), 404, 'ORG_NOT_FOUND', 'an outsider making themself owner');
    const missingPkg = await carol.get('/-/web/package/@acme/nothing/access');
    refused(missingPkg, 404, 'PACKAGE_NOT_FOUND', 'a missing package');
    for (const path of [WIDGET_ACCESS, '/-/web/package/%40acme%2Fwidget/access']) {
      const hidden = await carol.get(path);
      refused(hidden, 404, 'PACKAGE_NOT_FOUND', `the restricted package at ${path}`);
      assert.equal(hidden.html.replace('widget', 'X'), missingPkg.html.replace('nothing', 'X'), 'the same page as for a missing package');
    }
    refused(await carol.post(WIDGET_ACCESS, { access: 'public' }), 404, 'PACKAGE_NOT_FOUND', 'an outsider changing a restricted package');
  });

  it('refuses forms without the session\'s CSRF token, and changes nothing', async () => {
    const alice = await logIn('alice');
    await alice.get('/-/web/org/acme');
    refused(await alice.post('/-/web/org/acme/members', { user: 'carol', role: 'developer' }, null), 403, 'CSRF_TOKEN_INVALID', 'no token');
    refused(await alice.post('/-/web/org/acme/members', { user: 'carol', role: 'developer' }, 'forged'), 403, 'CSRF_TOKEN_INVALID', 'a wrong token');
    refused(await alice.post('/-/web/orgs', { name: 'other' }, bob.csrf), 403, 'CSRF_TOKEN_INVALID', 'another session\'s token');
    refused(await alice.post('/-/web/package/%40acme%2Fwidget/mfa', { mfa: 'none' }, null), 403, 'CSRF_TOKEN_INVALID', 'no token on the 2FA form');
    const org = await alice.get('/-/web/org/acme');
    assert.doesNotMatch(org.html, /data-member="carol"/);
    assert.equal((await alice.get('/-/web/orgs')).html.includes('data-org="other"'), false);
    // With the token, the same form works (and values outside the closed sets are refused).
    refused(await alice.post('/-/web/org/acme/members', { user: 'carol', role: 'emperor' }), 400, 'ORG_BAD_ROLE', 'an unknown role');
    refused(await alice.post('/-/web/package/%40acme%2Fwidget/mfa', { mfa: 'sometimes' }), 400, 'BAD_MFA_POLICY', 'an unknown 2FA policy');
  });

  it('someone with an authenticator app confirms an org change with a one-time password in the form', async () => {
    const dave = await signUp('dave');
    await dave.post('/-/web/account/totp/start', {});
    const setup = await dave.get('/-/web/account/totp');
    const secret = /data-secret="([A-Z2-7]+)"/.exec(setup.html)?.[1] ?? assert.fail('no key on the set-up page');
    assert.equal((await dave.post('/-/web/account/totp/confirm', { code: totpCode(secret, Date.now()) })).status, 200);
    const orgs = await dave.get('/-/web/orgs');
    assert.match(orgs.html, /id="org-create-otp" name="otp"/, 'the form offers the code field');
    // The web session's login is not a per-change confirmation: writes ask for a code, as npm does.
    refused(await dave.post('/-/web/orgs', { name: 'dept' }), 401, 'OTP_REQUIRED', 'a write without the code');
    refused(await dave.post('/-/web/orgs', { name: 'dept', otp: '12345' }), 401, 'OTP_INVALID', 'a malformed code');
    const created = await dave.post('/-/web/orgs', { name: 'dept', otp: totpCode(secret, Date.now() + 30_000) });
    assert.equal(created.status, 303, `created with the code: ${created.code}`);
    assert.match((await dave.get('/-/web/orgs')).html, /data-org="dept"/);
  });

  it('Alice reads the audit log: every change, newest first, with actor and subject', async () => {
    const { page } = browser;
    await page.goto(`${url}/-/web/org/acme`);
    await page.click('#audit-link');
    await onPage('/-/web/org/acme/audit');
    await browser.screenshot('audit');
    const rows = await page.locator('#org-audit tr[data-event]').evaluateAll((trs) => trs.map((tr) => ({
      event: tr.getAttribute('data-event'),
      actor: tr.querySelector('[data-actor]')?.getAttribute('data-actor'),
      subject: tr.querySelector('[data-subject]')?.getAttribute('data-subject'),
      pkg: tr.querySelector('[data-package]')?.getAttribute('data-package'),
    })));
    assert.deepEqual(rows, [
      { event: 'package.mfa-policy-changed', actor: 'alice', subject: '', pkg: WIDGET },
      { event: 'access.changed', actor: 'alice', subject: '', pkg: WIDGET },
      { event: 'team.package-granted', actor: 'alice', subject: '', pkg: WIDGET },
      { event: 'team.member-added', actor: 'alice', subject: 'bob', pkg: '' },
      { event: 'team.created', actor: 'alice', subject: '', pkg: '' },
      { event: 'org.member-set', actor: 'alice', subject: 'bob', pkg: '' },
      { event: 'release.published', actor: 'alice', subject: '', pkg: WIDGET },
      { event: 'org.created', actor: 'alice', subject: '', pkg: '' },
    ]);
    assert.match(await text('#org-audit tr[data-event="org.member-set"]'), /role: member/);
    assert.match(await text('#org-audit tr[data-event="team.package-granted"]'), /team: devs; permission: read-write/);
    assert.match(await text('#org-audit tr[data-event="access.changed"]'), /access: restricted/);
    const times = await page.locator('#org-audit time').evaluateAll((ts) => ts.map((t) => Date.parse(t.getAttribute('datetime') ?? '')));
    assert.deepEqual(times, [...times].sort((a, b) => b - a));
  });

  it('changes a role, revokes, removes from the team, deletes the team and removes the member', async () => {
    const alice = await logIn('alice');
    await alice.get('/-/web/org/acme');
    const ok = async (path: string, fields: Record<string, string>, notice: RegExp) => {
      const r = await alice.post(path, fields);
      assert.equal(r.status, 303, `${path}: ${r.code}`);
      const back = await alice.get(r.location as string);
      assert.match(back.html, notice);
      return back;
    };
    const admin = await ok('/-/web/org/acme/members', { user: 'bob', role: 'admin' }, /bob is now an admin of @acme/);
    assert.match(admin.html, /data-member="bob"><td>bob<\/td><td data-role="admin"/);
    const team = '/-/web/org/acme/team/devs';
    assert.doesNotMatch((await ok(`${team}/grants/revoke`, { package: WIDGET }, /no longer has access/)).html, /data-grant=/);
    refused(await alice.post(`${team}/grants/revoke`, { package: WIDGET }), 404, 'TEAM_GRANT_NOT_FOUND', 'revoking twice');
    assert.doesNotMatch((await ok(`${team}/members/remove`, { user: 'bob' }, /bob is no longer in acme:devs/)).html, /data-team-member=/);
    refused(await alice.post(`${team}/members/remove`, { user: 'bob' }), 404, 'TEAM_MEMBER_NOT_FOUND', 'removing twice');
    assert.doesNotMatch((await ok('/-/web/org/acme/teams/delete', { team: 'devs' }, /Team devs deleted/)).html, /data-team="devs"/);
    refused(await alice.get(team), 404, 'TEAM_NOT_FOUND', 'a deleted team');
    assert.doesNotMatch((await ok('/-/web/org/acme/members/remove', { user: 'bob' }, /bob is no longer a member of @acme/)).html, /data-member="bob"/);
    refused(await bob.get('/-/web/org/acme'), 404, 'ORG_NOT_FOUND', 'a former member');
  });

  it('ran no inline script and broke no Content-Security-Policy rule', () => {
    // Refusals are pages with a 4xx status, which Chromium logs; anything else is a real error.
    assert.deepEqual(browser.consoleErrors.filter((m) => !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m)), []);
  });
});
