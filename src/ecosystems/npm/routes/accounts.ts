// Login (web and legacy CouchDB flows), whoami, logout, tokens and the profile read.
import type { RequestContext } from '../../../http/context.ts';
import { randomBytes } from 'node:crypto';
import { AttestryError, conflict, invalid, unauthenticated } from '../../../core/errors.ts';
import type { UserRecord } from '../../../storage/metadata/store.ts';
import { readJson } from '../../../http/body.ts';
import { sendJson } from '../../../http/respond.ts';
import type { Principal, UserPrincipal } from '../../../security/authz/principal.ts';
import { parseCidrList } from '../../../security/tokens/cidr.ts';
import { parseTokenScope, type TokenScope } from '../../../security/tokens/token-scope.ts';
import { validateEmail } from '../../../core/accounts/names.ts';
import type { NpmDeps } from '../deps.ts';

/** Longest lifetime a user may ask for on a token, in days. */
export const MAX_TOKEN_DAYS = 365;
/** Seconds the CLI waits between polls of a pending web login. */
const POLL_INTERVAL_SECONDS = 1;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function requireUser(p: Principal): UserPrincipal {
  if (p.kind !== 'user') throw unauthenticated('LOGIN_REQUIRED', 'You must be logged in (npm login) to do this');
  return p;
}

export async function startWebLogin(d: NpmDeps, ctx: RequestContext): Promise<void> {
  ctx.route = 'npm.login.start';
  const body = Number(ctx.req.headers['content-length'] ?? 0) > 0 ? await readJson(ctx.req, d.maxJsonBytes) : {};
  const create = isObject(body) && body.create === true;
  const { sessionId, doneSecret } = await d.accounts.startWebLogin(create);
  sendJson(ctx.res, 200, {
    loginUrl: `${d.publicUrl}/-/web/login/${sessionId}`,
    doneUrl: `${d.publicUrl}/-/v1/done/${doneSecret}`,
  });
}

export async function pollWebLogin(d: NpmDeps, ctx: RequestContext, secret: string): Promise<void> {
  ctx.route = 'npm.login.done';
  const result = await d.accounts.pollWebLogin(decodeURIComponent(secret));
  if (result.status === 'pending') {
    sendJson(ctx.res, 202, { status: 'pending' }, { 'retry-after': String(POLL_INTERVAL_SECONDS) });
    return;
  }
  sendJson(ctx.res, 200, { token: result.token });
}

/** `PUT /-/user/org.couchdb.user:<name>[/-rev/<rev>]`: legacy adduser (with email) or login. */
export async function couchLogin(d: NpmDeps, ctx: RequestContext, urlName: string): Promise<void> {
  ctx.route = 'npm.login.couch';
  const body = await readJson(ctx.req, d.maxJsonBytes);
  if (!isObject(body)) throw invalid('BAD_BODY', 'The body must be a JSON object');
  const name = typeof body.name === 'string' ? body.name : urlName;
  if (name !== urlName) throw invalid('NAME_MISMATCH', 'The user name in the body and the URL differ');
  if (typeof body.password !== 'string') throw invalid('PASSWORD_REQUIRED', 'A password is required');
  const existing = await d.accounts.findUser(name);
  let user;
  if (existing) {
    user = await d.accounts.authenticate(name, body.password, ctx.ip);
    // auth-only and auth-and-writes both protect logins: the code comes as `npm-otp` (npm --otp, or its prompt).
    if (user.tfaMode !== null) await loginSecondFactor(d, ctx, user);
  } else if (typeof body.email === 'string') {
    user = await d.accounts.register({ name, email: body.email, password: body.password });
  } else {
    // npm turns a 400 into "There is no user with the username".
    throw invalid('NO_SUCH_USER', `There is no user named ${name}; run npm adduser to create one`);
  }
  const { token } = await d.accounts.issueToken(user, { kind: 'session', name: 'npm login' });
  await d.accounts.recordLogin(user, ctx.req.headers['user-agent'] ?? 'unknown client', ctx.ip);
  ctx.logFields.user = user.name;
  sendJson(ctx.res, 201, { ok: true, id: `org.couchdb.user:${user.name}`, rev: '1-0', token });
}

