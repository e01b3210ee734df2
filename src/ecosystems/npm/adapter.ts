// The npm wire protocol: dispatches a request to its route and maps core errors to npm's
// error format. Routes under `/-/` are registry endpoints; everything else is a package path.
import type { Handler, RequestContext } from '../../http/context.ts';
import type { NpmDeps } from './deps.ts';
import { sendNpmError } from './errors.ts';
import { isPlausibleName, parsePackagePath, validateNewName } from './names.ts';
import { isAttestryError, notFound, type AttestryError } from '../../core/errors.ts';
import { sendJson } from '../../http/respond.ts';
import * as accounts from './routes/accounts.ts';
import * as misc from './routes/misc.ts';
import * as packages from './routes/packages.ts';
import * as trust from './routes/trust.ts';
import * as provenance from './routes/provenance.ts';
import * as audit from './routes/audit.ts';
import * as secretScanning from './routes/secret-scanning.ts';
import * as orgs from './routes/orgs.ts';

const COUCH_USER = /^\/-\/user\/org\.couchdb\.user:([^/]+)(?:\/-rev\/[^/]+)?$/;

export function npmHandler(d: NpmDeps): Handler {
  const failed = (ctx: RequestContext, e: unknown): true | Promise<true> => {
    if (isAttestryError(e) && e.code === 'OTP_REQUIRED' && !ctx.res.headersSent) return otpChallenge(d, ctx, e);
    if (!ctx.res.headersSent && sendNpmError(ctx.res, e)) return true;
    throw e;
  };
  return (ctx) => {
    let outcome: boolean | Promise<boolean>;
    try {
      outcome = dispatch(d, ctx);
    } catch (e) {
      return failed(ctx, e);
    }
    return typeof outcome === 'boolean' ? outcome : outcome.catch((e: unknown) => failed(ctx, e));
  };
}

/**
 * npm's OTP challenge (spec §4.3): 401 with `www-authenticate: OTP`. When the client can do the
 * browser flow (`npm-auth-type: web`, npm's default) the body also carries a fresh web-OTP
 * `authUrl`/`doneUrl`: the person approves in the browser (with their authenticator app or a
 * passkey), the CLI polls doneUrl and repeats its request with the token as `npm-otp`.
 */
async function otpChallenge(d: NpmDeps, ctx: RequestContext, e: AttestryError): Promise<true> {
  const principal = await ctx.principal().catch(() => undefined);
  const web = ctx.req.headers['npm-auth-type'] !== 'legacy' && e.detail?.login !== true;
  const flow = web && principal?.kind === 'user' && d.accounts.security ? await d.accounts.security.secondFactors.startWebOtp(principal.userId) : undefined;
  const headers: Record<string, string> = { 'www-authenticate': 'OTP' };
  if (flow) headers['npm-notice'] = `Open ${flow.authUrl} to approve this with your second factor`;
  const phishingResistant = e.detail?.phishingResistant === true;
  sendJson(ctx.res, 401, { error: e.message, message: e.message, code: e.code, ...(phishingResistant ? { phishingResistant } : {}), ...(flow ?? {}) }, headers);
  return true;
}

/** A route that answered (possibly synchronously) counts as handled. */
const handled = (r: void | Promise<void>): true | Promise<true> => (r ? r.then(() => true) : true);

