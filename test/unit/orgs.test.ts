// Organizations: the authorizer's org rules (pure), and the org service with its store operations
// on a real store (SQLite always; PostgreSQL too when ATTESTRY_TEST_POSTGRES_URL is set).
// Refusals first: each asserts the stable code or rule.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { storesUnderTest } from '../support/postgres.ts';
import { openTestStore, type TestStore } from '../support/test-store.ts';
import type { Logger } from '../../src/core/logger.ts';
import { isAttestryError } from '../../src/core/errors.ts';
import { OrgService, grantNewOrgPackage } from '../../src/core/orgs/org-service.ts';
import { orgStandingFor, resourceFor } from '../../src/core/packages/access.ts';
import type { Ecosystem } from '../../src/core/packages/ecosystem.ts';
import { Authorizer, type OrgStanding, type PackageAction, type PackageResource } from '../../src/security/authz/authorize.ts';
import { ANONYMOUS, type Principal } from '../../src/security/authz/principal.ts';
import type { SqlMetadataStore } from '../../src/storage/metadata/sql/sql-store.ts';
import type { UserRecord } from '../../src/storage/metadata/store.ts';

const NOW = Date.UTC(2026, 5, 1);
const entries: Array<{ msg: string; fields: Record<string, unknown> | undefined }> = [];
const log: Logger = {
  debug: () => undefined, warn: () => undefined, error: () => undefined, debugEnabled: false,
  info: (msg, fields) => void entries.push({ msg, fields }),
};
const authorizer = new Authorizer(log);
const user = (userId: number, name: string, over: Partial<Extract<Principal, { kind: 'user' }>> = {}): Principal =>
  ({ kind: 'user', userId, name, isAdmin: false, token: { id: `t${userId}`, readonly: false, kind: 'session' }, ...over });

// ---------- package decisions in an org scope (pure) ----------

const BOB = 2;
const pkgIn = (state: PackageResource['state'], access: PackageResource['access'], org: OrgStanding, ownerIds: number[] = []): PackageResource =>
  ({ ecosystem: 'npm', name: '@acme/widget', scope: 'acme', state, access, ownerIds, org });
const STANDING = {
  owner: { role: 'owner', teamPermission: null },
  admin: { role: 'admin', teamPermission: null },
  member: { role: 'member', teamPermission: null },
  'member, team read-only': { role: 'member', teamPermission: 'read-only' },
  'member, team read-write': { role: 'member', teamPermission: 'read-write' },
  'admin, team read-write': { role: 'admin', teamPermission: 'read-write' },
  outsider: { role: null, teamPermission: null },
} satisfies Record<string, OrgStanding>;
const decide = (action: PackageAction, r: PackageResource, p: Principal = user(BOB, 'bob')) => authorizer.check(p, action, r);

