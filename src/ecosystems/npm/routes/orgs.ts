// npm's org, team and access-grant endpoints (spec §3.6, §3.7; libnpmorg, libnpmteam, libnpmaccess)
// and `POST /-/org` (an Attestry extension: npm has no command that creates an organization).
// Writes are decided by the authorizer, whose second-factor rules answer OTP_REQUIRED when the
// instance or the account requires it; the adapter turns that into npm's OTP challenge (otplease).
import type { RequestContext } from '../../../http/context.ts';
import { invalid, notFound } from '../../../core/errors.ts';
import { readJson } from '../../../http/body.ts';
import { sendJson } from '../../../http/respond.ts';
import type { OrgService } from '../../../core/orgs/org-service.ts';
import type { OrgRole } from '../../../storage/metadata/store.ts';
import type { NpmDeps } from '../deps.ts';
import { requireUser } from './accounts.ts';

/** npm's word for the `member` role. */
const wireRole = (role: OrgRole): string => (role === 'member' ? 'developer' : role);

function service(d: NpmDeps): OrgService {
  if (!d.orgs) throw notFound('NOT_FOUND', 'Organizations are not available on this registry');
  return d.orgs;
}

async function body(d: NpmDeps, ctx: RequestContext): Promise<Record<string, unknown>> {
  const b = await readJson(ctx.req, d.maxJsonBytes);
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw invalid('BAD_BODY', 'The body must be a JSON object');
  return b as Record<string, unknown>;
}

const dec = (s: string): string => decodeURIComponent(s).replace(/^@/, '');

/** `POST /-/org` `{name}`: the caller creates an organization and becomes its owner. */
export async function createOrg(d: NpmDeps, ctx: RequestContext): Promise<void> {
  ctx.route = 'npm.org.create';
  const principal = requireUser(await ctx.principal());
  const org = await service(d).create(principal, (await body(d, ctx)).name);
  sendJson(ctx.res, 201, { name: org.name, created: new Date(org.createdAt).toISOString() });
}

/** `GET|PUT|DELETE /-/org/<org>/user`: npm org ls / set / rm. */
export async function orgUsers(d: NpmDeps, ctx: RequestContext, rawOrg: string): Promise<void> {
  const org = dec(rawOrg);
  const orgs = service(d);
  const principal = await ctx.principal();
  if (ctx.method === 'GET') {
    ctx.route = 'npm.org.users';
    const members = await orgs.listMembers(principal, org);
    sendJson(ctx.res, 200, Object.fromEntries(members.map((m) => [m.name, wireRole(m.role)])));
    return;
  }
  requireUser(principal);
  const b = await body(d, ctx);
  if (ctx.method === 'PUT') {
    ctx.route = 'npm.org.set';
    const set = await orgs.setMember(principal, org, b.user, b.role);
    const size = (await orgs.listMembers(principal, org)).length;
    sendJson(ctx.res, 200, { org: { name: org, size }, user: set.name, role: wireRole(set.role) });
    return;
  }
  ctx.route = 'npm.org.rm';
  await orgs.removeMember(principal, org, b.user);
  sendJson(ctx.res, 200, { ok: true });
}

/** `GET|PUT /-/org/<org>/team`: npm team ls <org> / npm team create. */
export async function orgTeams(d: NpmDeps, ctx: RequestContext, rawOrg: string): Promise<void> {
  const org = dec(rawOrg);
  const orgs = service(d);
  const principal = await ctx.principal();
  if (ctx.method === 'GET') {
    ctx.route = 'npm.team.list';
    sendJson(ctx.res, 200, (await orgs.listTeams(principal, org)).map((t) => `${org}:${t.name}`));
    return;
  }
  ctx.route = 'npm.team.create';
  requireUser(principal);
  const b = await body(d, ctx);
  const team = await orgs.createTeam(principal, org, b.name, b.description);
  sendJson(ctx.res, 201, { name: team.name, description: team.description, created: new Date(team.createdAt).toISOString() });
}

