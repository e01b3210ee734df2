// An organization's audit log for its owners and admins, newest first: role changes, teams, grants
// and revokes, and what happened to the org's packages (access, 2FA policy, maintainers,
// publishes). The core refuses everyone else (403 for members, 404 for outsiders).
import type { EventRecord, UserRecord } from '../../storage/metadata/store.ts';
import { escapeHtml } from '../html.ts';
import { principalOf, when, type WebRequest } from '../web-context.ts';
import { orgPath, segment } from './org-common.ts';
import { pageLinks } from './audit-paging.ts';
import { parseEventCursor } from '../../core/audit/cursor.ts';

/** Events per page; older ones are a link away (`?before=`, as the JSON API's `next`). */
const SHOWN = 100;

const LABELS: Record<string, string> = {
  'org.created': 'Organization created',
  'org.member-set': 'Member role set',
  'org.member-removed': 'Member removed',
  'team.created': 'Team created',
  'team.deleted': 'Team deleted',
  'team.member-added': 'Added to a team',
  'team.member-removed': 'Removed from a team',
  'team.package-granted': 'Package access granted to a team',
  'team.package-revoked': 'Package access revoked from a team',
  'access.changed': 'Package status changed',
  'package.mfa-policy-changed': 'Package 2FA policy changed',
  'owner.added': 'Maintainer added',
  'owner.removed': 'Maintainer removed',
  'release.published': 'Version published',
  'release.unpublished': 'Version unpublished',
  'release.deprecated': 'Version deprecated',
  'package.unpublished': 'Package unpublished',
  'tag.set': 'Tag set',
  'tag.removed': 'Tag removed',
};

/** `org` is the page's own org, and the names are in their own columns: not repeated as details. */
const SHOWN_ELSEWHERE = new Set(['org', 'user', 'tokenId', 'credentialId']);
const NAMES: Record<string, string> = { previousRole: 'previous role', mfaPolicy: '2FA policy' };

function details(e: EventRecord): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(e.data)) {
    if (SHOWN_ELSEWHERE.has(key) || value === null || value === undefined || typeof value === 'object') continue;
    parts.push(`${escapeHtml(NAMES[key] ?? key)}: ${escapeHtml(String(value).slice(0, 200))}`);
  }
  return parts.join('; ');
}

const cell = (value: string | null | undefined): string => (value ? escapeHtml(value) : '—');

function row(e: EventRecord): string {
  const pkg = e.packageName ? `${escapeHtml(e.packageName)}${e.version ? `@${escapeHtml(e.version)}` : ''}` : '—';
  return `<tr data-event="${escapeHtml(e.type)}"><td>${when(e.at)}</td><td>${escapeHtml(LABELS[e.type] ?? e.type)} <code>${escapeHtml(e.type)}</code></td>
<td data-actor="${escapeHtml(e.actorName ?? '')}">${cell(e.actorName)}</td><td data-subject="${escapeHtml(e.subjectName ?? '')}">${cell(e.subjectName)}</td>
<td data-package="${escapeHtml(e.packageName ?? '')}">${pkg}</td><td>${details(e)}</td></tr>`;
}

export async function showOrgAudit(req: WebRequest, param: string): Promise<void> {
  const org = segment(param, 'ORG_NOT_FOUND', 'organization').replace(/^@/, '');
  const before = parseEventCursor(req.ctx.query.get('before'));
  const events = await req.deps.orgs.auditEvents(principalOf(req.deps, req.user as UserRecord), org, SHOWN, before);
  const table = events.length === 0 ? `<p id="audit-none">${before ? 'No older events.' : 'Nothing has happened yet.'}</p>`
    : `<table id="org-audit"><thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Actor</th><th scope="col">Subject</th><th scope="col">Package</th><th scope="col">Details</th></tr></thead>
<tbody>${events.map(row).join('\n')}</tbody></table>`;
  const older = pageLinks(`${orgPath(org)}/audit`, events.length === SHOWN ? events.at(-1) : undefined, before !== undefined);
  req.html(200, `@${org}: audit log`, `<p>Changes to the members, teams and packages of @${escapeHtml(org)}, newest first, ${SHOWN} to a page.
The same log as JSON: <code>GET /-/npm/v1/org/${escapeHtml(org)}/audit</code>. <a href="${orgPath(org)}" id="back-to-org">Back to @${escapeHtml(org)}</a></p>${table}${older}`);
}
