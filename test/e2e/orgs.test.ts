// Organizations with the real npm CLI: `npm org`, `npm team`, `npm access grant/revoke/list` and
// publishing into an org scope, against a real server. The org is created with Attestry's
// `POST /-/org` (npm has no command for it). Refusals: an outsider and a member without a team get
// a missing package's 404 for a restricted org package; a read-only team installs but cannot publish.
// Then the org's audit log (owners and admins; JSON), the account history of the people changes
// concern, maintainers limited to org members, and npm's per-package 2FA setting (`npm access set mfa=`).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createUser, type TestUser } from '../support/accounts.ts';
import { Client } from '../support/clients.ts';
import { escapeName, request } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { totpCode } from '../../src/security/mfa/totp.ts';

interface AuditEntry { type: string; actor: string | null; subject: string | null; package: string | null; data: Record<string, unknown> }

describe('organizations with the npm CLI (sqlite)', { timeout: 300_000 }, () => {
  let registry: TestRegistry;
  const users: Record<string, TestUser> = {};
  const npm: Record<string, Client> = {};
  const widget = '@acme/widget';

  const project = (who: string, name: string, version: string): string =>
    (npm[who] as Client).project(name, { version, main: 'index.js' }, { 'index.js': `module.exports = ${JSON.stringify(`${name}@${version}`)};\n` });
  const as = (who: string): Client => npm[who] as Client;
  const token = (who: string): string => (users[who] as TestUser).token;

  before(async () => {
    registry = await startRegistry();
    for (const name of ['olive', 'adam', 'bob', 'carol', 'rita']) {
      users[name] = await createUser(registry.url, name);
      const client = new Client('npm', registry.url);
      client.setToken(token(name));
      npm[name] = client;
    }
  });
  after(async () => registry?.destroy());

  it('creates an org over HTTP; refuses a taken name, a user\'s name and anonymous callers', async () => {
    const created = await request('POST', `${registry.url}/-/org`, token('olive'), { name: 'acme' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal((await request('POST', `${registry.url}/-/org`, token('bob'), { name: 'acme' })).body.code, 'ORG_NAME_TAKEN');
    assert.equal((await request('POST', `${registry.url}/-/org`, token('bob'), { name: 'carol' })).body.code, 'ORG_NAME_TAKEN');
    assert.equal((await request('POST', `${registry.url}/-/org`, null, { name: 'other' })).status, 401);
    assert.equal((await request('POST', `${registry.url}/-/org`, token('bob'), { name: 'Not An Org' })).body.code, 'ORG_BAD_NAME');
  });

  it('npm org set / ls: owners and admins add people; a developer cannot', async () => {
    const dir = project('olive', 'scratch', '1.0.0');
    const set = await as('olive').ok(['org', 'set', 'acme', 'bob', 'developer'], dir);
    assert.match(set.stdout, /Added bob as developer to acme/);
    await as('olive').ok(['org', 'set', 'acme', 'adam', 'admin'], dir);
    await as('adam').ok(['org', 'set', 'acme', 'rita'], dir);
    const refused = await as('bob').run(['org', 'set', 'acme', 'carol', 'developer'], dir);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /403|AUTHZ_ORG_ADMIN_REQUIRED|Only owners and admins/);
    const ls = await as('bob').ok(['org', 'ls', 'acme', '--json'], dir);
    assert.deepEqual(JSON.parse(ls.stdout), { adam: 'admin', bob: 'developer', olive: 'owner', rita: 'developer' });
    // An outsider is told there is no such org.
    const outsider = await request('GET', `${registry.url}/-/org/acme/user`, token('carol'));
    assert.deepEqual([outsider.status, outsider.body.code], [404, 'ORG_NOT_FOUND']);
  });

  it('npm team create / add / ls and npm access grant / list', async () => {
    const dir = project('olive', 'scratch', '1.0.0');
    // The org owner publishes the first version, restricted.
    await as('olive').ok(['publish', '--access', 'restricted'], project('olive', widget, '1.0.0'));
    await as('adam').ok(['team', 'create', 'acme:devs'], dir);
    await as('adam').ok(['team', 'create', 'acme:readers'], dir);
    await as('adam').ok(['team', 'add', 'acme:devs', 'bob'], dir);
    await as('adam').ok(['team', 'add', 'acme:readers', 'rita'], dir);
    const teams = await as('bob').ok(['team', 'ls', 'acme', '--json'], dir);
    assert.deepEqual(JSON.parse(teams.stdout).sort(), ['acme:devs', 'acme:readers']);
    const members = await as('bob').ok(['team', 'ls', 'acme:devs', '--json'], dir);
    assert.deepEqual(JSON.parse(members.stdout), ['bob']);
    const notMember = await as('adam').run(['team', 'add', 'acme:devs', 'carol'], dir);
    assert.notEqual(notMember.code, 0);
    assert.match(notMember.stderr, /TEAM_MEMBER_NOT_IN_ORG|not a member of acme/);

    await as('adam').ok(['access', 'grant', 'read-write', 'acme:devs', widget], dir);
    await as('adam').ok(['access', 'grant', 'read-only', 'acme:readers', widget], dir);
    const refused = await as('bob').run(['access', 'grant', 'read-write', 'acme:readers', widget], dir);
    assert.notEqual(refused.code, 0);
    const pkgs = await as('bob').ok(['access', 'list', 'packages', 'acme:devs', '--json'], dir);
    assert.deepEqual(JSON.parse(pkgs.stdout), { [widget]: 'read-write' });
    const collaborators = await as('rita').ok(['access', 'list', 'collaborators', widget, '--json'], dir);
    assert.deepEqual(JSON.parse(collaborators.stdout), { olive: 'read-write', 'acme:devs': 'read-write', 'acme:readers': 'read-only' });
    const orgPkgs = await as('olive').ok(['access', 'list', 'packages', 'acme', '--json'], dir);
    assert.deepEqual(JSON.parse(orgPkgs.stdout), { [widget]: 'read-write' });
    // A user's scope is not an org: npm falls back to the user route.
    const own = await as('bob').ok(['access', 'list', 'packages', 'bob', '--json'], dir);
    assert.deepEqual(JSON.parse(own.stdout), {});
  });

  it('a read-write team publishes; outsiders, members without a team and admins get 404; a read-only team installs but cannot publish', async () => {
    await as('bob').ok(['publish'], project('bob', widget, '1.1.0'));
    for (const who of ['carol', 'adam']) {
      const r = await as(who).run(['publish'], project(who, widget, '1.2.0'));
      assert.notEqual(r.code, 0, who);
      assert.match(r.stderr, /E404|404 Not Found/, who);
      assert.equal((await request('GET', `${registry.url}/${escapeName(widget)}`, token(who))).status, 404, who);
    }
    const dir = as('rita').project('consumer', { version: '1.0.0', private: true });
    await as('rita').ok(['install', widget], dir);
    assert.match(readFileSync(path.join(dir, 'node_modules', '@acme', 'widget', 'index.js'), 'utf8'), /1\.1\.0/);
    const ro = await as('rita').run(['publish'], project('rita', widget, '1.3.0'));
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /E403|read-only access/);
    // Any developer may create a new package in the org scope; an admin may not, an outsider may not.
    await as('rita').ok(['publish'], project('rita', '@acme/gadget', '1.0.0'));
    const adminNew = await as('adam').run(['publish'], project('adam', '@acme/admin-thing', '1.0.0'));
    assert.match(adminNew.stderr, /E403|manage people/);
    const outsiderNew = await as('carol').run(['publish'], project('carol', '@acme/carols', '1.0.0'));
    assert.match(outsiderNew.stderr, /E403|not a member/);
  });

  it('npm team rm and npm org rm take access away', async () => {
    const dir = project('olive', 'scratch', '1.0.0');
    await as('adam').ok(['team', 'rm', 'acme:devs', 'bob'], dir);
    const r = await as('bob').run(['publish'], project('bob', widget, '1.4.0'));
    assert.match(r.stderr, /E404|404 Not Found/);
    const rm = await as('olive').ok(['org', 'rm', 'acme', 'rita'], dir);
    assert.match(rm.stdout, /rita.*removed|Successfully removed rita/i);
    assert.equal((await request('GET', `${registry.url}/${escapeName(widget)}`, token('rita'))).status, 404);
    await as('adam').ok(['access', 'revoke', 'acme:readers', widget], dir);
    const collaborators = await as('olive').ok(['access', 'list', 'collaborators', widget, '--json'], dir);
    assert.deepEqual(JSON.parse(collaborators.stdout), { olive: 'read-write', 'acme:devs': 'read-write' });
    await as('adam').ok(['team', 'destroy', 'acme:devs'], dir);
    const left = await as('olive').ok(['team', 'ls', 'acme', '--json'], dir);
    assert.deepEqual(JSON.parse(left.stdout), ['acme:readers']);
  });
  it('npm owner add on an org package: only members of the org; the person added sees it in their history', async () => {
    const dir = project('olive', 'scratch', '1.0.0');
    const outsider = await as('olive').run(['owner', 'add', 'carol', widget], dir);
    assert.notEqual(outsider.code, 0);
    assert.match(outsider.stderr, /OWNER_NOT_IN_ORG|carol is not a member of @acme/);
    await as('olive').ok(['owner', 'add', 'bob', widget], dir);
    const ls = await as('bob').ok(['owner', 'ls', widget], dir);
    assert.match(ls.stdout, /^bob /m);
    const mine = await request('GET', `${registry.url}/-/npm/v1/user/audit`, token('bob'));
    assert.equal(mine.status, 200);
    const added = (mine.body.objects as AuditEntry[]).find((e) => e.type === 'owner.added');
    assert.deepEqual(added && { actor: added.actor, subject: added.subject, package: added.package }, { actor: 'olive', subject: 'bob', package: widget });
    // What was done to bob in the org shows in his history too; carol's stays her own.
    assert.ok((mine.body.objects as AuditEntry[]).some((e) => e.type === 'org.member-set' && e.actor === 'olive' && e.subject === 'bob'));
    const carols = await request('GET', `${registry.url}/-/npm/v1/user/audit`, token('carol'));
    assert.ok((carols.body.objects as AuditEntry[]).every((e) => e.actor === 'carol' || e.subject === 'carol'), JSON.stringify(carols.body));
  });

  it('the org audit log: every grant, role change and package event, for owners and admins only', async () => {
    const log = await request('GET', `${registry.url}/-/npm/v1/org/acme/audit?limit=500`, token('adam'));
    assert.equal(log.status, 200, JSON.stringify(log.body));
    const entries = log.body.objects as AuditEntry[];
    const has = (type: string, match: Partial<AuditEntry> = {}) =>
      assert.ok(entries.some((e) => e.type === type && Object.entries(match).every(([k, v]) => (e as unknown as Record<string, unknown>)[k] === v)), `${type} ${JSON.stringify(match)}`);
    has('org.created', { actor: 'olive' });
    has('org.member-set', { actor: 'olive', subject: 'adam' });
    has('org.member-set', { actor: 'adam', subject: 'rita' });
    has('org.member-removed', { actor: 'olive', subject: 'rita' });
    has('team.created', { actor: 'adam' });
    has('team.member-added', { actor: 'adam', subject: 'bob' });
    has('team.member-removed', { actor: 'adam', subject: 'bob' });
    has('team.package-granted', { actor: 'adam', package: widget });
    has('team.package-revoked', { actor: 'adam', package: widget });
    has('team.deleted', { actor: 'adam' });
    has('release.published', { actor: 'bob', package: widget });
    has('owner.added', { actor: 'olive', subject: 'bob', package: widget });
    // Newest first, and nothing from outside the org.
    assert.ok(entries.every((e, i) => i === 0 || Date.parse((entries[i - 1] as unknown as { at: string }).at) >= Date.parse((e as unknown as { at: string }).at)));
    assert.ok(entries.every((e) => e.package === null || e.package.startsWith('@acme/')), 'only the org\'s packages');
    const developer = await request('GET', `${registry.url}/-/npm/v1/org/acme/audit`, token('bob'));
    assert.deepEqual([developer.status, developer.body.code], [403, 'AUTHZ_ORG_ADMIN_REQUIRED']);
    const outsider = await request('GET', `${registry.url}/-/npm/v1/org/acme/audit`, token('carol'));
    assert.deepEqual([outsider.status, outsider.body.code], [404, 'ORG_NOT_FOUND']);
    assert.equal((await request('GET', `${registry.url}/-/npm/v1/org/acme/audit`, null)).status, 401);
  });

  it('audit logs are read page by page: `next` continues where a page ended, nothing skipped or repeated', async () => {
    const read = (path: string, who: string) => request('GET', `${registry.url}${path}`, token(who));
    for (const [path, who] of [['/-/npm/v1/org/acme/audit', 'adam'], ['/-/npm/v1/user/audit', 'olive']] as const) {
      const whole = await read(`${path}?limit=500`, who);
      assert.equal(whole.body.next, null, 'everything fits in one page of 500');
      const all = (whole.body.objects as Array<{ id: number }>).map((e) => e.id);
      assert.ok(all.length > 5, `${path}: ${all.length} events`);
      const paged: number[] = [];
      let next: unknown = '';
      for (let pages = 0; next !== null; pages++) {
        assert.ok(pages <= all.length, 'the listing ends');
        const page = await read(`${path}?limit=3${next ? `&before=${String(next)}` : ''}`, who);
        assert.equal(page.status, 200, JSON.stringify(page.body));
        paged.push(...(page.body.objects as Array<{ id: number }>).map((e) => e.id));
        next = page.body.next;
      }
      assert.deepEqual(paged, all, path);
    }
    const bad = await read('/-/npm/v1/org/acme/audit?before=yesterday', 'adam');
    assert.deepEqual([bad.status, bad.body.code], [400, 'BAD_CURSOR']);
  });

  it('a person cannot sign up with an organization\'s name (it is their scope)', async () => {
    const r = await request('PUT', `${registry.url}/-/user/org.couchdb.user:acme`, null,
      { _id: 'org.couchdb.user:acme', name: 'acme', password: 'pw-acme-secret-long', email: 'acme@example.com', type: 'user', roles: [] });
    assert.deepEqual([r.status, r.body.code], [409, 'USERNAME_TAKEN']);
  });

  it('npm access set mfa=publish|none: the package asks for a second factor whatever the registry says', async () => {
    const dir = project('olive', 'scratch', '1.0.0');
    await as('olive').ok(['access', 'set', 'mfa=publish', widget], dir);
    assert.equal((await request('GET', `${registry.url}/-/package/${escapeName(widget)}/visibility`, token('olive'))).body.mfa, 'publish');
    // Without a second factor, nothing can be published to it any more.
    const none = await as('olive').run(['publish'], project('olive', widget, '1.5.0'));
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /@acme\/widget requires two-factor/);
    // Olive enrols an authenticator app for logins only: the package still asks for it on writes.
    const start = await request('POST', `${registry.url}/-/npm/v1/user`, token('olive'), { tfa: { password: (users.olive as TestUser).password, mode: 'auth-only' } });
    const secret = new URL(String(start.body.tfa)).searchParams.get('secret') as string;
    const step = Math.floor(Date.now() / 30_000);
    assert.equal((await request('POST', `${registry.url}/-/npm/v1/user`, token('olive'), { tfa: [totpCode(secret, step * 30_000)] })).status, 200);
    const noOtp = await as('olive').run(['publish'], project('olive', widget, '1.5.0'));
    assert.match(noOtp.stderr, /EOTP|one-time password/);
    // The next step's code (the enrolment used this one), reused by the same token within its window.
    const otp = totpCode(secret, (step + 1) * 30_000);
    await as('olive').ok(['publish', `--otp=${otp}`], project('olive', widget, '1.5.0'));
    await as('olive').ok(['access', 'set', 'mfa=none', widget, `--otp=${otp}`], dir);
    assert.equal((await request('GET', `${registry.url}/-/package/${escapeName(widget)}/visibility`, token('olive'))).body.mfa, 'none');
    const bad = await request('POST', `${registry.url}/-/package/${escapeName(widget)}/access`, token('olive'), { publish_requires_tfa: 'yes' });
    assert.deepEqual([bad.status, bad.body.code], [400, 'BAD_MFA_POLICY']);
    // A developer cannot change it (people-and-policy management).
    const bob = await as('bob').run(['access', 'set', 'mfa=none', widget], dir);
    assert.match(bob.stderr, /E403|owners and admins/);
  });
  it('trusted publishers and the provenance window follow the org rules: a maintainer who left the org sees nothing', async () => {
    const at = (what: string) => `${registry.url}/-/package/${escapeName(widget)}/${what}`;
    // While a member and maintainer, bob reads both settings; a developer without a team reads neither.
    assert.equal((await request('GET', at('provenance'), token('bob'))).status, 200);
    assert.equal((await request('GET', at('trust'), token('bob'))).status, 200);
    await as('olive').ok(['org', 'rm', 'acme', 'bob'], project('olive', 'scratch', '1.0.0'));
    const provenance = await request('GET', at('provenance'), token('bob'));
    assert.deepEqual([provenance.status, provenance.body.code], [404, 'PACKAGE_NOT_FOUND']);
    const trust = await request('GET', at('trust'), token('bob'));
    assert.deepEqual([trust.status, trust.body.code], [403, 'AUTHZ_ORG_MEMBER_REQUIRED']);
    const window = await request('PUT', at('provenance'), token('bob'), { changeAllowedUntil: new Date(Date.now() + 86_400_000).toISOString() });
    assert.equal(window.status, 404);
    assert.equal((await request('GET', at('provenance'), token('olive'))).status, 200);
  });
  it('an outsider cannot tell a private package from a missing one by any package route\'s answer', async () => {
    const missing = '@acme/never-published';
    for (const what of ['visibility', 'collaborators', 'dist-tags', 'provenance', 'trust']) {
      const path = (n: string) => (what === 'dist-tags' ? `/-/package/${escapeName(n)}/dist-tags` : `/-/package/${escapeName(n)}/${what}`);
      const hidden = await request('GET', `${registry.url}${path(widget)}`, token('carol'));
      const absent = await request('GET', `${registry.url}${path(missing)}`, token('carol'));
      assert.equal(hidden.status, absent.status, what);
      assert.equal(JSON.stringify(hidden.body).replaceAll(widget, 'NAME'), JSON.stringify(absent.body).replaceAll(missing, 'NAME'), what);
    }
  });
  it('nor by the answer to a wrong credential or a wrong one-time password, on the document, a version or a tarball', async () => {
    const missing = '@acme/never-published';
    const paths = (n: string) => [`/${escapeName(n)}`, `/${escapeName(n)}/1.0.0`, `/${n}/-/${n.split('/')[1]}-1.0.0.tgz`, `/-/package/${escapeName(n)}/visibility`];
    const callers: Array<[string, string | null, Record<string, string>, number]> = [
      ['anonymous', null, {}, 404],
      // A read never asks for a second factor, so a wrong code sent along is not checked (and not counted).
      ['an outsider with a wrong one-time password', token('carol'), { 'npm-otp': '000000' }, 404],
      // A credential that is no one's is refused before anything is looked up, whatever the name.
      ['a token that is no one\'s', 'atr_notarealtoken', {}, 401],
    ];
    for (const [who, bearer, headers, status] of callers) {
      const hiddenPaths = paths(widget);
      const absentPaths = paths(missing);
      for (let i = 0; i < hiddenPaths.length; i++) {
        const hidden = await request('GET', `${registry.url}${hiddenPaths[i]}`, bearer, undefined, headers);
        const absent = await request('GET', `${registry.url}${absentPaths[i]}`, bearer, undefined, headers);
        assert.deepEqual([hidden.status, absent.status], [status, status], `${who}: ${hiddenPaths[i]}`);
        assert.equal(JSON.stringify(hidden.body).replaceAll(widget, 'NAME').replaceAll('widget', 'BASE'), JSON.stringify(absent.body).replaceAll(missing, 'NAME').replaceAll('never-published', 'BASE'), `${who}: ${hiddenPaths[i]}`);
      }
    }
    // The owner, who has an authenticator app, still reads with a stale code in her configuration.
    assert.equal((await request('GET', `${registry.url}/${escapeName(widget)}`, token('olive'), undefined, { 'npm-otp': '000000' })).status, 200);
  });
});
