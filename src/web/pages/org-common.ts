// What the organization and package-access pages share: the acting principal (with a one-time
// password when the person typed one), the "change, then back with a notice; refused, re-render
// with the refusal" pattern, and small pieces of markup. Nothing here decides who may do what:
// the core services ask the authorizer and throw typed errors that these pages only show.
import { isAttestryError, notFound, type AttestryError } from '../../core/errors.ts';
import type { OrgRole, UserRecord } from '../../storage/metadata/store.ts';
import type { UserPrincipal } from '../../security/authz/principal.ts';
import { escapeHtml } from '../html.ts';
import { principalOf, retryAfter, sessionCredential, statusOf, type WebRequest } from '../web-context.ts';

/** A page that shows itself, with a refusal on top and the refusal's status when one is given. */
export type Render = (status?: number, refusal?: AttestryError) => Promise<void>;

/**
 * The logged-in person as a principal. A web session does not count as a presented second
 * factor (the login's factor is not a per-change confirmation, as npm's OTP is), so a change that
 * needs one takes the code typed into the form's optional field, verified like the login's.
 */
export async function actingPrincipal(req: WebRequest, user: UserRecord): Promise<UserPrincipal> {
  const principal = principalOf(req.deps, user);
  const otp = req.field('otp').trim();
  // A passkey confirmation of the last few minutes stands for a phishing-resistant factor.
  if (otp === '' && passkeyConfirmedUntil(req) !== null) return { ...principal, mfa: { ...req.deps.secondFactors.mfaState(user), presented: 'webauthn' } };
  if (otp === '' || !req.session) return principal;
  const presented = await req.deps.secondFactors.verifyPresented(user, otp, sessionCredential(req.session), req.ip);
  return { ...principal, mfa: { ...req.deps.secondFactors.mfaState(user), presented } };
}

/** How long a passkey confirmation lets changes through ("sudo"), as short as one sitting. */
export const PASSKEY_CONFIRMATION_MS = 5 * 60_000;

/** The end of the current passkey confirmation, or null. */
export function passkeyConfirmedUntil(req: WebRequest): number | null {
  const at = req.session?.data.passkeyConfirmedAt;
  if (at === undefined || req.session?.record.userId !== req.user?.id) return null;
  const until = at + PASSKEY_CONFIRMATION_MS;
  return until > req.deps.clock() ? until : null;
}

/**
 * The "confirm with a passkey" form for pages with changes, for people with a passkey: it is how
 * passkey-only accounts confirm changes, and the only way to change a critical package here. The
 * page must load webauthn.js (`{ script: true }`).
 */
export async function passkeyConfirmation(req: WebRequest, back: string): Promise<string> {
  const user = req.user;
  if (!user || !req.deps.secondFactors.passkeysAvailable || (await req.deps.secondFactors.passkeys(user.id)).length === 0) return '';
  const until = passkeyConfirmedUntil(req);
  const state = until === null ? '' : ` <span id="passkey-confirmed" data-until="${new Date(until).toISOString()}">Confirmed until ${new Date(until).toISOString().slice(11, 16)} UTC.</span>`;
  return `<form id="passkey-confirm" data-webauthn="authenticate" data-options-url="/-/web/passkeys/confirm/options" data-verify-url="/-/web/passkeys/confirm/verify">
<input type="hidden" name="returnTo" value="${escapeHtml(back)}"><p>Changes that need a second factor: confirm with a passkey (for ${PASSKEY_CONFIRMATION_MS / 60_000} minutes), or type a one-time password in the form.${state}</p>
<button type="submit" id="passkey-confirm-button">Confirm with a passkey</button><p role="alert" data-webauthn-error></p></form>`;
}

/** The optional code field, only for people who have a second factor to type a code from. */
export function otpField(req: WebRequest, id: string): string {
  const user = req.user;
  if (!user || user.tfaMode === null) return '';
  return `<label for="${id}">One-time password (when asked for one)</label><input id="${id}" name="otp" inputmode="numeric" autocomplete="one-time-code" maxlength="100">`;
}

/** A change made as the logged-in person; returns the notice shown after it. */
export type Change = (principal: UserPrincipal, user: UserRecord) => Promise<string>;

/** Runs a change: success flashes `notice` and goes back to `back`; a refusal re-renders the page with it. */
export async function pageChange(req: WebRequest, back: string, render: Render, change: Change): Promise<void> {
  const user = req.user;
  if (!user) return req.redirectToLogin();
  let notice: string;
  try {
    notice = await change(await actingPrincipal(req, user), user);
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    retryAfter(req, e);
    // A page the person may not see at all (another org) answers with its own refusal from render.
    return render(statusOf(e), e);
  }
  req.ctx.logFields.user = user.name;
  await req.flash(notice);
  req.redirect(back);
}

/** A path segment as the person typed it; a malformed escape names nothing that exists. */
export function segment(raw: string, code: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw notFound(code, `There is no ${what} ${raw.slice(0, 60)}`);
  }
}

/** npm calls a member a developer; people know it by that name. */
export const roleLabel = (role: OrgRole): string => (role === 'member' ? 'developer' : role);

export const orgPath = (org: string): string => `/-/web/org/${encodeURIComponent(org)}`;
export const teamPath = (org: string, team: string): string => `${orgPath(org)}/team/${encodeURIComponent(team)}`;
export const packageAccessPath = (name: string): string => `/-/web/package/${name.split('/').map(encodeURIComponent).join('/')}/access`;

/** A hidden input carrying a value the form acts on (a member's name, a team's name). */
export const hidden = (name: string, value: string): string => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;

export function roleSelect(id: string, selected: OrgRole, label: string): string {
  const options = (['member', 'admin', 'owner'] as const).map((r) =>
    `<option value="${r === 'member' ? 'developer' : r}"${r === selected ? ' selected' : ''}>${roleLabel(r)}</option>`).join('');
  return `<label for="${id}">${escapeHtml(label)}</label><select id="${id}" name="role">${options}</select>`;
}
