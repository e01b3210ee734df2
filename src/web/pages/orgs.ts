// The organization pages: the organizations I belong to (and creating one), and one
// organization's members, teams and packages. Forms that manage people and teams are shown to
// owners and admins only to keep the page short for everyone else; the core decides either way.
// Someone outside an organization gets the same 404 page as for one that does not exist.
import type { AttestryError } from '../../core/errors.ts';
import type { OrgRole, UserRecord } from '../../storage/metadata/store.ts';
import { escapeHtml } from '../html.ts';
import { alert, principalOf, when, type WebRequest } from '../web-context.ts';
import { hidden, orgPath, type Change, otpField, packageAccessPath, pageChange, passkeyConfirmation, roleLabel, roleSelect, segment, teamPath } from './org-common.ts';

// ---------- /-/web/orgs ----------

async function renderOrgs(req: WebRequest, status = 200, refusal?: AttestryError): Promise<void> {
  const user = req.user as UserRecord;
  const mine = await req.deps.orgs.membershipsOf(user.id);
  const list = mine.length === 0 ? '<p id="orgs-none">You do not belong to any organization yet.</p>'
    : `<table id="orgs"><thead><tr><th scope="col">Organization</th><th scope="col">Your role</th></tr></thead><tbody>
${mine.map((o) => `<tr data-org="${escapeHtml(o.name)}"><td><a href="${orgPath(o.name)}">@${escapeHtml(o.name)}</a></td><td data-role="${escapeHtml(o.role)}">${roleLabel(o.role)}</td></tr>`).join('\n')}
</tbody></table>`;
  req.html(status, 'Organizations', `${refusal ? alert(refusal) : ''}${await req.takeFlash()}${list}
<section aria-labelledby="org-create-h"><h2 id="org-create-h">Create an organization</h2>
<p>An organization owns an npm scope: <code>@name/package</code>. You become its first owner.</p>
<form method="post" action="/-/web/orgs">${req.csrfField()}
<label for="org-name">Name (the scope, without the @)</label><input id="org-name" name="name" required maxlength="214" autocomplete="off">
${otpField(req, 'org-create-otp')}<button type="submit" id="org-create">Create the organization</button></form></section>`);
}

export const showOrgs = (req: WebRequest): Promise<void> => renderOrgs(req);

export const createOrg = (req: WebRequest): Promise<void> =>
  pageChange(req, '/-/web/orgs', (status, e) => renderOrgs(req, status, e), async (principal) => {
    const org = await req.deps.orgs.create(principal, req.field('name').trim());
    return `You created @${org.name}; you are its owner.`;
  });

// ---------- /-/web/org/<org> ----------

const orgName = (param: string): string => segment(param, 'ORG_NOT_FOUND', 'organization').replace(/^@/, '');
const manages = (role: OrgRole | undefined): boolean => role === 'owner' || role === 'admin';

function memberRow(req: WebRequest, org: string, m: { name: string; role: OrgRole }, canManage: boolean): string {
  const id = escapeHtml(m.name);
  const forms = canManage ? `<td><form method="post" action="${orgPath(org)}/members">${req.csrfField()}${hidden('user', m.name)}
${roleSelect(`role-${id}`, m.role, `Role for ${m.name}`)}${otpField(req, `role-otp-${id}`)}<button type="submit" data-action="set-role">Change role</button></form>
<form method="post" action="${orgPath(org)}/members/remove">${req.csrfField()}${hidden('user', m.name)}${otpField(req, `remove-otp-${id}`)}
<button type="submit" data-action="remove-member" aria-label="Remove ${id} from @${escapeHtml(org)}">Remove</button></form></td>` : '';
  return `<tr data-member="${id}"><td>${id}</td><td data-role="${escapeHtml(m.role)}">${roleLabel(m.role)}</td>${forms}</tr>`;
}

function membersSection(req: WebRequest, org: string, members: Array<{ name: string; role: OrgRole }>, canManage: boolean): string {
  const add = canManage ? `<h3>Add a member or change a role</h3><form method="post" action="${orgPath(org)}/members">${req.csrfField()}
<label for="member-name">Username</label><input id="member-name" name="user" required maxlength="214" autocomplete="off">
${roleSelect('member-role', 'member', 'Role')}${otpField(req, 'member-otp')}<button type="submit" id="member-add">Add to @${escapeHtml(org)}</button></form>
<p>Owners manage everything; admins manage members and teams; developers publish through their teams.</p>` : '';
  return `<section aria-labelledby="members-h"><h2 id="members-h">Members</h2>
<table id="members"><thead><tr><th scope="col">Username</th><th scope="col">Role</th>${canManage ? '<th scope="col">Manage</th>' : ''}</tr></thead>
<tbody>${members.map((m) => memberRow(req, org, m, canManage)).join('\n')}</tbody></table>${add}</section>`;
}

