// The account pages under /-/web/: routing, and what every route gets before its page runs — the
// browser session from the `attestry_session` cookie, the parsed body, the CSRF check on every
// POST (the `_csrf` field or the `x-csrf-token` header must match the session's token), and a
// login check that sends people whose session ended to the login page (and back afterwards).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Handler, RequestContext } from '../http/context.ts';
import { parseJson, readBody } from '../http/body.ts';
import { forbidden, invalid, isAttestryError } from '../core/errors.ts';
import { parseCookies, SESSION_COOKIE } from './cookies.ts';
import { ICON, ICON_PATH, SCRIPT_PATH, STYLESHEET, STYLESHEET_PATH } from './html.ts';
import { alert, statusOf, WebRequest, type WebDeps } from './web-context.ts';
import { npmLoginPage } from './login-page.ts';
import { logout, showLogin, showSecondFactor, submitLogin, submitSecondFactor } from './pages/login.ts';
import { showSignup, submitSignup } from './pages/signup.ts';
import { showForgotPassword, showResetPassword, showVerifyEmail, submitForgotPassword, submitResetPassword, submitVerifyEmail } from './pages/email-links.ts';
import { changeEmail, changePassword, resendVerification, showAccount } from './pages/account.ts';
import { confirmTotp, disableTotp, regenerateRecoveryCodes, removePasskey, showTotpEnrolment, startTotp } from './pages/two-factor.ts';
import { showSecurityHistory } from './pages/security-history.ts';
import { revokeToken, showNewToken, submitNewToken } from './pages/tokens.ts';
import { showWebOtp, submitWebOtp } from './pages/web-otp.ts';
import * as passkeys from './pages/passkeys-api.ts';
import { createOrg, createTeam, deleteTeam, removeMember, setMember, showOrg, showOrgs } from './pages/orgs.ts';
import { addTeamMember, grantPackage, removeTeamMember, revokePackage, showTeam } from './pages/org-team.ts';
import { showOrgAudit } from './pages/org-audit.ts';
import { setPackageAccess, setPackageMfa, showPackageAccess } from './pages/package-access.ts';

export type { WebDeps } from './web-context.ts';

const FORM_LIMIT = 16 * 1024;
/** A WebAuthn response stays far below 64 KiB (security/mfa/webauthn.ts), plus a few fields. */
const JSON_LIMIT = 80 * 1024;
/** Expired sessions are swept at most this often (a store-wide delete). */
const SWEEP_EVERY_MS = 10 * 60_000;

interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  name: string;
  /** 'json' routes are webauthn.js's: JSON in, JSON out (errors too). */
  kind: 'page' | 'json';
  /** 'user': logged in, else to the login page (pages) or 401 (JSON). */
  access: 'public' | 'user';
  /** Only the npm CLI's login form is exempt: its URL is the capability (see login-page.ts). */
  csrf?: false;
  /** The path segment that is a secret (an emailed link): left out of the access log. */
  secretPath?: string;
  run(req: WebRequest, param: string): Promise<void>;
}

const page = (method: Route['method'], pattern: RegExp, name: string, access: Route['access'], run: Route['run'], extra: Partial<Route> = {}): Route =>
  ({ method, pattern, name, kind: 'page', access, run, ...extra });
const api = (pattern: RegExp, name: string, access: Route['access'], run: Route['run']): Route =>
  ({ method: 'POST', pattern, name, kind: 'json', access, run });