/** A login's second factor: a TOTP code or a recovery code in `npm-otp`; without one, npm's OTP challenge. */
async function loginSecondFactor(d: NpmDeps, ctx: RequestContext, user: UserRecord): Promise<void> {
  const otp = ctx.req.headers['npm-otp'];
  const security = d.accounts.security;
  if (!security) return;
  if (typeof otp !== 'string' || otp.trim() === '') {
    throw new AttestryError('unauthenticated', 'OTP_REQUIRED', 'This account has two-factor authentication: log in with a one-time password (npm login --auth-type=legacy --otp <code>)', { login: true });
  }
  const code = otp.trim();
  // Each login attempt is its own credential: a code seen once must not log in a second client.
  if (/^\d{6}$/.test(code)) await security.secondFactors.verifyTotp(user, code, `login:${randomBytes(12).toString('base64url')}`, ctx.ip);
  else await security.secondFactors.useRecoveryCode(user, code, ctx.ip);
}

/** Writes to the account itself (tokens, profile) need the second factor too, once one is enrolled (npm's otplease). */
function requireOtpIfEnrolled(p: UserPrincipal): void {
  if (p.mfa?.enrolled && p.mfa.presented === 'none' && p.token?.bypass2fa !== true) {
    throw new AttestryError('unauthenticated', 'OTP_REQUIRED', 'This change to your account requires a one-time password from your authenticator app');
  }
}

export async function getCouchUser(d: NpmDeps, ctx: RequestContext, name: string): Promise<void> {
  ctx.route = 'npm.user';
  requireUser(await ctx.principal());
  const user = await d.accounts.findUser(name);
  if (!user) {
    sendJson(ctx.res, 404, { error: `There is no user named ${name}`, code: 'USER_NOT_FOUND' });
    return;
  }
  sendJson(ctx.res, 200, { _id: `org.couchdb.user:${user.name}`, _rev: '1-0', name: user.name, email: user.email, type: 'user', roles: [] });
}

export async function whoami(ctx: RequestContext): Promise<void> {
  ctx.route = 'npm.whoami';
  const user = requireUser(await ctx.principal());
  sendJson(ctx.res, 200, { username: user.name });
}

export async function logout(d: NpmDeps, ctx: RequestContext, token: string): Promise<void> {
  ctx.route = 'npm.logout';
  await d.accounts.logout(decodeURIComponent(token));
  sendJson(ctx.res, 200, { ok: true });
}

function profileOf(user: UserRecord): Json {
  const tfa = user.tfaMode !== null ? { pending: false, mode: user.tfaMode }
    : user.totpPendingSecret !== null ? { pending: true, mode: user.totpPendingMode ?? 'auth-and-writes' } : false;
  return {
    name: user.name, email: user.email, email_verified: user.emailVerifiedAt !== null, tfa, fullname: '', homepage: '', freenode: '', twitter: '', github: '',
    created: new Date(user.createdAt).toISOString(), updated: new Date(user.updatedAt).toISOString(), cidr_whitelist: null,
  };
}

async function currentUser(d: NpmDeps, p: UserPrincipal): Promise<UserRecord> {
  const user = await d.accounts.findUserById(p.userId);
  if (!user) throw unauthenticated('LOGIN_REQUIRED', 'You must be logged in');
  return user;
}

export async function profile(d: NpmDeps, ctx: RequestContext): Promise<void> {
  ctx.route = 'npm.profile';
  sendJson(ctx.res, 200, profileOf(await currentUser(d, requireUser(await ctx.principal()))));
}

/**
 * `POST /-/npm/v1/user` (npm profile set / enable-2fa / disable-2fa, spec §4.6): 2FA enrolment in
 * two steps (password → otpauth URI; first code → recovery codes), disabling with the password and
 * a current code, password change (`{password: {old, new}}`) and email change (mailed to the new
 * address; effective once it is confirmed).
 */
