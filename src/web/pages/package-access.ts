// A package's access settings, as `npm access get status` / `get mfa` / `list collaborators` show
// them: maintainers, teams with their permission, public or restricted, and the 2FA policy; with
// forms to change status and policy for those the core lets change them. A package the person
// may not read answers with the same 404 as a missing one (PackageService.snapshot decides).
import { invalid, isAttestryError, type AttestryError } from '../../core/errors.ts';
import type { PackageSnapshot } from '../../core/packages/package-service.ts';
import type { PackageMfaPolicy, UserRecord } from '../../storage/metadata/store.ts';
import { escapeHtml } from '../html.ts';
import { alert, principalOf, type WebRequest } from '../web-context.ts';
import { otpField, packageAccessPath, pageChange, passkeyConfirmation, segment } from './org-common.ts';

const POLICIES: ReadonlyArray<{ value: PackageMfaPolicy; label: string }> = [
  { value: 'none', label: 'Not required' },
  { value: 'publish', label: 'Required for every write, whatever the token' },
  { value: 'automation', label: 'Required, except for automation tokens' },
];

/** The route captures the name with its scope, `@scope/name` or `%40scope%2Fname`. */
const nameOf = (param: string): string => segment(param, 'PACKAGE_NOT_FOUND', 'package');

/**
 * Whether to offer the forms: the core's answer to "may this person change the package's
 * settings?". Asked for a second factor means yes (with a code in the form); any other refusal is
 * shown instead of the forms, so people learn why (not an org admin, no second factor set up…).
 */
async function managing(req: WebRequest, user: UserRecord, name: string): Promise<AttestryError | null> {
  try {
    await req.deps.packages.mayChange(principalOf(req.deps, user), req.deps.eco, name, 'package:owners');
    return null;
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    return e.code === 'OTP_REQUIRED' ? null : e;
  }
}

/** The package if this person may read it; otherwise the same 404 as for a missing package. */
const readable = (req: WebRequest, user: UserRecord, name: string): Promise<PackageSnapshot> =>
  req.deps.packages.snapshot(principalOf(req.deps, user), req.deps.eco, name);

async function renderAccess(req: WebRequest, name: string, status = 200, refusal?: AttestryError): Promise<void> {
  const user = req.user as UserRecord;
  // First: may this person read it at all? Otherwise PACKAGE_NOT_FOUND (404), as for no package.
  const { pkg, owners } = await readable(req, user, name);
  const teams = await req.deps.orgs.packageTeams(req.deps.eco.id, name);
  const cannot = await managing(req, user, name);
  const manage = cannot === null;
  const scoped = req.deps.eco.scopeOf(name) !== null;
  const action = packageAccessPath(name);
  const policy = POLICIES.find((p) => p.value === pkg.mfaPolicy) ?? { value: pkg.mfaPolicy, label: pkg.mfaPolicy };

  const maintainers = `<ul id="maintainers">${owners.map((o) => `<li data-maintainer="${escapeHtml(o.name)}">${escapeHtml(o.name)}</li>`).join('')}</ul>`;
  const teamTable = teams.length === 0 ? '<p id="package-teams-none">No team has been granted access.</p>'
    : `<table id="package-teams"><thead><tr><th scope="col">Team</th><th scope="col">Permission</th></tr></thead><tbody>
${teams.map((t) => `<tr data-team="${escapeHtml(t.team)}"><td>${escapeHtml(t.team)}</td><td data-permission="${escapeHtml(t.permission)}">${escapeHtml(t.permission)}</td></tr>`).join('\n')}</tbody></table>`;
  const statusForm = manage && scoped ? `<form method="post" action="${action}">${req.csrfField()}
<label for="access-status">Status</label><select id="access-status" name="access">
<option value="public"${pkg.access === 'public' ? ' selected' : ''}>public: anyone can install it</option>
<option value="restricted"${pkg.access === 'restricted' ? ' selected' : ''}>restricted: only maintainers and teams with access</option></select>
${otpField(req, 'access-otp')}<button type="submit" id="access-submit">Change the status</button></form>` : '';
  const unscoped = scoped ? '' : '<p id="access-unscoped">Unscoped packages are always public.</p>';
  const mfaForm = manage ? `<form method="post" action="${action.replace(/\/access$/, '/mfa')}">${req.csrfField()}
<label for="mfa-policy">Two-factor authentication for writes</label><select id="mfa-policy" name="mfa">
${POLICIES.map((p) => `<option value="${p.value}"${p.value === pkg.mfaPolicy ? ' selected' : ''}>${escapeHtml(p.label)}</option>`).join('')}</select>
${otpField(req, 'mfa-otp')}<button type="submit" id="mfa-submit">Change the 2FA policy</button></form>` : '';
  // Critical (by an administrator or by downloads): every change needs a passkey, whatever the policy says.
  const critical = pkg.critical || pkg.criticalAuto ? '<p id="access-critical">Critical package: every change needs a passkey (confirm with one above).</p>' : '';
  const readOnly = cannot === null ? ''
    : `<p id="access-read-only" data-reason="${escapeHtml(cannot.code)}">You cannot change these settings: ${escapeHtml(cannot.message)}</p>`;

  req.html(status, `${name}: access`, `${refusal ? alert(refusal) : ''}${await req.takeFlash()}${readOnly}${manage ? await passkeyConfirmation(req, action) : ''}
<section aria-labelledby="status-h"><h2 id="status-h">Status</h2><p><strong id="access-state" data-access="${escapeHtml(pkg.access)}">${escapeHtml(pkg.access)}</strong></p>${unscoped}${statusForm}</section>
<section aria-labelledby="mfa-h"><h2 id="mfa-h">Two-factor policy</h2><p><strong id="mfa-state" data-mfa="${escapeHtml(pkg.mfaPolicy)}">${escapeHtml(policy.label)}</strong></p>${critical}${mfaForm}</section>
<section aria-labelledby="maintainers-h"><h2 id="maintainers-h">Maintainers</h2>${maintainers}<p>Change maintainers with <code>npm owner</code>.</p></section>
<section aria-labelledby="package-teams-h"><h2 id="package-teams-h">Teams</h2>${teamTable}</section>`, { script: manage });
}

export const showPackageAccess = (req: WebRequest, param: string): Promise<void> => renderAccess(req, nameOf(param));

export const setPackageAccess = (req: WebRequest, param: string): Promise<void> => {
  const name = nameOf(param);
  return pageChange(req, packageAccessPath(name), (status, e) => renderAccess(req, name, status, e), async (principal) => {
    const access = req.field('access');
    // The two values the core knows; anything else is refused with the code npm's route uses.
    if (access !== 'public' && access !== 'restricted') throw invalid('BAD_ACCESS', 'access must be "public" or "restricted"');
    await req.deps.packages.setAccess(principal, req.deps.eco, name, access);
    return `${name} is ${access}.`;
  });
};

export const setPackageMfa = (req: WebRequest, param: string): Promise<void> => {
  const name = nameOf(param);
  return pageChange(req, packageAccessPath(name), (status, e) => renderAccess(req, name, status, e), async (principal) => {
    const choice = POLICIES.find((p) => p.value === req.field('mfa'));
    if (!choice) throw invalid('BAD_MFA_POLICY', 'The 2FA policy is one of none, publish, automation');
    await req.deps.packages.setMfaPolicy(principal, req.deps.eco, name, choice.value);
    return `${name}: two-factor authentication ${choice.label.toLowerCase()}.`;
  });
};