const SECRET = '([A-Za-z0-9_-]{20,200})';
/** One path segment (an org or team name, still percent-encoded); the core says whether it exists. */
const SEG = '[^/]{1,300}';
/** A package name, scoped or not, its slash escaped or not. */
const PKG = '((?:@|%40)[^/]{1,214}(?:/|%2F|%2f)[^/]{1,214}|[^/@%][^/]{0,213})';
const ROUTES: Route[] = [
  page('GET', /^\/-\/web\/signup$/, 'signup', 'public', showSignup),
  page('POST', /^\/-\/web\/signup$/, 'signup', 'public', submitSignup),
  page('GET', /^\/-\/web\/login$/, 'login', 'public', showLogin),
  page('POST', /^\/-\/web\/login$/, 'login', 'public', submitLogin),
  page('GET', /^\/-\/web\/login\/([A-Za-z0-9_-]{10,64})$/, 'login.cli', 'public', npmLoginPage),
  page('POST', /^\/-\/web\/login\/([A-Za-z0-9_-]{10,64})$/, 'login.cli', 'public', npmLoginPage, { csrf: false }),
  page('GET', /^\/-\/web\/second-factor$/, 'second-factor', 'public', showSecondFactor),
  page('POST', /^\/-\/web\/second-factor$/, 'second-factor', 'public', submitSecondFactor),
  page('POST', /^\/-\/web\/logout$/, 'logout', 'public', logout),
  page('GET', new RegExp(`^/-/web/verify-email/${SECRET}$`), 'verify-email', 'public', showVerifyEmail, { secretPath: '/-/web/verify-email/[redacted]' }),
  page('POST', /^\/-\/web\/verify-email$/, 'verify-email', 'public', submitVerifyEmail),
  page('GET', /^\/-\/web\/forgot-password$/, 'forgot-password', 'public', showForgotPassword),
  page('POST', /^\/-\/web\/forgot-password$/, 'forgot-password', 'public', submitForgotPassword),
  page('GET', new RegExp(`^/-/web/reset-password/${SECRET}$`), 'reset-password', 'public', showResetPassword, { secretPath: '/-/web/reset-password/[redacted]' }),
  page('POST', /^\/-\/web\/reset-password$/, 'reset-password', 'public', submitResetPassword),
  page('GET', /^\/-\/web\/account$/, 'account', 'user', showAccount),
  page('POST', /^\/-\/web\/account\/email\/verify$/, 'account.email-verify', 'user', resendVerification),
  page('POST', /^\/-\/web\/account\/email$/, 'account.email', 'user', changeEmail),
  page('POST', /^\/-\/web\/account\/password$/, 'account.password', 'user', changePassword),
  page('POST', /^\/-\/web\/account\/totp\/start$/, 'account.totp-start', 'user', startTotp),
  page('GET', /^\/-\/web\/account\/totp$/, 'account.totp', 'user', showTotpEnrolment),
  page('POST', /^\/-\/web\/account\/totp\/confirm$/, 'account.totp-confirm', 'user', confirmTotp),
  page('POST', /^\/-\/web\/account\/totp\/disable$/, 'account.totp-disable', 'user', disableTotp),
  page('POST', /^\/-\/web\/account\/recovery-codes$/, 'account.recovery-codes', 'user', regenerateRecoveryCodes),
  page('POST', /^\/-\/web\/account\/passkeys\/remove$/, 'account.passkey-remove', 'user', removePasskey),
  page('GET', /^\/-\/web\/account\/security$/, 'account.security', 'user', showSecurityHistory),
  page('GET', /^\/-\/web\/account\/tokens\/new$/, 'account.token-new', 'user', showNewToken),
  page('POST', /^\/-\/web\/account\/tokens\/new$/, 'account.token-new', 'user', submitNewToken),
  page('POST', /^\/-\/web\/account\/tokens\/revoke$/, 'account.token-revoke', 'user', revokeToken),
  page('GET', /^\/-\/web\/otp\/([A-Za-z0-9_-]{16,64})$/, 'otp', 'user', showWebOtp),
  page('POST', /^\/-\/web\/otp\/([A-Za-z0-9_-]{16,64})$/, 'otp', 'user', submitWebOtp),
  page('GET', /^\/-\/web\/orgs$/, 'orgs', 'user', showOrgs),
  page('POST', /^\/-\/web\/orgs$/, 'orgs.create', 'user', createOrg),
  page('GET', new RegExp(`^/-/web/org/(${SEG})$`), 'org', 'user', showOrg),
  page('POST', new RegExp(`^/-/web/org/(${SEG})/members$`), 'org.member-set', 'user', setMember),
  page('POST', new RegExp(`^/-/web/org/(${SEG})/members/remove$`), 'org.member-remove', 'user', removeMember),
  page('POST', new RegExp(`^/-/web/org/(${SEG})/teams$`), 'org.team-create', 'user', createTeam),
  page('POST', new RegExp(`^/-/web/org/(${SEG})/teams/delete$`), 'org.team-delete', 'user', deleteTeam),
  page('GET', new RegExp(`^/-/web/org/(${SEG})/audit$`), 'org.audit', 'user', showOrgAudit),
  // The team routes capture `<org>/team/<team>` as one parameter (org-team.ts splits it).
  page('GET', new RegExp(`^/-/web/org/(${SEG}/team/${SEG})$`), 'team', 'user', showTeam),
  page('POST', new RegExp(`^/-/web/org/(${SEG}/team/${SEG})/members$`), 'team.member-add', 'user', addTeamMember),
  page('POST', new RegExp(`^/-/web/org/(${SEG}/team/${SEG})/members/remove$`), 'team.member-remove', 'user', removeTeamMember),
  page('POST', new RegExp(`^/-/web/org/(${SEG}/team/${SEG})/grants$`), 'team.grant', 'user', grantPackage),
  page('POST', new RegExp(`^/-/web/org/(${SEG}/team/${SEG})/grants/revoke$`), 'team.revoke', 'user', revokePackage),
  page('GET', new RegExp(`^/-/web/package/${PKG}/access$`), 'package.access', 'user', showPackageAccess),
  page('POST', new RegExp(`^/-/web/package/${PKG}/access$`), 'package.access-set', 'user', setPackageAccess),
  page('POST', new RegExp(`^/-/web/package/${PKG}/mfa$`), 'package.mfa-set', 'user', setPackageMfa),
  api(/^\/-\/web\/passkeys\/register\/options$/, 'passkeys.register-options', 'user', passkeys.registerOptions),
  api(/^\/-\/web\/passkeys\/register\/verify$/, 'passkeys.register-verify', 'user', passkeys.registerVerify),
  api(/^\/-\/web\/passkeys\/login\/options$/, 'passkeys.login-options', 'public', passkeys.loginOptions),
  api(/^\/-\/web\/passkeys\/login\/verify$/, 'passkeys.login-verify', 'public', passkeys.loginVerify),
  api(/^\/-\/web\/passkeys\/second-factor\/options$/, 'passkeys.second-factor-options', 'public', passkeys.secondFactorOptions),
  api(/^\/-\/web\/passkeys\/second-factor\/verify$/, 'passkeys.second-factor-verify', 'public', passkeys.secondFactorVerify),
  api(/^\/-\/web\/passkeys\/approve\/options$/, 'passkeys.approve-options', 'user', passkeys.approveOptions),
  api(/^\/-\/web\/passkeys\/approve\/verify$/, 'passkeys.approve-verify', 'user', passkeys.approveVerify),
  api(/^\/-\/web\/passkeys\/confirm\/options$/, 'passkeys.confirm-options', 'user', passkeys.confirmOptions),
  api(/^\/-\/web\/passkeys\/confirm\/verify$/, 'passkeys.confirm-verify', 'user', passkeys.confirmVerify),
];

