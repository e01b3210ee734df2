// Tokens in the browser: the form that creates a granular token (the same checks as
// `npm token create`: the scope is parsed first, then the password, then the verified address),
// the page that shows the new token once, and revocation from the account page. The scope goes
// through the npm body's own parser (parseTokenScope) so the two front doors cannot disagree.
import { AttestryError, invalid, isAttestryError } from '../../core/errors.ts';
import { MAX_TOKEN_NAME_LENGTH } from '../../core/accounts/account-service.ts';
import type { TokenRecord } from '../../storage/metadata/store.ts';
import { parseCidrList } from '../../security/tokens/cidr.ts';
import { parseTokenScope, type TokenPermission, type TokenScope } from '../../security/tokens/token-scope.ts';
import { escapeHtml } from '../html.ts';
import { actingPrincipal, otpField } from './org-common.ts';
import { alert, principalOf, retryAfter, statusOf, when, type WebRequest } from '../web-context.ts';

/**
 * The outer bound on a lifetime, as npm's token API has it (MAX_TOKEN_DAYS there); the registry's
 * tighter maximum for tokens that can write is applied by AccountService.issueToken (BAD_EXPIRY).
 */
const MAX_DAYS = 365;

const PERMISSION_WORDS: Record<TokenPermission, string> = {
  'read-only': 'read-only', 'read-write': 'read and write', 'no-access': 'no access', manage: 'read, write and manage',
};

/** What a token may do, as escaped HTML: its scope (granular) or its owner's rights (classic). */
export function describeAccess(t: Pick<TokenRecord, 'readonly' | 'scope' | 'bypass2fa' | 'cidrWhitelist'>): string {
  const parts = [t.scope === null ? `all your packages, ${t.readonly ? 'read-only' : 'read and write'}` : describeScope(t.scope)];
  if (t.bypass2fa) parts.push('no second factor for writes');
  if (t.cidrWhitelist) parts.push(`from ${escapeHtml(t.cidrWhitelist.join(', '))} only`);
  return parts.join('; ');
}

/** A granular scope in words, escaped: which packages, scopes and organizations, and how. */
export function describeScope(scope: TokenScope): string {
  const covered = [
    ...(scope.packages === 'all' ? ['all your packages'] : scope.packages === null ? [] : [`packages ${scope.packages.join(', ')}`]),
    ...(scope.scopes === null ? [] : [`scopes ${scope.scopes.map((s) => `@${s}`).join(', ')}`]),
  ];
  const parts: string[] = [];
  if (covered.length > 0) parts.push(`${covered.join(' and ')}: ${PERMISSION_WORDS[scope.packagesPermission]}`);
  if (scope.orgs !== null) parts.push(`organizations ${scope.orgs.join(', ')}: ${PERMISSION_WORDS[scope.orgsPermission ?? 'read-only']}`);
  return escapeHtml(parts.length === 0 ? 'no packages' : parts.join('; '));
}

const days = (n: number): string => (n === 1 ? '1 day' : `${n} days`);

/** A free-text list ("a, b c"): commas and white space separate entries. */
const listOf = (value: string): string[] => value.split(/[\s,]+/).filter((s) => s !== '');

const option = (value: string, label: string, chosen: string) =>
  `<option value="${value}"${value === chosen ? ' selected' : ''}>${label}</option>`;

/** The creation form; after a refusal it keeps what was typed (never the password). */
function tokenForm(req: WebRequest, refusal?: AttestryError): string {
  const v = (name: string) => escapeHtml(req.field(name));
  const permission = req.field('permission') || 'read-write';
  const orgsPermission = req.field('orgsPermission') || 'read-only';
  const checked = (name: string) => (req.field(name) === 'on' ? ' checked' : '');
  const lifetime = req.deps.accounts.writeTokenLifetime;
  return `${refusal ? alert(refusal) : ''}
<p>A token narrows what you can do: it never gets more than your own rights. The token is shown once, right after you create it.</p>
<form method="post" action="/-/web/account/tokens/new" id="token-form">${req.csrfField()}
<label for="token-name">Name (to recognise it later)</label><input id="token-name" name="name" maxlength="${MAX_TOKEN_NAME_LENGTH}" value="${v('name')}">
<fieldset><legend>Packages</legend>
<label for="token-packages">Package names, separated by commas or spaces</label><input id="token-packages" name="packages" value="${v('packages')}" aria-describedby="token-packages-hint">
<p id="token-packages-hint">Exact names, such as <code>@acme/widget</code>.</p>
<label><input type="checkbox" id="token-packages-all" name="packagesAll"${checked('packagesAll')}> All packages (instead of a list)</label>
<label for="token-scopes">Scopes: every package in them, new ones included</label><input id="token-scopes" name="scopes" value="${v('scopes')}" placeholder="@acme">
<label for="token-permission">Permission on these packages and scopes</label>
<select id="token-permission" name="permission">${option('read-only', 'Read-only', permission)}${option('read-write', 'Read and write (publish, deprecate, dist-tags)', permission)}</select>
</fieldset>
<fieldset><legend>Organizations</legend>
<label for="token-orgs">Organizations the token may manage (members, teams), separated by commas or spaces</label><input id="token-orgs" name="orgs" value="${v('orgs')}">
<label for="token-orgs-permission">Permission on these organizations</label>
<select id="token-orgs-permission" name="orgsPermission">${option('no-access', 'No access', orgsPermission)}${option('read-only', 'Read-only', orgsPermission)}${option('read-write', 'Read and write', orgsPermission)}</select>
</fieldset>
<label for="token-expires">Expires after (days)</label><input id="token-expires" name="expires" type="number" min="1" max="${MAX_DAYS}" inputmode="numeric" value="${v('expires')}" aria-describedby="token-expires-hint">
<p id="token-expires-hint">Empty: ${days(lifetime.defaultDays)} for a token that can write; a read-only token then does not expire. On this registry a token that can write lives at most ${days(lifetime.maxDays)}.</p>
<label for="token-cidr">Only from these IPv4 networks (CIDR, separated by commas or spaces; empty: anywhere)</label><input id="token-cidr" name="cidr" value="${v('cidr')}" placeholder="192.0.2.0/24">
<label><input type="checkbox" id="token-bypass2fa" name="bypass2fa"${checked('bypass2fa')}> No second factor for writes (bypass 2FA: for automation; anyone holding the token can then publish)</label>
<label for="token-password">Your current password</label><input id="token-password" name="password" type="password" autocomplete="current-password" required>
${otpField(req, 'token-otp')}<button type="submit" id="token-create">Create the token</button>
</form><p><a href="/-/web/account">Back to your account</a></p>`;
}

