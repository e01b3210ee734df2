// Organizations, their members (roles) and teams with per-package grants (docs/organizations.md).
// Every change runs in one transaction: read the actor's role, ask the authorizer, change, record
// an `org.*` / `team.*` event with the acting user as actor. Package decisions that depend on
// these rows are made by the authorizer through `orgStandingFor` (core/packages/access.ts).
import { conflict, invalid, notFound, unauthenticated } from '../errors.ts';
import { refusalError } from '../packages/access.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { Authorizer, Decision, OrgAction } from '../../security/authz/authorize.ts';
import type { Principal } from '../../security/authz/principal.ts';
import {
  UniqueViolation, type EventCursor, type EventRecord, type MetadataOps, type MetadataStore, type OrgRecord, type OrgRole, type TeamListing, type TeamPermission, type TeamRecord, type UserRecord,
} from '../../storage/metadata/store.ts';

export interface OrgServiceDeps {
  store: MetadataStore;
  authorizer: Authorizer;
  clock: Clock;
  log: Logger;
}

/** npm's scope rule (lower case, no leading punctuation); the same rule as a token's `--orgs`. */
const ORG_NAME = /^[a-z0-9][a-z0-9._~-]{0,213}$/;
const TEAM_NAME = /^[a-z0-9][a-z0-9._~-]{0,49}$/;
const MAX_DESCRIPTION = 1024;
/** New packages in an org are granted read-write to this team when it exists (npm's behaviour). */
export const DEVELOPERS_TEAM = 'developers';

/** npm says `developer`; Attestry stores `member`. Both are accepted. */
export function parseRole(raw: unknown): OrgRole {
  if (raw === undefined || raw === null || raw === 'developer' || raw === 'member') return 'member';
  if (raw === 'owner' || raw === 'admin') return raw;
  throw invalid('ORG_BAD_ROLE', 'role is one of owner, admin, developer (or member)');
}

export function parsePermission(raw: unknown): TeamPermission {
  if (raw === 'read-only' || raw === 'read-write') return raw;
  throw invalid('TEAM_BAD_PERMISSION', 'permissions is "read-only" or "read-write"');
}

export function validateOrgName(raw: unknown): string {
  const name = typeof raw === 'string' ? raw.replace(/^@/, '') : '';
  if (!ORG_NAME.test(name)) throw invalid('ORG_BAD_NAME', 'An organization name is a scope: lower-case letters, digits, "-", ".", "_", "~", at most 214 characters');
  return name;
}

export function validateTeamName(raw: unknown): string {
  if (typeof raw !== 'string' || !TEAM_NAME.test(raw)) throw invalid('TEAM_BAD_NAME', 'A team name is lower-case letters, digits, "-", ".", "_", "~", at most 50 characters');
  return raw;
}

/** Org and team decisions mapped to typed errors; hidden orgs answer like absent ones. */
function requireOrgAllowed(d: Decision, org: string): void {
  if (!d.allow) throw refusalError(d, () => notFound('ORG_NOT_FOUND', `There is no organization ${org}`));
}

interface Acting {
  tx: MetadataOps;
  org: OrgRecord;
  now: number;
  /** Records an `org.*`/`team.*` event in the org's audit log; `subject` is the person it concerns. */
  event: (type: string, data: Record<string, unknown>, about?: { pkg?: { ecosystem: string; name: string }; subject?: UserRecord }) => Promise<void>;
}

export class OrgService {
  private readonly d: OrgServiceDeps;

  constructor(d: OrgServiceDeps) {
    this.d = d;
  }

  async create(principal: Principal, rawName: unknown): Promise<OrgRecord> {
    const name = validateOrgName(rawName);
    try {
      return await this.d.store.transaction(async (tx) => {
        const exists = (await tx.findOrg(name)) !== undefined;
        const nameIsUser = (await tx.findUserByName(name)) !== undefined;
        const decision = this.d.authorizer.checkOrg(principal, 'org:create', { name, exists, role: null, nameIsUser });
        if (!decision.allow && decision.rule === 'org-name-taken') throw conflict('ORG_NAME_TAKEN', decision.message);
        requireOrgAllowed(decision, name);
        if (principal.kind !== 'user') throw unauthenticated('AUTHZ_AUTHENTICATION_REQUIRED', 'You must be logged in to do this');
        const now = this.d.clock();
        const org = await tx.insertOrg(name, now);
        await tx.setOrgMember(org.id, principal.userId, 'owner');
        await tx.insertEvent({ at: now, type: 'org.created', actorId: principal.userId, org: name, ecosystem: null, packageName: null, version: null, data: { org: name } });
        return org;
      });
    } catch (e) {
      if (e instanceof UniqueViolation) throw conflict('ORG_NAME_TAKEN', `The scope @${name} is already taken`);
      throw e;
    }
  }

