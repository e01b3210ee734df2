// One team of an organization: its members and the packages it may read or write. Every member of
// the org sees the page; the forms are for owners and admins (the core refuses anyone else).
import type { AttestryError } from '../../core/errors.ts';
import type { UserRecord } from '../../storage/metadata/store.ts';
import type { UserPrincipal } from '../../security/authz/principal.ts';
import { escapeHtml } from '../html.ts';
import { alert, principalOf, type WebRequest } from '../web-context.ts';
import { hidden, orgPath, otpField, packageAccessPath, pageChange, passkeyConfirmation, segment, teamPath } from './org-common.ts';

/** The route captures `<org>/team/<team>` as one parameter (segments never hold a slash). */
function names(param: string): { org: string; team: string } {
  const [rawOrg = '', rawTeam = ''] = param.split('/team/');
  return { org: segment(rawOrg, 'ORG_NOT_FOUND', 'organization').replace(/^@/, ''), team: segment(rawTeam, 'TEAM_NOT_FOUND', 'team') };
}

async function renderTeam(req: WebRequest, org: string, team: string, status = 200, refusal?: AttestryError): Promise<void> {
  const user = req.user as UserRecord;
  const principal = principalOf(req.deps, user);
  // Each read asks the core: outsiders get ORG_NOT_FOUND, an unknown team TEAM_NOT_FOUND (both 404).
  const members = await req.deps.orgs.listMembers(principal, org);
  const role = members.find((m) => m.name === user.name)?.role;
  const canManage = role === 'owner' || role === 'admin';
  const teamMembers = await req.deps.orgs.listTeamMembers(principal, org, team);
  const grants = await req.deps.orgs.listTeamPackages(principal, req.deps.eco.id, org, team);
  const base = teamPath(org, team);

  const memberRows = teamMembers.map((name) => `<tr data-team-member="${escapeHtml(name)}"><td>${escapeHtml(name)}</td>${canManage
    ? `<td><form method="post" action="${base}/members/remove">${req.csrfField()}${hidden('user', name)}${otpField(req, `team-remove-otp-${escapeHtml(name)}`)}
<button type="submit" data-action="remove-team-member" aria-label="Remove ${escapeHtml(name)} from the team">Remove</button></form></td>` : ''}</tr>`).join('\n');
  const membersTable = teamMembers.length === 0 ? '<p id="team-members-none">No members yet.</p>'
    : `<table id="team-members"><thead><tr><th scope="col">Username</th>${canManage ? '<th scope="col">Manage</th>' : ''}</tr></thead><tbody>${memberRows}</tbody></table>`;
  const addMember = canManage ? `<form method="post" action="${base}/members">${req.csrfField()}
<label for="team-member-name">Username (a member of @${escapeHtml(org)})</label><input id="team-member-name" name="user" required maxlength="214" autocomplete="off">
${otpField(req, 'team-member-otp')}<button type="submit" id="team-member-add">Add to the team</button></form>` : '';

  const grantRows = grants.map((g) => `<tr data-grant="${escapeHtml(g.name)}"><td><a href="${packageAccessPath(g.name)}">${escapeHtml(g.name)}</a></td>
<td data-permission="${escapeHtml(g.permission)}">${escapeHtml(g.permission)}</td>${canManage
    ? `<td><form method="post" action="${base}/grants/revoke">${req.csrfField()}${hidden('package', g.name)}${otpField(req, `revoke-otp-${escapeHtml(g.name)}`)}
<button type="submit" data-action="revoke" aria-label="Revoke the team's access to ${escapeHtml(g.name)}">Revoke</button></form></td>` : ''}</tr>`).join('\n');
  const grantsTable = grants.length === 0 ? '<p id="grants-none">This team has no package access.</p>'
    : `<table id="grants"><thead><tr><th scope="col">Package</th><th scope="col">Permission</th>${canManage ? '<th scope="col">Manage</th>' : ''}</tr></thead><tbody>${grantRows}</tbody></table>`;
  const grantForm = canManage ? `<form method="post" action="${base}/grants">${req.csrfField()}
<label for="grant-package">Package (in the @${escapeHtml(org)} scope)</label><input id="grant-package" name="package" required maxlength="214" autocomplete="off" placeholder="@${escapeHtml(org)}/">
<label for="grant-permission">Permission</label><select id="grant-permission" name="permission"><option value="read-only">read-only</option><option value="read-write">read-write</option></select>
${otpField(req, 'grant-otp')}<button type="submit" id="grant-submit">Grant</button></form>` : '';

  req.html(status, `@${org}:${team}`, `${refusal ? alert(refusal) : ''}${await req.takeFlash()}${canManage ? await passkeyConfirmation(req, base) : ''}
<p><a href="${orgPath(org)}" id="back-to-org">Back to @${escapeHtml(org)}</a></p>
<section aria-labelledby="team-members-h"><h2 id="team-members-h">Members</h2>${membersTable}${addMember}</section>
<section aria-labelledby="grants-h"><h2 id="grants-h">Package access</h2>${grantsTable}${grantForm}</section>`, { script: canManage });
}

export const showTeam = (req: WebRequest, param: string): Promise<void> => {
  const { org, team } = names(param);
  return renderTeam(req, org, team);
};

const teamChange = (req: WebRequest, param: string, change: (p: UserPrincipal, org: string, team: string) => Promise<string>): Promise<void> => {
  const { org, team } = names(param);
  return pageChange(req, teamPath(org, team), (status, e) => renderTeam(req, org, team, status, e), (principal) => change(principal, org, team));
};

export const addTeamMember = (req: WebRequest, param: string): Promise<void> => teamChange(req, param, async (principal, org, team) => {
  const name = req.field('user').trim();
  await req.deps.orgs.addTeamMember(principal, org, team, name);
  return `${name} is in ${org}:${team}.`;
});

export const removeTeamMember = (req: WebRequest, param: string): Promise<void> => teamChange(req, param, async (principal, org, team) => {
  const name = req.field('user').trim();
  await req.deps.orgs.removeTeamMember(principal, org, team, name);
  return `${name} is no longer in ${org}:${team}.`;
});

export const grantPackage = (req: WebRequest, param: string): Promise<void> => teamChange(req, param, async (principal, org, team) => {
  const name = req.field('package').trim();
  await req.deps.orgs.grant(principal, req.deps.eco.id, org, team, name, req.field('permission'));
  return `${org}:${team} has ${req.field('permission')} access to ${name}.`;
});

export const revokePackage = (req: WebRequest, param: string): Promise<void> => teamChange(req, param, async (principal, org, team) => {
  const name = req.field('package');
  await req.deps.orgs.revoke(principal, req.deps.eco.id, org, team, name);
  return `${org}:${team} no longer has access to ${name}.`;
});