export async function showNewToken(req: WebRequest): Promise<void> {
  if (!req.user) return req.redirectToLogin();
  req.html(200, 'Create a token', tokenForm(req));
}

/** The form as the body `npm token create` would send, so parseTokenScope reads it unchanged. */
function npmBody(req: WebRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const packages = listOf(req.field('packages'));
  const scopes = listOf(req.field('scopes'));
  const orgs = listOf(req.field('orgs'));
  const all = req.field('packagesAll') === 'on';
  if (packages.length > 0) body.packages = packages;
  if (all) body.packages_all = true;
  if (scopes.length > 0) body.scopes = scopes;
  if (orgs.length > 0) {
    body.orgs = orgs;
    body.orgs_permission = req.field('orgsPermission');
  }
  // The packages permission goes along unless the token is for organizations only; with nothing
  // named at all the parser refuses it (TOKEN_SCOPE_EMPTY): the web never makes a classic token.
  if (packages.length > 0 || scopes.length > 0 || all || orgs.length === 0) body.packages_and_scopes_permission = req.field('permission');
  return body;
}

function expiresInDays(raw: string): number | undefined {
  const value = raw.trim();
  if (value === '') return undefined;
  const days = /^\d{1,4}$/.test(value) ? Number(value) : NaN;
  if (!(days >= 1 && days <= MAX_DAYS)) throw invalid('BAD_EXPIRY', `The lifetime is a whole number of days from 1 to ${MAX_DAYS}`);
  return days;
}

export async function submitNewToken(req: WebRequest): Promise<void> {
  const user = req.user;
  if (!user) return req.redirectToLogin('/-/web/account');
  try {
    // Everything that can be checked without the password first, so a mistake costs no attempt.
    const scope = parseTokenScope(npmBody(req));
    const cidrWhitelist = parseCidrList(listOf(req.field('cidr')));
    const days = expiresInDays(req.field('expires'));
    const authenticated = await req.deps.accounts.authenticate(user.name, req.field('password'), req.ip);
    req.deps.accounts.requireVerifiedEmail(authenticated);
    // As npm's route: an account with an authenticator app confirms a new credential with a code
    // (a stolen session cookie alone must not mint a token that outlives the session). A
    // passkey-only account proved its passkey at login and has no code to type.
    const acting = await actingPrincipal(req, authenticated);
    if (authenticated.totpSecret !== null && acting.mfa?.presented === 'none') {
      throw new AttestryError('unauthenticated', 'OTP_REQUIRED', 'Creating a token requires a one-time password from your authenticator app (or a recovery code)');
    }
    const name = req.field('name').trim();
    const { token, record } = await req.deps.accounts.issueToken(authenticated, {
      kind: 'api', name: name === '' ? null : name, cidrWhitelist, expiresInDays: days, bypass2fa: req.field('bypass2fa') === 'on', scope,
    });
    req.ctx.logFields.user = user.name;
    req.html(200, 'Your new token', `<p role="status">Copy the token now: this is the only time it is shown.</p>
<p class="secret" id="new-token">${escapeHtml(token)}</p>
<table id="new-token-facts"><tbody>
<tr><th scope="row">Name</th><td>${escapeHtml(record.name ?? '—')}</td></tr>
<tr><th scope="row">Can</th><td id="new-token-access">${describeAccess(record)}</td></tr>
<tr><th scope="row">Expires</th><td id="new-token-expires">${record.expiresAt === null ? 'never' : when(record.expiresAt)}</td></tr>
</tbody></table>
<p><a href="/-/web/account">Back to your account</a>, where you can revoke it.</p>`);
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    retryAfter(req, e);
    req.html(statusOf(e), 'Create a token', tokenForm(req, e));
  }
}

/** Revocation from the account page; a refusal (no such token of yours) is shown by the web handler. */
export async function revokeToken(req: WebRequest): Promise<void> {
  const user = req.user;
  if (!user) return req.redirectToLogin('/-/web/account');
  const id = req.field('id');
  const principal = principalOf(req.deps, user);
  const name = (await req.deps.accounts.listTokens(principal)).find((t) => t.id === id)?.name ?? null;
  await req.deps.accounts.revokeToken(principal, id);
  req.ctx.logFields.user = user.name;
  await req.flash(name === null ? 'The token was revoked.' : `The token ${name} was revoked.`);
  req.redirect('/-/web/account');
}