async function teamsSection(req: WebRequest, org: string, canManage: boolean): Promise<string> {
  const principal = principalOf(req.deps, req.user as UserRecord);
  const teams = await req.deps.orgs.listTeams(principal, org);
  const rows: string[] = [];
  for (const t of teams) {
    const count = t.members;
    const del = canManage ? `<td><form method="post" action="${orgPath(org)}/teams/delete">${req.csrfField()}${hidden('team', t.name)}${otpField(req, `team-delete-otp-${escapeHtml(t.name)}`)}
<button type="submit" data-action="delete-team" aria-label="Delete the team ${escapeHtml(t.name)}">Delete</button></form></td>` : '';
    rows.push(`<tr data-team="${escapeHtml(t.name)}"><td><a href="${teamPath(org, t.name)}">${escapeHtml(t.name)}</a></td><td>${escapeHtml(t.description)}</td>
<td data-members="${count}">${count}</td><td>${when(t.createdAt)}</td>${del}</tr>`);
  }
  const table = teams.length === 0 ? '<p id="teams-none">No teams yet.</p>'
    : `<table id="teams"><thead><tr><th scope="col">Team</th><th scope="col">Description</th><th scope="col">Members</th><th scope="col">Created</th>${canManage ? '<th scope="col">Manage</th>' : ''}</tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
  const create = canManage ? `<h3>Create a team</h3><form method="post" action="${orgPath(org)}/teams">${req.csrfField()}
<label for="team-name">Team name</label><input id="team-name" name="team" required maxlength="50" autocomplete="off">
<label for="team-description">Description (optional)</label><input id="team-description" name="description" maxlength="1024">
${otpField(req, 'team-otp')}<button type="submit" id="team-create">Create the team</button></form>
<p>A team named <code>developers</code> gets read-write access to every new package of the organization.</p>` : '';
  return `<section aria-labelledby="teams-h"><h2 id="teams-h">Teams</h2>${table}${create}</section>`;
}

async function packagesSection(req: WebRequest, org: string): Promise<string> {
  const found = await req.deps.orgs.orgPackages(principalOf(req.deps, req.user as UserRecord), req.deps.eco.id, org);
  const list = [...(found ?? new Map())].sort(([a], [b]) => a.localeCompare(b));
  const table = list.length === 0 ? '<p id="org-packages-none">No packages you can see.</p>'
    : `<table id="org-packages"><thead><tr><th scope="col">Package</th><th scope="col">Your access</th></tr></thead><tbody>
${list.map(([name, perm]) => `<tr data-package="${escapeHtml(name)}"><td><a href="${packageAccessPath(name)}">${escapeHtml(name)}</a></td><td>${escapeHtml(perm)}</td></tr>`).join('\n')}</tbody></table>`;
  return `<section aria-labelledby="org-packages-h"><h2 id="org-packages-h">Packages</h2>${table}</section>`;
}

/** The organization page; a refusal (from a change on it) is shown on top. */
async function renderOrg(req: WebRequest, org: string, status = 200, refusal?: AttestryError): Promise<void> {
  const user = req.user as UserRecord;
  // Asks the core first: outsiders and missing orgs both end here with ORG_NOT_FOUND (404).
  const members = await req.deps.orgs.listMembers(principalOf(req.deps, user), org);
  const myRole = members.find((m) => m.name === user.name)?.role;
  const canManage = manages(myRole);
  const audit = canManage ? `<p><a href="${orgPath(org)}/audit" id="audit-link">Audit log</a>: every change to members, teams and package access.</p>` : '';
  req.html(status, `@${org}`, `${refusal ? alert(refusal) : ''}${await req.takeFlash()}${canManage ? await passkeyConfirmation(req, orgPath(org)) : ''}
<p>Your role: <strong id="my-role" data-role="${escapeHtml(myRole ?? '')}">${myRole ? roleLabel(myRole) : '—'}</strong>. <a href="/-/web/orgs">All your organizations</a></p>${audit}
${membersSection(req, org, members, canManage)}${await teamsSection(req, org, canManage)}${await packagesSection(req, org)}`, { script: canManage });
}

export const showOrg = (req: WebRequest, param: string): Promise<void> => renderOrg(req, orgName(param));

/** A change on the org page: back to it with a notice, or the page again with the refusal. */
const orgChange = (req: WebRequest, param: string, change: Change): Promise<void> => {
  const org = orgName(param);
  return pageChange(req, orgPath(org), (status, e) => renderOrg(req, org, status, e), change);
};

export const setMember = (req: WebRequest, param: string): Promise<void> => orgChange(req, param, async (principal) => {
  const m = await req.deps.orgs.setMember(principal, orgName(param), req.field('user').trim(), req.field('role'));
  return `${m.name} is now ${roleLabel(m.role) === 'admin' ? 'an' : 'a'} ${roleLabel(m.role)} of @${orgName(param)}.`;
});

export const removeMember = (req: WebRequest, param: string): Promise<void> => orgChange(req, param, async (principal) => {
  const name = req.field('user').trim();
  await req.deps.orgs.removeMember(principal, orgName(param), name);
  return `${name} is no longer a member of @${orgName(param)}.`;
});

export const createTeam = (req: WebRequest, param: string): Promise<void> => orgChange(req, param, async (principal) => {
  const team = await req.deps.orgs.createTeam(principal, orgName(param), req.field('team').trim(), req.field('description'));
  return `Team ${team.name} created.`;
});

export const deleteTeam = (req: WebRequest, param: string): Promise<void> => orgChange(req, param, async (principal) => {
  await req.deps.orgs.deleteTeam(principal, orgName(param), req.field('team'));
  return `Team ${req.field('team')} deleted.`;
});