function dispatch(d: NpmDeps, ctx: RequestContext): boolean | Promise<boolean> {
  const { method, path } = ctx;
  if (path.startsWith('/-/')) return registryRoute(d, ctx, method, path);

  const parsed = parsePackagePath(path);
  if (!parsed) return false;
  const { name, rest } = parsed;
  const read = method === 'GET' || method === 'HEAD';
  if (!isPlausibleName(name)) {
    // A publish to a malformed name deserves the naming rules; anything else is simply not here.
    if (method === 'PUT' && rest.length === 0) validateNewName(name);
    throw notFound('PACKAGE_NOT_FOUND', `${name.slice(0, 220)} is not in this registry`);
  }
  if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) {
    if (read) return handled(packages.getDocument(d, ctx, name));
    if (method === 'PUT') return handled(packages.putPackage(d, ctx, name));
    return false;
  }
  if (rest[0] === '-' && rest.length === 2 && rest[1]?.endsWith('.tgz') && read) {
    return handled(packages.getTarball(d, ctx, name, decodeURIComponent(rest[1])));
  }
  if (rest[0] === '-' && rest.length === 4 && rest[2] === '-rev' && method === 'DELETE') {
    return handled(packages.deleteTarball(d, ctx, name, decodeURIComponent(rest[1] ?? '')));
  }
  if (rest[0] === '-rev' && rest.length === 2) {
    if (method === 'PUT') return handled(packages.putPackageRev(d, ctx, name));
    if (method === 'DELETE') return handled(packages.deletePackage(d, ctx, name));
    return false;
  }
  if (rest.length === 1 && read && rest[0]) {
    return handled(packages.getVersion(d, ctx, name, decodeURIComponent(rest[0])));
  }
  return false;
}