  /** Members and their roles (npm's `developer` for `member`), for any member of the org. */
  async listMembers(principal: Principal, orgName: string): Promise<Array<{ name: string; role: OrgRole }>> {
    return this.read(principal, orgName, async (tx, org) => (await tx.listOrgMembers(org.id)).map(({ name, role }) => ({ name, role })));
  }

  async setMember(principal: Principal, orgName: string, userName: unknown, rawRole: unknown): Promise<{ name: string; role: OrgRole }> {
    const role = parseRole(rawRole);
    return this.act(principal, orgName, 'org:members', async (tx, org) => {
      const user = await this.user(tx, userName);
      const current = await tx.findOrgRole(org.id, user.id);
      return { touchesOwner: role === 'owner' || current === 'owner', user, current };
    }, async ({ tx, org, event }, { user, current }) => {
      if (current === 'owner' && role !== 'owner') await this.keepAnOwner(tx, org);
      await tx.setOrgMember(org.id, user.id, role);
      await event('org.member-set', { user: user.name, role, previousRole: current ?? null }, { subject: user });
      return { name: user.name, role };
    });
  }

  async removeMember(principal: Principal, orgName: string, userName: unknown): Promise<void> {
    await this.act(principal, orgName, 'org:members', async (tx, org) => {
      const user = await this.user(tx, userName);
      const current = await tx.findOrgRole(org.id, user.id);
      return { touchesOwner: current === 'owner', user, current };
    }, async ({ tx, org, event }, { user, current }) => {
      if (current === undefined) throw notFound('ORG_MEMBER_NOT_FOUND', `${user.name} is not a member of ${org.name}`);
      if (current === 'owner') await this.keepAnOwner(tx, org);
      await tx.removeOrgMember(org.id, user.id);
      await event('org.member-removed', { user: user.name, role: current }, { subject: user });
    });
  }

  /** The org's audit log, newest first: for its owners and admins (`org:audit`). */
  async auditEvents(principal: Principal, orgName: string, limit: number, before?: EventCursor): Promise<EventRecord[]> {
    return this.d.store.transaction(async (tx) => {
      const { org, role } = await this.standing(tx, principal, orgName);
      requireOrgAllowed(this.d.authorizer.checkOrg(principal, 'org:read', { name: orgName, exists: org !== undefined, role }), orgName);
      requireOrgAllowed(this.d.authorizer.checkOrg(principal, 'org:audit', { name: orgName, exists: true, role }), orgName);
      return tx.listOrgEvents((org as OrgRecord).id, limit, before);
    });
  }

  /** The organizations the user belongs to, with their role (for the web pages). */
  async membershipsOf(userId: number): Promise<Array<{ name: string; role: OrgRole }>> {
    return this.d.store.listUserOrgs(userId);
  }

  async listTeams(principal: Principal, orgName: string): Promise<TeamListing[]> {
    return this.read(principal, orgName, (tx, org) => tx.listTeams(org.id));
  }

  async createTeam(principal: Principal, orgName: string, rawTeam: unknown, rawDescription: unknown): Promise<TeamRecord> {
    const team = validateTeamName(rawTeam);
    if (rawDescription !== undefined && rawDescription !== null && (typeof rawDescription !== 'string' || rawDescription.length > MAX_DESCRIPTION)) {
      throw invalid('TEAM_BAD_DESCRIPTION', `description is a string of at most ${MAX_DESCRIPTION} characters`);
    }
    const description = typeof rawDescription === 'string' ? rawDescription : '';
    try {
      return await this.act(principal, orgName, 'org:teams', noFacts, async ({ tx, org, now, event }) => {
        if (await tx.findTeam(org.id, team)) throw conflict('TEAM_EXISTS', `${org.name}:${team} already exists`);
        const created = await tx.insertTeam(org.id, team, description, now);
        await event('team.created', { team });
        return created;
      });
    } catch (e) {
      if (e instanceof UniqueViolation) throw conflict('TEAM_EXISTS', `${orgName}:${team} already exists`);
      throw e;
    }
  }

  async deleteTeam(principal: Principal, orgName: string, teamName: string): Promise<void> {
    await this.act(principal, orgName, 'org:teams', noFacts, async ({ tx, org, event }) => {
      const team = await this.team(tx, org, teamName);
      await tx.deleteTeam(team.id);
      await event('team.deleted', { team: team.name });
    });
  }