/** webauthn.js sits beside this file in the sources; a build (dist/) reads it from the sources. */
function loadScript(): Buffer {
  for (const candidate of ['./assets/webauthn.js', '../../src/web/assets/webauthn.js']) {
    const file = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(file)) return readFileSync(file);
  }
  throw new Error('src/web/assets/webauthn.js is missing');
}

const ASSET_HEADERS = { 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };

function serveAsset(ctx: RequestContext, body: Buffer, contentType: string): true {
  ctx.route = 'web.asset';
  ctx.res.writeHead(200, { ...ASSET_HEADERS, 'content-type': contentType, 'content-length': body.length });
  ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
  return true;
}

function find(method: string, path: string): { route: Route; param: string } | undefined {
  const wanted = method === 'HEAD' ? 'GET' : method;
  for (const route of ROUTES) {
    if (route.method !== wanted) continue;
    const m = route.pattern.exec(path);
    if (m) return { route, param: m[1] ?? '' };
  }
  return undefined;
}

async function readFields(ctx: RequestContext, kind: Route['kind']): Promise<Record<string, unknown>> {
  const type = String(ctx.req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (kind === 'json') {
    // Only JSON: a cross-site <form> cannot send it without a CORS preflight this server never grants.
    if (type !== 'application/json') throw invalid('UNSUPPORTED_MEDIA_TYPE', 'Send the request as application/json');
    const body = parseJson(await readBody(ctx.req, JSON_LIMIT));
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('BAD_BODY', 'The body must be a JSON object');
    return body as Record<string, unknown>;
  }
  if (type !== 'application/x-www-form-urlencoded') throw invalid('UNSUPPORTED_MEDIA_TYPE', 'Send the form as application/x-www-form-urlencoded');
  const fields: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of new URLSearchParams((await readBody(ctx.req, FORM_LIMIT)).toString('utf8'))) if (!(k in fields)) fields[k] = v;
  return fields;
}