async function registryRoute(d: NpmDeps, ctx: RequestContext, method: string, path: string): Promise<boolean> {
  let m: RegExpExecArray | null;
  if (path === '/-/ping' && method === 'GET') return (misc.ping(ctx), true);
  if (path === '/-/whoami' && method === 'GET') return (await accounts.whoami(ctx), true);
  if (path === '/-/v1/login' && method === 'POST') return (await accounts.startWebLogin(d, ctx), true);
  if ((m = /^\/-\/v1\/done\/([^/]+)$/.exec(path)) && method === 'GET') return (await accounts.pollWebLogin(d, ctx, m[1] as string), true);
  if ((m = COUCH_USER.exec(path))) {
    const user = decodeURIComponent(m[1] as string);
    if (method === 'PUT') return (await accounts.couchLogin(d, ctx, user), true);
    if (method === 'GET') return (await accounts.getCouchUser(d, ctx, user), true);
    return false;
  }
  if ((m = /^\/-\/user\/token\/(.+)$/.exec(path)) && method === 'DELETE') return (await accounts.logout(d, ctx, m[1] as string), true);
  if (path === '/-/npm/v1/user' && method === 'GET') return (await accounts.profile(d, ctx), true);
  if (path === '/-/npm/v1/user' && method === 'POST') return (await accounts.updateProfile(d, ctx), true);
  if (path === '/-/npm/v1/user/audit' && method === 'GET') return (await audit.userAudit(d, ctx), true);
  if ((m = /^\/-\/npm\/v1\/org\/([^/]+)\/audit$/.exec(path)) && method === 'GET') return (await audit.orgAudit(d, ctx, m[1] as string), true);
  if ((m = /^\/-\/v1\/otp\/done\/([^/]+)$/.exec(path)) && method === 'GET') return (await accounts.pollWebOtp(d, ctx, m[1] as string), true);
  if (path === '/-/npm/v1/tokens') {
    if (method === 'GET') return (await accounts.listTokens(d, ctx), true);
    if (method === 'POST') return (await accounts.createToken(d, ctx), true);
    return false;
  }
  if ((m = /^\/-\/npm\/v1\/tokens\/token\/(.+)$/.exec(path)) && method === 'DELETE') return (await accounts.revokeToken(d, ctx, m[1] as string), true);
  if (path.startsWith('/-/npm/v1/oidc/token/exchange/package/') && method === 'POST') {
    const parsed = parsePackagePath(path.slice('/-/npm/v1/oidc/token/exchange/package'.length));
    if (!parsed || !isPlausibleName(parsed.name) || parsed.rest.length > 0) return false;
    return (await trust.exchangeOidcToken(d, ctx, parsed.name), true);
  }
  if (path === secretScanning.SECRET_SCANNING_PATH && method === 'POST' && d.tokenRevocation) return (await secretScanning.revokeReported(d, ctx), true);
  if (path === '/-/npm/v1/keys' && method === 'GET') return (provenance.keys(d, ctx), true);
  if (path.startsWith('/-/npm/v1/attestations/') && method === 'GET') return (await provenance.attestations(d, ctx, path.slice('/-/npm/v1/attestations/'.length)), true);
  if (path === '/-/v1/search' && method === 'GET') return (await misc.search(d, ctx), true);
  if (path === '/-/_view/starredByUser' && method === 'GET') return (misc.starredByUser(ctx), true);
  if ((m = /^\/-\/org\/([^/]+)\/package$/.exec(path)) && method === 'GET') return (await orgs.orgPackages(d, ctx, m[1] as string), true);
  if ((m = /^\/-\/user\/([^/]+)\/package$/.exec(path)) && method === 'GET') return (await misc.userPackages(d, ctx, m[1] as string), true);
  if (path === '/-/org' && method === 'POST') return (await orgs.createOrg(d, ctx), true);
  if ((m = /^\/-\/org\/([^/]+)\/user$/.exec(path)) && ['GET', 'PUT', 'DELETE'].includes(method)) return (await orgs.orgUsers(d, ctx, m[1] as string), true);
  if ((m = /^\/-\/org\/([^/]+)\/team$/.exec(path)) && (method === 'GET' || method === 'PUT')) return (await orgs.orgTeams(d, ctx, m[1] as string), true);
  if ((m = /^\/-\/team\/([^/]+)\/([^/]+)$/.exec(path)) && method === 'DELETE') return (await orgs.deleteTeam(d, ctx, m[1] as string, m[2] as string), true);
  if ((m = /^\/-\/team\/([^/]+)\/([^/]+)\/user$/.exec(path)) && ['GET', 'PUT', 'DELETE'].includes(method)) return (await orgs.teamUsers(d, ctx, m[1] as string, m[2] as string), true);
  if ((m = /^\/-\/team\/([^/]+)\/([^/]+)\/package$/.exec(path)) && ['GET', 'PUT', 'DELETE'].includes(method)) return (await orgs.teamPackages(d, ctx, m[1] as string, m[2] as string), true);

  if (path.startsWith('/-/package/')) {
    const parsed = parsePackagePath(path.slice('/-/package'.length));
    if (!parsed || !isPlausibleName(parsed.name)) return false;
    const { name, rest } = parsed;
    const [what, arg] = rest;
    if (what === 'dist-tags' && rest.length === 1 && method === 'GET') return (await misc.getTags(d, ctx, name), true);
    if (what === 'dist-tags' && rest.length === 2 && arg) {
      if (method === 'PUT' || method === 'POST') return (await misc.putTag(d, ctx, name, arg), true);
      if (method === 'DELETE') return (await misc.deleteTag(d, ctx, name, arg), true);
    }
    if (what === 'visibility' && method === 'GET') return (await misc.visibility(d, ctx, name), true);
    if (what === 'access' && method === 'POST') return (await misc.setAccess(d, ctx, name), true);
    if (what === 'collaborators' && method === 'GET') return (await orgs.collaborators(d, ctx, name), true);
    if (what === 'provenance' && rest.length === 1 && (method === 'GET' || method === 'PUT')) return (await provenance.provenanceSettings(d, ctx, name), true);
    if (what === 'trust' && rest.length === 1) {
      if (method === 'GET') return (await trust.listTrust(d, ctx, name), true);
      if (method === 'POST') return (await trust.addTrust(d, ctx, name), true);
    }
    if (what === 'trust' && rest.length === 2 && arg === 'settings' && (method === 'GET' || method === 'PUT')) return (await trust.trustSettings(d, ctx, name), true);
    if (what === 'trust' && rest.length === 2 && arg && method === 'DELETE') return (await trust.revokeTrust(d, ctx, name, decodeURIComponent(arg)), true);
  }
  return false;
}