  async listTeamMembers(principal: Principal, orgName: string, teamName: string): Promise<string[]> {
    return this.read(principal, orgName, async (tx, org) => tx.listTeamMembers((await this.team(tx, org, teamName)).id));
  }

  async addTeamMember(principal: Principal, orgName: string, teamName: string, userName: unknown): Promise<void> {
    await this.act(principal, orgName, 'org:teams', noFacts, async ({ tx, org, event }) => {
      const team = await this.team(tx, org, teamName);
      const user = await this.user(tx, userName);
      // Teams are groups of members: add someone to the org (npm org set) first.
      if ((await tx.findOrgRole(org.id, user.id)) === undefined) throw invalid('TEAM_MEMBER_NOT_IN_ORG', `${user.name} is not a member of ${org.name}; add them to the organization first`);
      if (await tx.addTeamMember(team.id, user.id)) await event('team.member-added', { team: team.name, user: user.name }, { subject: user });
    });
  }

  async removeTeamMember(principal: Principal, orgName: string, teamName: string, userName: unknown): Promise<void> {
    await this.act(principal, orgName, 'org:teams', noFacts, async ({ tx, org, event }) => {
      const team = await this.team(tx, org, teamName);
      const user = await this.user(tx, userName);
      if (!(await tx.removeTeamMember(team.id, user.id))) throw notFound('TEAM_MEMBER_NOT_FOUND', `${user.name} is not in ${org.name}:${team.name}`);
      await event('team.member-removed', { team: team.name, user: user.name }, { subject: user });
    });
  }

  /** Packages the team may read or write: name → permission. */
  async listTeamPackages(principal: Principal, ecosystem: string, orgName: string, teamName: string): Promise<Array<{ name: string; permission: TeamPermission }>> {
    return this.read(principal, orgName, async (tx, org) => (await tx.listTeamPackages((await this.team(tx, org, teamName)).id))
      .filter((g) => g.ecosystem === ecosystem).map((g) => ({ name: g.packageName, permission: g.permission })));
  }

  async grant(principal: Principal, ecosystem: string, orgName: string, teamName: string, packageName: unknown, rawPermission: unknown): Promise<void> {
    const permission = parsePermission(rawPermission);
    await this.act(principal, orgName, 'org:teams', noFacts, async ({ tx, org, event }) => {
      const team = await this.team(tx, org, teamName);
      const name = await this.orgPackage(tx, ecosystem, org, packageName);
      await tx.setTeamPackage({ teamId: team.id, ecosystem, packageName: name, permission });
      await event('team.package-granted', { team: team.name, permission }, { pkg: { ecosystem, name } });
    });
  }

  async revoke(principal: Principal, ecosystem: string, orgName: string, teamName: string, packageName: unknown): Promise<void> {
    await this.act(principal, orgName, 'org:teams', noFacts, async ({ tx, org, event }) => {
      const team = await this.team(tx, org, teamName);
      const name = typeof packageName === 'string' ? packageName : '';
      if (!(await tx.removeTeamPackage(team.id, ecosystem, name))) throw notFound('TEAM_GRANT_NOT_FOUND', `${org.name}:${team.name} has no access to ${name.slice(0, 220)}`);
      await event('team.package-revoked', { team: team.name }, { pkg: { ecosystem, name } });
    });
  }

  /**
   * The org's packages the caller can see, with the caller's permission (npm's `access list
   * packages <org>`); undefined when no org has that name, so npm falls back to the user route.
   */
  async orgPackages(principal: Principal, ecosystem: string, orgName: string): Promise<Map<string, TeamPermission> | undefined> {
    if ((await this.d.store.findOrg(orgName)) === undefined) return undefined;
    return this.read(principal, orgName, async (tx, org, role) => {
      const names = await tx.listPackagesWithPrefix(ecosystem, `@${org.name}/`);
      const out = new Map<string, TeamPermission>();
      for (const name of names) {
        const perm = role === 'owner' ? 'read-write' : principal.kind === 'user' ? await tx.findTeamPermission(org.id, principal.userId, ecosystem, name) : null;
        if (perm) out.set(name, perm);
      }
      return out;
    });
  }

  /** Team grants on a package (`org:team` → permission); the caller checked read access first. */
  async packageTeams(ecosystem: string, name: string): Promise<Array<{ team: string; permission: TeamPermission }>> {
    return (await this.d.store.listPackageTeams(ecosystem, name)).map((t) => ({ team: `${t.orgName}:${t.teamName}`, permission: t.permission }));
  }

  // ---------- internals ----------