async function serve(deps: WebDeps, route: Route, param: string, ctx: RequestContext): Promise<void> {
  ctx.route = `web.${route.name}`;
  // The access log must not keep the secret of an emailed link.
  if (route.secretPath) ctx.path = route.secretPath;
  const cookie = parseCookies(ctx.req.headers.cookie).get(SESSION_COOKIE);
  const session = await deps.webSessions.resolve(cookie);
  const req = new WebRequest(ctx, deps, session);
  if (cookie !== undefined && !session) req.forgetDeadCookie();
  try {
    if (route.method === 'POST') {
      req.fields = await readFields(ctx, route.kind);
      if (route.csrf !== false) {
        // An ended session cannot vouch for a form: a logged-in page starts over at the login.
        if (!session && route.access === 'user' && route.kind === 'page') return req.redirectToLogin();
        const header = ctx.req.headers['x-csrf-token'];
        const token = typeof req.fields._csrf === 'string' ? req.fields._csrf : header;
        if (!session || !deps.webSessions.csrfValid(session, token)) {
          throw forbidden('CSRF_TOKEN_INVALID', 'This form has expired or did not come from this site; reload the page and try again');
        }
      }
    }
    if (route.access === 'user' && !req.user && route.kind === 'page') return req.redirectToLogin();
    await route.run(req, param);
  } catch (e) {
    if (!isAttestryError(e) || ctx.res.headersSent) throw e;
    if (route.kind === 'json') req.json(statusOf(e), { error: e.message, code: e.code });
    else req.html(statusOf(e), 'Request refused', `${alert(e)}<p><a href="/-/web/account">Back to your account</a></p>`);
  }
}

export function webHandler(deps: WebDeps): Handler {
  const script = loadScript();
  const style = Buffer.from(STYLESHEET);
  const icon = Buffer.from(ICON);
  let sweptAt = 0;
  return (ctx) => {
    if (!ctx.path.startsWith('/-/web/')) return false;
    if (ctx.method === 'GET' || ctx.method === 'HEAD') {
      if (ctx.path === SCRIPT_PATH) return serveAsset(ctx, script, 'text/javascript; charset=utf-8');
      if (ctx.path === STYLESHEET_PATH) return serveAsset(ctx, style, 'text/css; charset=utf-8');
      if (ctx.path === ICON_PATH) return serveAsset(ctx, icon, 'image/svg+xml');
    }
    const found = find(ctx.method, ctx.path);
    if (!found) return false;
    const now = deps.clock();
    if (now - sweptAt > SWEEP_EVERY_MS) {
      sweptAt = now;
      void deps.store.deleteExpiredWebSessions(now).catch(() => undefined);
    }
    return serve(deps, found.route, found.param, ctx).then(() => true);
  };
}