export async function updateProfile(d: NpmDeps, ctx: RequestContext): Promise<void> {
  ctx.route = 'npm.profile.update';
  const p = requireUser(await ctx.principal());
  const security = d.accounts.security;
  if (!security) throw new AttestryError('unavailable', 'ACCOUNT_SECURITY_UNAVAILABLE', 'Account security is not available');
  const body = await readJson(ctx.req, d.maxJsonBytes);
  if (!isObject(body)) throw invalid('BAD_BODY', 'The body must be a JSON object');
  let user = await currentUser(d, p);
  const sf = security.secondFactors;

  if (Array.isArray(body.tfa)) {
    // Step 2 of enable-2fa: the first code from the app confirms it; the answer is the recovery codes.
    const codes = await sf.confirmTotp(user, body.tfa[0], ctx.ip);
    sendJson(ctx.res, 200, { tfa: codes });
    return;
  }
  if (isObject(body.tfa)) {
    const mode = body.tfa.mode;
    await d.accounts.authenticate(user.name, body.tfa.password, ctx.ip);
    if (mode === 'disable') {
      if (user.totpSecret === null) {
        // A pending (unconfirmed) enrolment is dropped with the password alone: no factor changes.
        if (user.totpPendingSecret !== null) await sf.cancelPendingTotp(user);
        else if (user.tfaMode !== null) throw conflict('TOTP_NOT_ENABLED', 'This account\'s second factor is a passkey; remove passkeys in your account settings');
        sendJson(ctx.res, 200, profileOf(await currentUser(d, p)));
        return;
      }
      requireOtpIfEnrolled(p);
      await sf.disableTotp(user);
      sendJson(ctx.res, 200, profileOf(await currentUser(d, p)));
      return;
    }
    if (mode !== 'auth-only' && mode !== 'auth-and-writes') throw invalid('BAD_TFA_MODE', 'mode is auth-only, auth-and-writes or disable');
    // Adding or changing a factor on an account that has one needs that factor (a stolen token and password are not enough).
    requireOtpIfEnrolled(p);
    if (user.totpSecret !== null) {
      await sf.setMode(user, mode);
      sendJson(ctx.res, 200, { tfa: { mode } });
      return;
    }
    const { uri } = await sf.startTotp(user, mode);
    sendJson(ctx.res, 200, { tfa: uri });
    return;
  }
  requireOtpIfEnrolled(p);
  if (isObject(body.password)) {
    await d.accounts.changePassword(user, body.password.old, body.password.new, ctx.ip);
    user = await currentUser(d, p);
  }
  if (typeof body.email === 'string' && body.email !== user.email) {
    await security.emailVerification.requestEmailChange(user, validateEmail(body.email));
    ctx.res.setHeader('npm-notice', `We sent a confirmation link to ${body.email}; the change takes effect when you follow it`);
  }
  sendJson(ctx.res, 200, profileOf(user));
}

export async function listTokens(d: NpmDeps, ctx: RequestContext): Promise<void> {
  ctx.route = 'npm.tokens.list';
  const p = requireUser(await ctx.principal());
  const tokens = await d.accounts.listTokens(p);
  sendJson(ctx.res, 200, {
    objects: tokens.map((t) => ({
      key: t.id,
      token: t.displayPrefix,
      name: t.name,
      created: new Date(t.createdAt).toISOString(),
      updated: new Date(t.createdAt).toISOString(),
      expires: t.expiresAt === null ? null : new Date(t.expiresAt).toISOString(),
      readonly: t.readonly,
      automation: t.bypass2fa,
      cidr_whitelist: t.cidrWhitelist,
      last_used: t.lastUsedAt === null ? null : new Date(t.lastUsedAt).toISOString(),
      ...listScopeFields(t.scope),
    })),
    total: tokens.length,
    urls: {},
  });
}

/** A granular token's scope in npm's request field names (what `npm token create --json` prints back). */
function scopeFields(scope: TokenScope | null): Json {
  if (scope === null) return {};
  return {
    ...(scope.packages === 'all' ? { packages_all: true } : scope.packages === null ? {} : { packages: scope.packages }),
    ...(scope.scopes === null ? {} : { scopes: scope.scopes.map((s) => `@${s}`) }),
    ...(scope.orgs === null ? {} : { orgs: scope.orgs }),
    packages_and_scopes_permission: scope.packagesPermission,
    ...(scope.orgsPermission === null ? {} : { orgs_permission: scope.orgsPermission }),
  };
}