describe('package decisions in an org scope', () => {
  it('refuses creation to outsiders and admins without a team; allows owners and developers', () => {
    assert.equal(decide('package:create', pkgIn(null, 'public', STANDING.outsider)).rule, 'org-member-required');
    assert.equal(decide('package:create', pkgIn(null, 'public', STANDING.admin)).rule, 'org-admin-not-publisher');
    assert.deepEqual(decide('package:create', pkgIn(null, 'public', STANDING.member)), { allow: true, rule: 'org-member-creates' });
    assert.deepEqual(decide('package:create', pkgIn(null, 'public', STANDING.owner)), { allow: true, rule: 'org-member-creates' });
    // The user `acme`'s own-scope rule does not apply once the scope is an org, even to a user named acme.
    assert.equal(decide('package:create', pkgIn(null, 'public', STANDING.outsider), user(9, 'acme')).rule, 'org-member-required');
  });

  it('refuses publishing to admins, plain members, read-only teams and outsiders (hidden when restricted)', () => {
    for (const access of ['public', 'restricted'] as const) {
      assert.equal(decide('package:publish', pkgIn('live', access, STANDING.admin)).rule, access === 'public' ? 'org-admin-not-publisher' : 'no-such-package');
      assert.equal(decide('package:publish', pkgIn('live', access, STANDING['member, team read-only'])).rule, 'team-read-only');
      const d = decide('package:publish', pkgIn('live', access, STANDING.outsider));
      assert.equal(d.allow, false);
      assert.equal(!d.allow && d.outcome, access === 'restricted' ? 'hidden' : 'forbidden');
      assert.equal(decide('package:publish', pkgIn('live', access, STANDING.member)).allow, false);
      // Re-creating through `package:create` on a live name takes the same rules.
      assert.equal(decide('package:create', pkgIn('live', access, STANDING['member, team read-only'])).rule, 'owner-required');
    }
  });

  it('allows publishing to org owners, read-write teams (also an admin in one) and maintainers who are members', () => {
    assert.deepEqual(decide('package:publish', pkgIn('live', 'restricted', STANDING.owner)), { allow: true, rule: 'org-write' });
    assert.deepEqual(decide('package:publish', pkgIn('live', 'restricted', STANDING['member, team read-write'])), { allow: true, rule: 'org-write' });
    assert.deepEqual(decide('package:publish', pkgIn('live', 'public', STANDING['admin, team read-write'])), { allow: true, rule: 'org-write' });
    assert.deepEqual(decide('package:publish', pkgIn('live', 'public', STANDING.member, [BOB])), { allow: true, rule: 'owner' });
    // A maintainer who left the org lost the package with the membership.
    assert.equal(decide('package:publish', pkgIn('live', 'public', STANDING.outsider, [BOB])).rule, 'owner-required');
  });

  it('hides restricted packages from outsiders, admins and plain members; shows them to teams and owners', () => {
    for (const who of ['outsider', 'admin', 'member'] as const) {
      const d = decide('package:read', pkgIn('live', 'restricted', STANDING[who], who === 'outsider' ? [] : []));
      assert.deepEqual([d.allow, !d.allow && d.outcome, d.rule], [false, 'hidden', 'restricted-read'], who);
    }
    assert.equal(decide('package:read', pkgIn('live', 'restricted', STANDING.owner)).rule, 'org-owner-read');
    assert.equal(decide('package:read', pkgIn('live', 'restricted', STANDING['member, team read-only'])).rule, 'team-read');
    assert.equal(decide('package:read', pkgIn('live', 'restricted', STANDING.outsider, [BOB])).allow, false);
  });

  it('npm owner add/rm on an org package is for org owners and admins only', () => {
    assert.equal(decide('package:owners', pkgIn('live', 'public', STANDING['member, team read-write'])).rule, 'org-admin-required');
    assert.equal(decide('package:owners', pkgIn('live', 'public', STANDING.member, [BOB])).rule, 'org-admin-required');
    assert.equal(decide('package:owners', pkgIn('live', 'restricted', STANDING.outsider)).rule, 'no-such-package');
    assert.equal(decide('package:owners', pkgIn('live', 'restricted', STANDING.admin)).rule, 'org-admin-owners');
    assert.equal(decide('package:owners', pkgIn('live', 'public', STANDING.owner)).rule, 'org-admin-owners');
  });

  it('a read-only token cannot publish even for an org owner; refusals are logged with their rule', () => {
    entries.length = 0;
    const ro = user(BOB, 'bob', { token: { id: 'ro', readonly: true, kind: 'api' } });
    assert.equal(decide('package:publish', pkgIn('live', 'public', STANDING.owner), ro).rule, 'read-only-token');
    assert.equal(entries.at(-1)?.fields?.rule, 'read-only-token');
  });
});

// ---------- org decisions (pure) ----------

