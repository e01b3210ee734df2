// Login (web and legacy CouchDB flows), whoami, logout, tokens and the profile read.
import type { RequestContext } from '../../../http/context.ts';
import { invalid, unauthenticated } from '../../../core/errors.ts';
import { readJson } from '../../../http/body.ts';
import { sendJson } from '../../../http/respond.ts';
import type { Principal, UserPrincipal } from '../../../security/authz/principal.ts';
import { parseCidrList } from '../../../security/tokens/cidr.ts';
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
    user = await d.accounts.authenticate(name, body.password);
  } else if (typeof body.email === 'string') {
    user = await d.accounts.register({ name, email: body.email, password: body.password });
  } else {
    // npm turns a 400 into "There is no user with the username".
    throw invalid('NO_SUCH_USER', `There is no user named ${name}; run npm adduser to create one`);
  }
  const { token } = await d.accounts.issueToken(user, { kind: 'session', name: 'npm login' });
  ctx.logFields.user = user.name;
  sendJson(ctx.res, 201, { ok: true, id: `org.couchdb.user:${user.name}`, rev: '1-0', token });
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

export async function profile(d: NpmDeps, ctx: RequestContext): Promise<void> {
  ctx.route = 'npm.profile';
  const p = requireUser(await ctx.principal());
  const user = await d.accounts.findUser(p.name);
  if (!user) throw unauthenticated('LOGIN_REQUIRED', 'You must be logged in');
  sendJson(ctx.res, 200, {
    name: user.name, email: user.email, email_verified: false, tfa: null, fullname: '', homepage: '', freenode: '', twitter: '', github: '',
    created: new Date(user.createdAt).toISOString(), updated: new Date(user.updatedAt).toISOString(), cidr_whitelist: null,
  });
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
      automation: false,
      cidr_whitelist: t.cidrWhitelist,
      last_used: t.lastUsedAt === null ? null : new Date(t.lastUsedAt).toISOString(),
    })),
    total: tokens.length,
    urls: {},
  });
}

const GRANULAR_FIELDS = ['packages', 'packages_all', 'scopes', 'orgs', 'packages_and_scopes_permission', 'orgs_permission', 'bypass_2fa'];

export async function createToken(d: NpmDeps, ctx: RequestContext): Promise<void> {
  ctx.route = 'npm.tokens.create';
  const p = requireUser(await ctx.principal());
  const body = await readJson(ctx.req, d.maxJsonBytes);
  if (!isObject(body)) throw invalid('BAD_BODY', 'The body must be a JSON object');
  const granular = GRANULAR_FIELDS.filter((f) => body[f] !== undefined);
  if (granular.length > 0) {
    throw invalid('GRANULAR_TOKENS_UNSUPPORTED', `This registry does not support ${granular.join(', ')} on tokens yet; create a token without them`);
  }
  const user = await d.accounts.authenticate(p.name, body.password);
  let expiresInDays: number | null = null;
  if (body.expires !== undefined && body.expires !== null) {
    if (typeof body.expires !== 'number' || !Number.isInteger(body.expires) || body.expires < 1 || body.expires > MAX_TOKEN_DAYS) {
      throw invalid('BAD_EXPIRY', `expires is a whole number of days from 1 to ${MAX_TOKEN_DAYS}`);
    }
    expiresInDays = body.expires;
  }
  const name = typeof body.name === 'string' ? body.name : typeof body.description === 'string' ? body.description : null;
  const { token, record } = await d.accounts.issueToken(user, {
    kind: 'api', name, readonly: body.readonly === true, cidrWhitelist: parseCidrList(body.cidr_whitelist), expiresInDays,
  });
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  sendJson(ctx.res, 201, {
    token, key: record.id, name: record.name, cidr_whitelist: record.cidrWhitelist, readonly: record.readonly,
    expires: iso(record.expiresAt), created: iso(record.createdAt), updated: iso(record.createdAt),
  });
}

export async function revokeToken(d: NpmDeps, ctx: RequestContext, idOrToken: string): Promise<void> {
  ctx.route = 'npm.tokens.revoke';
  const p = requireUser(await ctx.principal());
  await d.accounts.revokeToken(p, decodeURIComponent(idOrToken));
  sendJson(ctx.res, 200, { ok: true });
}