const LIST_ACTIONS = { 'read-only': 'read', 'read-write': 'write', manage: 'manage', 'no-access': 'none' } as const;

/**
 * A granular token in a `npm token list` object. The shape (`permissions: [{name, action}]`,
 * `scopes: [{name, type}]`) follows what npm's registry answers (seen in npm/cli#9443 for a
 * package token with write access); the `scope`/`org` types and the other actions follow it by analogy.
 */
function listScopeFields(scope: TokenScope | null): Json {
  if (scope === null) return {};
  const permissions = [{ name: 'package', action: LIST_ACTIONS[scope.packagesPermission] }];
  if (scope.orgsPermission !== null) permissions.push({ name: 'org', action: LIST_ACTIONS[scope.orgsPermission] });
  const scopes = [
    ...(Array.isArray(scope.packages) ? scope.packages : []).map((name) => ({ name, type: 'package' })),
    ...(scope.scopes ?? []).map((s) => ({ name: `@${s}`, type: 'scope' })),
    ...(scope.orgs ?? []).map((name) => ({ name, type: 'org' })),
  ];
  return { permissions, scopes, packages_all: scope.packages === 'all' };
}

export async function createToken(d: NpmDeps, ctx: RequestContext): Promise<void> {
  ctx.route = 'npm.tokens.create';
  const p = requireUser(await ctx.principal());
  const body = await readJson(ctx.req, d.maxJsonBytes);
  if (!isObject(body)) throw invalid('BAD_BODY', 'The body must be a JSON object');
  // Checked before the password, so a malformed request costs no password attempt.
  const scope = parseTokenScope(body);
  const user = await d.accounts.authenticate(p.name, body.password, ctx.ip);
  d.accounts.requireVerifiedEmail(user);
  requireOtpIfEnrolled(p);
  let expiresInDays: number | null = null;
  if (body.expires !== undefined && body.expires !== null) {
    if (typeof body.expires !== 'number' || !Number.isInteger(body.expires) || body.expires < 1 || body.expires > MAX_TOKEN_DAYS) {
      throw invalid('BAD_EXPIRY', `expires is a whole number of days from 1 to ${MAX_TOKEN_DAYS}`);
    }
    expiresInDays = body.expires;
  }
  const name = typeof body.name === 'string' ? body.name : typeof body.description === 'string' ? body.description : null;
  const { token, record } = await d.accounts.issueToken(user, {
    kind: 'api', name, readonly: body.readonly === true, cidrWhitelist: parseCidrList(body.cidr_whitelist), expiresInDays, bypass2fa: body.bypass_2fa === true, scope,
  });
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  sendJson(ctx.res, 201, {
    token, key: record.id, name: record.name, cidr_whitelist: record.cidrWhitelist, readonly: record.readonly,
    expires: iso(record.expiresAt), created: iso(record.createdAt), updated: iso(record.createdAt),
    ...(record.bypass2fa ? { bypass_2fa: true } : {}), ...scopeFields(record.scope),
  });
}

/** The CLI's poll of a web-OTP approval: 202 while pending, then the one-time token (§4.3). */
export async function pollWebOtp(d: NpmDeps, ctx: RequestContext, secret: string): Promise<void> {
  ctx.route = 'npm.otp.done';
  const security = d.accounts.security;
  if (!security) throw new AttestryError('unavailable', 'ACCOUNT_SECURITY_UNAVAILABLE', 'Account security is not available');
  const result = await security.secondFactors.pollWebOtp(decodeURIComponent(secret));
  if (result.status === 'pending') {
    sendJson(ctx.res, 202, { status: 'pending' }, { 'retry-after': String(POLL_INTERVAL_SECONDS) });
    return;
  }
  sendJson(ctx.res, 200, { token: result.token });
}

export async function revokeToken(d: NpmDeps, ctx: RequestContext, idOrToken: string): Promise<void> {
  ctx.route = 'npm.tokens.revoke';
  const p = requireUser(await ctx.principal());
  requireOtpIfEnrolled(p);
  await d.accounts.revokeToken(p, decodeURIComponent(idOrToken));
  sendJson(ctx.res, 200, { ok: true });
}