describe('org decisions', () => {
  const org = (role: OrgStanding['role'], over: { exists?: boolean; touchesOwner?: boolean } = {}) => ({ name: 'acme', exists: over.exists ?? true, role, ...over });
  it('refuses anonymous callers, outsiders (hidden), members (forbidden), admins touching owners', () => {
    assert.equal(authorizer.checkOrg(ANONYMOUS, 'org:read', org('owner')).rule, 'authentication-required');
    for (const action of ['org:read', 'org:members', 'org:teams'] as const) {
      const d = authorizer.checkOrg(user(BOB, 'bob'), action, org(null));
      assert.deepEqual([d.rule, !d.allow && d.outcome], ['org-member-required', 'hidden']);
      assert.deepEqual(authorizer.checkOrg(user(BOB, 'bob'), action, org('owner', { exists: false })).allow, false);
    }
    assert.equal(authorizer.checkOrg(user(BOB, 'bob'), 'org:members', org('member')).rule, 'org-admin-required');
    assert.equal(authorizer.checkOrg(user(BOB, 'bob'), 'org:teams', org('member')).rule, 'org-admin-required');
    assert.equal(authorizer.checkOrg(user(BOB, 'bob'), 'org:members', org('admin', { touchesOwner: true })).rule, 'org-owner-required');
    assert.equal(authorizer.checkOrg(user(BOB, 'bob', { token: { id: 'ro', readonly: true, kind: 'api' } }), 'org:teams', org('owner')).rule, 'read-only-token');
    assert.equal(authorizer.checkOrg(user(BOB, 'bob'), 'org:create', { name: 'acme', exists: false, role: null, nameIsUser: true }).rule, 'org-name-taken');
    assert.equal(authorizer.checkOrg(user(BOB, 'bob'), 'org:create', { name: 'acme', exists: true, role: null }).rule, 'org-name-taken');
  });

  it('a granular token reaches only the orgs it names, with their permission', () => {
    const scoped = (orgs: string[] | null, perm: 'read-only' | 'read-write' | null) => user(BOB, 'bob', {
      token: { id: 'g', readonly: false, kind: 'api', scope: { packages: 'all', scopes: null, orgs, packagesPermission: 'read-write', orgsPermission: perm } },
    });
    assert.equal(authorizer.checkOrg(scoped(null, null), 'org:read', org('owner')).rule, 'token-scope');
    assert.equal(authorizer.checkOrg(scoped(['acme'], 'read-only'), 'org:read', org('owner')).allow, true);
    assert.equal(authorizer.checkOrg(scoped(['acme'], 'read-only'), 'org:teams', org('owner')).rule, 'read-only-token');
    assert.equal(authorizer.checkOrg(scoped(['acme'], 'read-write'), 'org:teams', org('owner')).allow, true);
    assert.equal(authorizer.checkOrg(scoped(['acme'], 'read-write'), 'org:create', { name: 'new', exists: false, role: null }).rule, 'token-scope');
  });

  it('allows members to read, owners and admins to manage; org writes take the second-factor rules', () => {
    assert.equal(authorizer.checkOrg(user(BOB, 'bob'), 'org:read', org('member')).allow, true);
    assert.equal(authorizer.checkOrg(user(BOB, 'bob'), 'org:members', org('admin')).allow, true);
    assert.equal(authorizer.checkOrg(user(BOB, 'bob'), 'org:members', org('owner', { touchesOwner: true })).allow, true);
    const strict = new Authorizer(log, { requireVerifiedEmail: true, requireMfaForMaintainers: true });
    const noOtp = user(BOB, 'bob', { mfa: { emailVerified: true, enrolled: true, mode: 'auth-and-writes', presented: 'none' } });
    assert.equal(strict.checkOrg(noOtp, 'org:teams', org('owner')).rule, 'otp-required');
    assert.equal(strict.checkOrg(noOtp, 'org:read', org('owner')).allow, true);
    assert.equal(strict.checkOrg(user(BOB, 'bob'), 'org:create', { name: 'x', exists: false, role: null }).rule, 'email-unverified');
  });

  it('the audit log is for owners and admins; members are refused, outsiders see no org; reading it needs no OTP', () => {
    assert.equal(authorizer.checkOrg(user(BOB, 'bob'), 'org:audit', org('owner')).rule, 'org-admin-audit');
    assert.equal(authorizer.checkOrg(user(BOB, 'bob'), 'org:audit', org('admin')).allow, true);
    const member = authorizer.checkOrg(user(BOB, 'bob'), 'org:audit', org('member'));
    assert.deepEqual([member.rule, !member.allow && member.outcome], ['org-admin-required', 'forbidden']);
    const outsider = authorizer.checkOrg(user(BOB, 'bob'), 'org:audit', org(null));
    assert.deepEqual([outsider.rule, !outsider.allow && outsider.outcome], ['org-member-required', 'hidden']);
    assert.equal(authorizer.checkOrg(ANONYMOUS, 'org:audit', org('owner')).rule, 'authentication-required');
    const strict = new Authorizer(log, { requireVerifiedEmail: true, requireMfaForMaintainers: true });
    const noOtp = user(BOB, 'bob', { mfa: { emailVerified: true, enrolled: true, mode: 'auth-and-writes', presented: 'none' } });
    assert.equal(strict.checkOrg(noOtp, 'org:audit', org('admin')).allow, true);
    const otherOrgToken = user(BOB, 'bob', { token: { id: 'g', readonly: true, kind: 'api', scope: { packages: 'all', scopes: null, orgs: ['other'], packagesPermission: 'read-only', orgsPermission: 'read-only' } } });
    assert.equal(authorizer.checkOrg(otherOrgToken, 'org:audit', org('owner')).rule, 'token-scope');
  });
});