/** `DELETE /-/team/<org>/<team>`: npm team destroy. */
export async function deleteTeam(d: NpmDeps, ctx: RequestContext, rawOrg: string, rawTeam: string): Promise<void> {
  ctx.route = 'npm.team.destroy';
  const principal = requireUser(await ctx.principal());
  await service(d).deleteTeam(principal, dec(rawOrg), decodeURIComponent(rawTeam));
  sendJson(ctx.res, 200, { ok: true });
}

/** `GET|PUT|DELETE /-/team/<org>/<team>/user`: npm team ls <org:team> / add / rm. */
export async function teamUsers(d: NpmDeps, ctx: RequestContext, rawOrg: string, rawTeam: string): Promise<void> {
  const [org, team] = [dec(rawOrg), decodeURIComponent(rawTeam)];
  const orgs = service(d);
  const principal = await ctx.principal();
  if (ctx.method === 'GET') {
    ctx.route = 'npm.team.users';
    sendJson(ctx.res, 200, await orgs.listTeamMembers(principal, org, team));
    return;
  }
  requireUser(principal);
  const b = await body(d, ctx);
  if (ctx.method === 'PUT') {
    ctx.route = 'npm.team.add';
    await orgs.addTeamMember(principal, org, team, b.user);
    sendJson(ctx.res, 201, { ok: true });
    return;
  }
  ctx.route = 'npm.team.rm';
  await orgs.removeTeamMember(principal, org, team, b.user);
  sendJson(ctx.res, 200, { ok: true });
}

/** `GET|PUT|DELETE /-/team/<org>/<team>/package`: npm access list packages <org:team> / grant / revoke. */
export async function teamPackages(d: NpmDeps, ctx: RequestContext, rawOrg: string, rawTeam: string): Promise<void> {
  const [org, team] = [dec(rawOrg), decodeURIComponent(rawTeam)];
  const orgs = service(d);
  const principal = await ctx.principal();
  if (ctx.method === 'GET') {
    ctx.route = 'npm.team.packages';
    const grants = await orgs.listTeamPackages(principal, d.eco.id, org, team);
    sendJson(ctx.res, 200, Object.fromEntries(grants.map((g) => [g.name, g.permission])));
    return;
  }
  requireUser(principal);
  const b = await body(d, ctx);
  if (ctx.method === 'PUT') {
    ctx.route = 'npm.access.grant';
    await orgs.grant(principal, d.eco.id, org, team, b.package, b.permissions);
    sendJson(ctx.res, 201, { ok: true });
    return;
  }
  ctx.route = 'npm.access.revoke';
  await orgs.revoke(principal, d.eco.id, org, team, b.package);
  sendJson(ctx.res, 200, { ok: true });
}

/** `GET /-/org/<org>/package`: an org's packages with the caller's permission. */
export async function orgPackages(d: NpmDeps, ctx: RequestContext, rawOrg: string): Promise<void> {
  ctx.route = 'npm.org.packages';
  const principal = requireUser(await ctx.principal());
  const found = d.orgs ? await d.orgs.orgPackages(principal, d.eco.id, dec(rawOrg)) : undefined;
  // Not an org: answer 404 ORG_NOT_FOUND so npm retries `/-/user/<name>/package`.
  if (!found) throw notFound('ORG_NOT_FOUND', `There is no organization ${dec(rawOrg)}`);
  sendJson(ctx.res, 200, Object.fromEntries(found));
}

/** `GET /-/package/<name>/collaborators`: maintainers (`write`) and the teams granted access. */
export async function collaborators(d: NpmDeps, ctx: RequestContext, name: string): Promise<void> {
  ctx.route = 'npm.collaborators';
  // snapshot refuses (404) a caller who may not read the package before anything is listed.
  const { owners } = await d.packages.snapshot(await ctx.reader(), d.eco, name);
  const teams = d.orgs ? await d.orgs.packageTeams(d.eco.id, name) : [];
  sendJson(ctx.res, 200, { ...Object.fromEntries(owners.map((o) => [o.name, 'write'])), ...Object.fromEntries(teams.map((t) => [t.team, t.permission])) });
}
