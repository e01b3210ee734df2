// The account settings page: the address and its verified state, email and password changes,
// two-factor methods (authenticator app, passkeys, recovery codes), tokens (listed and revoked
// here, created in pages/tokens.ts) and the limits that apply to sessions. Changes that would let
// someone keep or take the account (email, password, removing a factor) ask for the password again.
import type { AttestryError } from '../../core/errors.ts';
import { isAttestryError } from '../../core/errors.ts';
import { validateEmail } from '../../core/accounts/names.ts';
import type { TokenRecord, UserRecord } from '../../storage/metadata/store.ts';
import { escapeHtml } from '../html.ts';
import { alert, factorsOf, principalOf, retryAfter, statusOf, when, type Factors, type WebRequest } from '../web-context.ts';
import { describeAccess } from './tokens.ts';

const passwordField = (id: string, label = 'Your current password') =>
  `<label for="${id}">${label}</label><input id="${id}" name="password" type="password" autocomplete="current-password" required>`;

function emailSection(req: WebRequest, user: UserRecord): string {
  const verified = user.emailVerifiedAt !== null;
  const resend = verified ? '' : `<p>Until you verify it you cannot create tokens, publish or recover the account by email.</p>
<form method="post" action="/-/web/account/email/verify">${req.csrfField()}<button type="submit" id="email-resend">Send the link again</button></form>`;
  return `<section aria-labelledby="email-h"><h2 id="email-h">Email</h2>
<p><strong id="email-address">${escapeHtml(user.email)}</strong> — <span id="email-state" data-verified="${verified}">${verified ? 'verified' : 'not verified'}</span></p>${resend}
<form method="post" action="/-/web/account/email">${req.csrfField()}
<label for="new-email">New address (it changes once you open the link we send there)</label><input id="new-email" name="email" type="email" autocomplete="email" required>
${passwordField('email-password')}<button type="submit" id="email-change">Change the address</button></form></section>`;
}

function passwordSection(req: WebRequest): string {
  return `<section aria-labelledby="password-h"><h2 id="password-h">Password</h2>
<form method="post" action="/-/web/account/password">${req.csrfField()}
<label for="old-password">Current password</label><input id="old-password" name="oldPassword" type="password" autocomplete="current-password" required>
<label for="new-password">New password</label><input id="new-password" name="newPassword" type="password" autocomplete="new-password" required>
<button type="submit" id="password-change">Change the password</button></form>
<p>Changing it logs out every other browser.</p></section>`;
}

function totpPart(req: WebRequest, user: UserRecord, factors: Factors): string {
  if (factors.totp) {
    return `<h3>Authenticator app</h3><p id="totp-state" data-enabled="true">On.</p>
<form method="post" action="/-/web/account/totp/disable">${req.csrfField()}
<label for="totp-disable-code">A current code from the app</label><input id="totp-disable-code" name="code" inputmode="numeric" autocomplete="one-time-code" required>
${passwordField('totp-disable-password')}<button type="submit" id="totp-disable">Remove the authenticator app</button></form>`;
  }
  const pending = user.totpPendingSecret !== null ? ' <a href="/-/web/account/totp">Continue the set-up</a>' : '';
  return `<h3>Authenticator app</h3><p id="totp-state" data-enabled="false">Off.${pending}</p>
<form method="post" action="/-/web/account/totp/start">${req.csrfField()}<button type="submit" id="totp-start">Set up an authenticator app</button></form>`;
}

function passkeyPart(req: WebRequest, factors: Factors): string {
  const rows = factors.passkeys.map((p) => `<tr data-passkey="${escapeHtml(p.id)}"><td>${escapeHtml(p.name)}</td><td>${when(p.createdAt)}</td><td>${when(p.lastUsedAt)}</td>
<td><form method="post" action="/-/web/account/passkeys/remove">${req.csrfField()}<input type="hidden" name="id" value="${escapeHtml(p.id)}">
${passwordField(`remove-${escapeHtml(p.id.slice(0, 12))}`, 'Password')}<button type="submit" aria-label="Remove the passkey ${escapeHtml(p.name)}">Remove</button></form></td></tr>`).join('');
  const list = factors.passkeys.length === 0 ? '<p id="passkeys-none">No passkeys yet.</p>'
    : `<table id="passkeys"><thead><tr><th scope="col">Name</th><th scope="col">Added</th><th scope="col">Last used</th><th scope="col"></th></tr></thead><tbody>${rows}</tbody></table>`;
  const add = req.deps.secondFactors.passkeysAvailable
    ? `<form data-webauthn="register" data-options-url="/-/web/passkeys/register/options" data-verify-url="/-/web/passkeys/register/verify">
<label for="passkey-name">Name for the new passkey</label><input id="passkey-name" name="name" maxlength="64" value="Passkey">
<button type="submit" id="passkey-add">Add a passkey</button><p role="alert" data-webauthn-error></p></form>`
    : '<p>Passkeys need this registry to be reached by a host name over https (or on localhost).</p>';
  return `<h3>Passkeys</h3><p>A passkey signs you in without a password, and counts as a phishing-resistant second factor.</p>${list}${add}`;
}

async function recoveryPart(req: WebRequest, user: UserRecord, factors: Factors): Promise<string> {
  if (!factors.any) return '<h3>Recovery codes</h3><p>Recovery codes come with your first second factor.</p>';
  const remaining = await req.deps.secondFactors.remainingRecoveryCodes(user.id);
  return `<h3>Recovery codes</h3><p><span id="recovery-remaining">${remaining}</span> unused recovery codes. Each works once when you cannot use your app or passkey.</p>
<form method="post" action="/-/web/account/recovery-codes">${req.csrfField()}<button type="submit" id="recovery-regenerate">Make new recovery codes</button></form>
<p>New codes replace all the old ones.</p>`;
}