// ---------- the service and its storage ----------

const eco = { id: 'npm', scopeOf: (n: string) => (/^@([^/]+)\//.exec(n)?.[1] ?? null) } as unknown as Ecosystem;

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isAttestryError(e)) return `${e.kind}:${e.code}`;
    throw e;
  }
  return assert.fail('expected a refusal');
}

for (const kind of storesUnderTest()) {
  describe(`org service (${kind})`, () => {
    let store: SqlMetadataStore;
    let orgs: OrgService;
    let opened: TestStore;
    const u: Record<string, UserRecord> = {};
    const as = (name: string): Principal => user((u[name] as UserRecord).id, name);

    before(async () => {
      opened = await openTestStore(kind);
      ({ store } = opened);
      orgs = new OrgService({ store, authorizer, clock: () => NOW, log });
      for (const name of ['olive', 'adam', 'bob', 'carol', 'rita', 'acmeuser']) {
        u[name] = await store.insertUser({ name, email: `${name}@example.com`, passwordHash: 'h', isAdmin: false, createdAt: NOW, updatedAt: NOW });
      }
    });
    after(async () => {
      await opened.close();
    });

    it('creates an org whose creator is owner; refuses bad, taken and user names', async () => {
      assert.equal(await refusal(orgs.create(ANONYMOUS, 'acme')), 'unauthenticated:AUTHZ_AUTHENTICATION_REQUIRED');
      assert.equal(await refusal(orgs.create(as('olive'), 'Bad Name')), 'invalid:ORG_BAD_NAME');
      assert.equal(await refusal(orgs.create(as('olive'), 'acmeuser')), 'conflict:ORG_NAME_TAKEN');
      const org = await orgs.create(as('olive'), '@acme');
      assert.equal(org.name, 'acme');
      assert.equal(await refusal(orgs.create(as('bob'), 'acme')), 'conflict:ORG_NAME_TAKEN');
      assert.deepEqual(await orgs.listMembers(as('olive'), 'acme'), [{ name: 'olive', role: 'owner' }]);
      const events = await store.listUserEvents(u.olive?.id ?? 0, 10);
      assert.ok(events.some((e) => e.type === 'org.created' && e.data.org === 'acme'));
    });

    it('members: owners and admins manage; members and outsiders cannot; admins cannot touch owners; the last owner stays', async () => {
      await orgs.setMember(as('olive'), 'acme', 'adam', 'admin');
      assert.deepEqual(await orgs.setMember(as('adam'), 'acme', 'bob', 'developer'), { name: 'bob', role: 'member' });
      await orgs.setMember(as('adam'), 'acme', 'rita', 'member');
      assert.equal(await refusal(orgs.setMember(as('bob'), 'acme', 'carol', 'developer')), 'forbidden:AUTHZ_ORG_ADMIN_REQUIRED');
      assert.equal(await refusal(orgs.setMember(as('carol'), 'acme', 'carol', 'owner')), 'not_found:ORG_NOT_FOUND');
      assert.equal(await refusal(orgs.listMembers(as('carol'), 'acme')), 'not_found:ORG_NOT_FOUND');
      assert.equal(await refusal(orgs.listMembers(as('carol'), 'nope')), 'not_found:ORG_NOT_FOUND');
      assert.equal(await refusal(orgs.setMember(as('adam'), 'acme', 'bob', 'owner')), 'forbidden:AUTHZ_ORG_OWNER_REQUIRED');
      assert.equal(await refusal(orgs.removeMember(as('adam'), 'acme', 'olive')), 'forbidden:AUTHZ_ORG_OWNER_REQUIRED');
      assert.equal(await refusal(orgs.setMember(as('olive'), 'acme', 'bob', 'superuser')), 'invalid:ORG_BAD_ROLE');
      assert.equal(await refusal(orgs.setMember(as('olive'), 'acme', 'nobody', 'developer')), 'not_found:USER_NOT_FOUND');
      assert.equal(await refusal(orgs.setMember(as('olive'), 'acme', 'olive', 'admin')), 'conflict:ORG_LAST_OWNER');
      assert.equal(await refusal(orgs.removeMember(as('olive'), 'acme', 'olive')), 'conflict:ORG_LAST_OWNER');
      assert.equal(await refusal(orgs.removeMember(as('olive'), 'acme', 'carol')), 'not_found:ORG_MEMBER_NOT_FOUND');
      assert.deepEqual((await orgs.listMembers(as('bob'), 'acme')).map((m) => `${m.name}:${m.role}`), ['adam:admin', 'bob:member', 'olive:owner', 'rita:member']);
    });

    it('teams and grants: admins manage, members cannot; grants stay in the org scope', async () => {
      await store.insertPackage({ ecosystem: 'npm', name: '@acme/widget', createdAt: NOW, modifiedAt: NOW, rev: 0, access: 'restricted', description: '', keywords: '', latestVersion: null, deletedAt: null });
      await store.insertPackage({ ecosystem: 'npm', name: '@other/thing', createdAt: NOW, modifiedAt: NOW, rev: 0, access: 'public', description: '', keywords: '', latestVersion: null, deletedAt: null });
      assert.equal(await refusal(orgs.createTeam(as('bob'), 'acme', 'devs', undefined)), 'forbidden:AUTHZ_ORG_ADMIN_REQUIRED');
      assert.equal(await refusal(orgs.createTeam(as('adam'), 'acme', 'Bad Team', undefined)), 'invalid:TEAM_BAD_NAME');
      assert.equal(await refusal(orgs.createTeam(as('adam'), 'acme', 'devs', 'x'.repeat(2000))), 'invalid:TEAM_BAD_DESCRIPTION');
      await orgs.createTeam(as('adam'), 'acme', 'devs', 'people who ship');
      await orgs.createTeam(as('adam'), 'acme', 'readers', undefined);
      assert.equal(await refusal(orgs.createTeam(as('adam'), 'acme', 'devs', undefined)), 'conflict:TEAM_EXISTS');
      assert.equal(await refusal(orgs.addTeamMember(as('adam'), 'acme', 'devs', 'carol')), 'invalid:TEAM_MEMBER_NOT_IN_ORG');
      assert.equal(await refusal(orgs.addTeamMember(as('adam'), 'acme', 'ghosts', 'bob')), 'not_found:TEAM_NOT_FOUND');
      assert.equal(await refusal(orgs.addTeamMember(as('bob'), 'acme', 'devs', 'bob')), 'forbidden:AUTHZ_ORG_ADMIN_REQUIRED');
      await orgs.addTeamMember(as('adam'), 'acme', 'devs', 'bob');
      await orgs.addTeamMember(as('adam'), 'acme', 'readers', 'rita');
      assert.equal(await refusal(orgs.grant(as('adam'), 'npm', 'acme', 'devs', '@other/thing', 'read-write')), 'invalid:PACKAGE_NOT_IN_ORG');
      assert.equal(await refusal(orgs.grant(as('adam'), 'npm', 'acme', 'devs', '@acme/absent', 'read-write')), 'not_found:PACKAGE_NOT_FOUND');
      assert.equal(await refusal(orgs.grant(as('adam'), 'npm', 'acme', 'devs', '@acme/widget', 'admin')), 'invalid:TEAM_BAD_PERMISSION');
      assert.equal(await refusal(orgs.grant(as('bob'), 'npm', 'acme', 'devs', '@acme/widget', 'read-write')), 'forbidden:AUTHZ_ORG_ADMIN_REQUIRED');
      await orgs.grant(as('adam'), 'npm', 'acme', 'devs', '@acme/widget', 'read-write');
      await orgs.grant(as('adam'), 'npm', 'acme', 'readers', '@acme/widget', 'read-only');
      assert.deepEqual(await orgs.listTeamPackages(as('bob'), 'npm', 'acme', 'devs'), [{ name: '@acme/widget', permission: 'read-write' }]);
      assert.deepEqual(await orgs.listTeamMembers(as('rita'), 'acme', 'devs'), ['bob']);
      assert.deepEqual((await orgs.listTeams(as('rita'), 'acme')).map((t) => [t.name, t.members]), [['devs', 1], ['readers', 1]]);
      assert.deepEqual(await orgs.packageTeams('npm', '@acme/widget'), [{ team: 'acme:devs', permission: 'read-write' }, { team: 'acme:readers', permission: 'read-only' }]);
      assert.deepEqual(Object.fromEntries((await orgs.orgPackages(as('rita'), 'npm', 'acme')) ?? []), { '@acme/widget': 'read-only' });
      assert.deepEqual(Object.fromEntries((await orgs.orgPackages(as('olive'), 'npm', 'acme')) ?? []), { '@acme/widget': 'read-write' });
      assert.deepEqual(Object.fromEntries((await orgs.orgPackages(as('adam'), 'npm', 'acme')) ?? []), {});
      assert.equal(await orgs.orgPackages(as('bob'), 'npm', 'bob'), undefined);
      assert.equal(await refusal(orgs.orgPackages(as('carol'), 'npm', 'acme')), 'not_found:ORG_NOT_FOUND');
    });

    it('the standing the authorizer sees follows the rows: teams, roles, leaving the org', async () => {
      const standing = (name: string) => orgStandingFor(store, eco, '@acme/widget', as(name));
      assert.deepEqual(await standing('bob'), { role: 'member', teamPermission: 'read-write' });
      assert.deepEqual(await standing('rita'), { role: 'member', teamPermission: 'read-only' });
      assert.deepEqual(await standing('carol'), { role: null, teamPermission: null });
      assert.deepEqual(await orgStandingFor(store, eco, '@bob/x', as('bob')), undefined);
      assert.deepEqual(await orgStandingFor(store, eco, '@acme/widget', ANONYMOUS), { role: null, teamPermission: null });
      const widget = await store.findPackage('npm', '@acme/widget');
      const publish = async (name: string) => authorizer.check(as(name), 'package:publish', resourceFor(eco, '@acme/widget', widget, [], await standing(name)));
      assert.equal((await publish('bob')).allow, true);
      assert.equal((await publish('rita')).rule, 'team-read-only');
      assert.equal((await publish('carol')).rule, 'no-such-package');
      assert.equal((await publish('adam')).rule, 'no-such-package');
      // Leaving the org ends the team memberships with it.
      await orgs.setMember(as('olive'), 'acme', 'carol', 'developer');
      await orgs.addTeamMember(as('olive'), 'acme', 'devs', 'carol');
      assert.equal((await publish('carol')).allow, true);
      await orgs.removeMember(as('adam'), 'acme', 'carol');
      assert.deepEqual(await standing('carol'), { role: null, teamPermission: null });
      await orgs.setMember(as('olive'), 'acme', 'carol', 'developer');
      assert.deepEqual(await standing('carol'), { role: 'member', teamPermission: null });
    });

    it('new packages go to the developers team when it exists; revoke, team rm and team delete undo grants', async () => {
      const org = await store.findOrg('acme');
      await grantNewOrgPackage(store, 'npm', org, '@acme/first');
      await orgs.createTeam(as('olive'), 'acme', 'developers', undefined);
      await grantNewOrgPackage(store, 'npm', org, '@acme/second');
      const devs = await store.findTeam(org?.id ?? 0, 'developers');
      assert.deepEqual((await store.listTeamPackages(devs?.id ?? 0)).map((g) => `${g.packageName}:${g.permission}`), ['@acme/second:read-write']);

      assert.equal(await refusal(orgs.revoke(as('adam'), 'npm', 'acme', 'devs', '@acme/nothing')), 'not_found:TEAM_GRANT_NOT_FOUND');
      await orgs.revoke(as('adam'), 'npm', 'acme', 'readers', '@acme/widget');
      assert.deepEqual(await orgStandingFor(store, eco, '@acme/widget', as('rita')), { role: 'member', teamPermission: null });
      assert.equal(await refusal(orgs.removeTeamMember(as('adam'), 'acme', 'devs', 'rita')), 'not_found:TEAM_MEMBER_NOT_FOUND');
      await orgs.removeTeamMember(as('adam'), 'acme', 'devs', 'bob');
      assert.deepEqual(await orgStandingFor(store, eco, '@acme/widget', as('bob')), { role: 'member', teamPermission: null });
      assert.equal(await refusal(orgs.deleteTeam(as('bob'), 'acme', 'devs')), 'forbidden:AUTHZ_ORG_ADMIN_REQUIRED');
      await orgs.deleteTeam(as('adam'), 'acme', 'devs');
      assert.equal(await refusal(orgs.listTeamMembers(as('adam'), 'acme', 'devs')), 'not_found:TEAM_NOT_FOUND');
      assert.deepEqual(await store.listPackageTeams('npm', '@acme/widget'), []);
      const types = (await store.listUserEvents(u.adam?.id ?? 0, 50)).map((e) => e.type);
      for (const t of ['org.member-set', 'org.member-removed', 'team.created', 'team.member-added', 'team.member-removed', 'team.package-granted', 'team.package-revoked', 'team.deleted']) {
        assert.ok(types.includes(t), t);
      }
    });
  });
}