  private async read<T>(principal: Principal, orgName: string, fn: (tx: MetadataOps, org: OrgRecord, role: OrgRole) => Promise<T>): Promise<T> {
    return this.d.store.transaction(async (tx) => {
      const { org, role } = await this.standing(tx, principal, orgName);
      requireOrgAllowed(this.d.authorizer.checkOrg(principal, 'org:read', { name: orgName, exists: org !== undefined, role }), orgName);
      return fn(tx, org as OrgRecord, role as OrgRole);
    });
  }

  /** Authorize (with facts read in the transaction), then change and record. */
  private async act<F extends { touchesOwner?: boolean }, T>(principal: Principal, orgName: string, action: OrgAction,
    facts: (tx: MetadataOps, org: OrgRecord) => Promise<F>, change: (a: Acting, facts: F) => Promise<T>): Promise<T> {
    return this.d.store.transaction(async (tx) => {
      const { org, role } = await this.standing(tx, principal, orgName);
      // Facts about the target only once the caller may know the org exists.
      const pre = this.d.authorizer.checkOrg(principal, 'org:read', { name: orgName, exists: org !== undefined, role });
      requireOrgAllowed(pre, orgName);
      const found = org as OrgRecord;
      const f = await facts(tx, found);
      requireOrgAllowed(this.d.authorizer.checkOrg(principal, action, { name: orgName, exists: true, role, touchesOwner: f.touchesOwner === true }), orgName);
      const now = this.d.clock();
      const actorId = principal.kind === 'user' ? principal.userId : null;
      const event: Acting['event'] = async (type, data, about) => {
        await tx.insertEvent({
          at: now, type, actorId, subjectId: about?.subject?.id ?? null, org: found.name,
          ecosystem: about?.pkg?.ecosystem ?? null, packageName: about?.pkg?.name ?? null, version: null, data: { org: found.name, ...data },
        });
      };
      return change({ tx, org: found, now, event }, f);
    });
  }

  private async standing(tx: MetadataOps, principal: Principal, orgName: string): Promise<{ org: OrgRecord | undefined; role: OrgRole | null }> {
    const org = ORG_NAME.test(orgName) ? await tx.findOrg(orgName) : undefined;
    const role = org && principal.kind === 'user' ? (await tx.findOrgRole(org.id, principal.userId)) ?? null : null;
    return { org, role };
  }

  private async user(tx: MetadataOps, raw: unknown): Promise<UserRecord> {
    const name = typeof raw === 'string' ? raw.replace(/^@/, '') : '';
    const user = name.length > 0 && name.length <= 214 ? await tx.findUserByName(name) : undefined;
    if (!user) throw notFound('USER_NOT_FOUND', `There is no user named ${name.slice(0, 220)}`);
    return user;
  }

  private async team(tx: MetadataOps, org: OrgRecord, name: string): Promise<TeamRecord> {
    const team = await tx.findTeam(org.id, name);
    if (!team) throw notFound('TEAM_NOT_FOUND', `There is no team ${org.name}:${name.slice(0, 60)}`);
    return team;
  }

  /** A live package in the org's own scope: teams never reach beyond their org. */
  private async orgPackage(tx: MetadataOps, ecosystem: string, org: OrgRecord, raw: unknown): Promise<string> {
    const name = typeof raw === 'string' ? raw : '';
    if (!name.startsWith(`@${org.name}/`) || name.length > 214) throw invalid('PACKAGE_NOT_IN_ORG', `Teams of ${org.name} can only be granted packages in the @${org.name} scope`);
    const pkg = await tx.findPackage(ecosystem, name);
    if (!pkg || pkg.deletedAt) throw notFound('PACKAGE_NOT_FOUND', `${name} is not in this registry (or you do not have access to it)`);
    return name;
  }

  /** An org always keeps an owner: otherwise nobody could ever manage it again. */
  private async keepAnOwner(tx: MetadataOps, org: OrgRecord): Promise<void> {
    const owners = (await tx.listOrgMembers(org.id)).filter((m) => m.role === 'owner');
    if (owners.length <= 1) throw conflict('ORG_LAST_OWNER', `${org.name} must keep at least one owner; make someone else an owner first`);
  }
}

const noFacts = (): Promise<Record<string, never>> => Promise.resolve({});

/**
 * Called by the publish commit when it creates a package: in an org scope, the org's `developers`
 * team (if any) gets read-write, as npm does.
 */
export async function grantNewOrgPackage(tx: MetadataOps, ecosystem: string, org: OrgRecord | undefined, name: string): Promise<void> {
  if (!org) return;
  const team = await tx.findTeam(org.id, DEVELOPERS_TEAM);
  if (team) await tx.setTeamPackage({ teamId: team.id, ecosystem, packageName: name, permission: 'read-write' });
}