function tokenRow(req: WebRequest, t: TokenRecord): string {
  const label = t.name ?? `${t.displayPrefix}…`;
  const used = t.lastUsedAt === null ? 'never' : `${when(t.lastUsedAt)}${t.lastUsedIp ? ` from <span data-last-ip>${escapeHtml(t.lastUsedIp)}</span>` : ''}`;
  return `<tr data-token="${escapeHtml(t.id)}"><td>${escapeHtml(t.name ?? '—')}</td><td>${t.kind === 'session' ? 'login session' : 'token'}</td><td><code>${escapeHtml(t.displayPrefix)}…</code></td>
<td data-access>${describeAccess(t)}</td>
<td>${when(t.createdAt)}</td><td>${t.expiresAt === null ? 'never' : when(t.expiresAt)}</td><td>${used}</td>
<td><form method="post" action="/-/web/account/tokens/revoke">${req.csrfField()}<input type="hidden" name="id" value="${escapeHtml(t.id)}">
<button type="submit" data-revoke aria-label="Revoke the token ${escapeHtml(label)}">Revoke</button></form></td></tr>`;
}

async function tokensSection(req: WebRequest, user: UserRecord): Promise<string> {
  const tokens = await req.deps.accounts.listTokens(principalOf(req.deps, user));
  const table = tokens.length === 0 ? '<p id="tokens-none">No tokens.</p>'
    : `<table id="tokens"><thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Token</th><th scope="col">Access</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">Revoke</th></tr></thead>
<tbody>${tokens.map((t) => tokenRow(req, t)).join('')}</tbody></table>`;
  return `<section aria-labelledby="tokens-h"><h2 id="tokens-h">Tokens</h2>${table}
<p><a href="/-/web/account/tokens/new" id="token-new-link">Create a token</a> (or use <code>npm token create</code>). Revoking a token stops it at once.</p></section>`;
}

/** The settings page, with a refusal on top when a change was refused. */
export async function renderAccount(req: WebRequest, status = 200, refusal?: AttestryError): Promise<void> {
  const user = req.user;
  if (!user) return req.redirectToLogin('/-/web/account');
  const factors = await factorsOf(req.deps, user);
  const leaked = user.passwordLeaked
    ? '<p class="error" role="alert" data-code="PASSWORD_LEAKED">Your password appears in a known data breach. Change it below.</p>' : '';
  const idleMinutes = Math.round(req.deps.webSessions.policy.idleMs / 60_000);
  const body = `${refusal ? alert(refusal) : ''}${await req.takeFlash()}${leaked}
${emailSection(req, user)}${passwordSection(req)}
<section aria-labelledby="tfa-h"><h2 id="tfa-h">Two-factor authentication</h2>
<p id="tfa-mode">${user.tfaMode === null ? 'Off: publishing may be refused until you add a second factor.' : user.tfaMode === 'auth-and-writes' ? 'On, for logins and writes.' : 'On, for logins.'}</p>
${totpPart(req, user, factors)}${passkeyPart(req, factors)}${await recoveryPart(req, user, factors)}</section>
${await tokensSection(req, user)}
<section aria-labelledby="sessions-h"><h2 id="sessions-h">Sessions and history</h2>
<p>This browser session ends after ${idleMinutes} minutes without activity.</p>
<p><a href="/-/web/account/security" id="security-history-link">Security history</a>: every sign-in and change to this account.</p>
<p><a href="/-/web/orgs" id="orgs-link">Organizations</a>: the ones you belong to, their members, teams and package access.</p></section>`;
  req.html(status, 'Your account', body, { script: req.deps.secondFactors.passkeysAvailable });
}

export const showAccount = (req: WebRequest): Promise<void> => renderAccount(req);

/** Runs a change; a refusal re-renders the settings page with it, success goes back with a notice. */
export async function accountChange(req: WebRequest, change: (user: UserRecord) => Promise<string>): Promise<void> {
  const user = req.user;
  if (!user) return req.redirectToLogin('/-/web/account');
  let notice: string;
  try {
    notice = await change(user);
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    retryAfter(req, e);
    return renderAccount(req, statusOf(e), e);
  }
  req.ctx.logFields.user = user.name;
  await req.flash(notice);
  req.redirect('/-/web/account');
}

export const resendVerification = (req: WebRequest): Promise<void> => accountChange(req, async (user) => {
  if (user.emailVerifiedAt !== null) return 'Your address is already verified.';
  await req.deps.emailVerification.sendVerification(user);
  return `We sent a new link to ${user.email}.`;
});

export const changeEmail = (req: WebRequest): Promise<void> => accountChange(req, async (user) => {
  await req.deps.accounts.authenticate(user.name, req.field('password'), req.ip);
  const email = validateEmail(req.field('email').trim());
  await req.deps.emailVerification.requestEmailChange(user, email);
  return `We sent a link to ${email}. Your address changes when you open it; until then it stays ${user.email}.`;
});

export const changePassword = (req: WebRequest): Promise<void> => accountChange(req, async (user) => {
  await req.deps.accounts.changePassword(user, req.field('oldPassword'), req.field('newPassword'), req.ip);
  // The change ended every session of the account, this one included: continue in a new one.
  await req.replaceSession(user.id);
  return 'Your password was changed. Other browsers were logged out.';
});
