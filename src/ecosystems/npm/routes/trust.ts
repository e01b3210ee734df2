// Trusted publishing over npm's wire: `npm trust github|gitlab|circleci|list|revoke` and the OIDC
// token exchange `npm publish` performs in CI before publishing (npm-registry-api.md §3.8, §5).
import type { RequestContext } from '../../../http/context.ts';
import { invalid, unauthenticated } from '../../../core/errors.ts';
import { readJson } from '../../../http/body.ts';
import { readCredential } from '../../../http/credentials.ts';
import { sendJson } from '../../../http/respond.ts';
import type { TrustConfigView } from '../../../core/publishers/trusted-publishing.ts';
import type { NpmDeps } from '../deps.ts';

/** The most configurations one request may create. */
const MAX_CONFIGS_PER_REQUEST = 10;

const wire = (v: TrustConfigView) => ({ id: v.id, type: v.type, claims: v.claims, permissions: v.permissions, issuer: v.issuer, createdAt: new Date(v.createdAt).toISOString(), ...(v.pending ? { pending: true } : {}) });

export async function listTrust(d: NpmDeps, ctx: RequestContext, name: string): Promise<void> {
  ctx.route = 'npm.trust.list';
  const configs = await d.trust.list(await ctx.principal(), d.eco, name);
  sendJson(ctx.res, 200, configs.map(wire));
}

export async function addTrust(d: NpmDeps, ctx: RequestContext, name: string): Promise<void> {
  ctx.route = 'npm.trust.add';
  ctx.logFields.package = name;
  const body = await readJson(ctx.req, d.maxJsonBytes);
  // npm sends an array with one configuration; a single object is accepted too.
  const items = Array.isArray(body) ? body : [body];
  if (items.length === 0 || items.length > MAX_CONFIGS_PER_REQUEST) throw invalid('TRUST_BAD_BODY', `Send 1 to ${MAX_CONFIGS_PER_REQUEST} trust configurations`);
  const principal = await ctx.principal();
  const created: TrustConfigView[] = [];
  for (const item of items) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw invalid('TRUST_BAD_BODY', 'Each trust configuration is an object {type, claims, permissions}');
    const o = item as Record<string, unknown>;
    created.push(await d.trust.add(principal, d.eco, name, { type: o.type, claims: o.claims, permissions: o.permissions, issuer: o.issuer }));
  }
  sendJson(ctx.res, 201, created.map(wire));
}

export async function revokeTrust(d: NpmDeps, ctx: RequestContext, name: string, id: string): Promise<void> {
  ctx.route = 'npm.trust.revoke';
  ctx.logFields.package = name;
  await d.trust.revoke(await ctx.principal(), d.eco, name, id);
  sendJson(ctx.res, 200, { ok: true });
}

/** `GET|PUT /-/package/<name>/trust/settings` (Attestry): `{ "trustedPublishingOnly": true }`. */
export async function trustSettings(d: NpmDeps, ctx: RequestContext, name: string): Promise<void> {
  ctx.route = 'npm.trust.settings';
  ctx.logFields.package = name;
  const principal = await ctx.principal();
  if (ctx.method === 'GET') {
    sendJson(ctx.res, 200, await d.trust.settings(principal, d.eco, name));
    return;
  }
  const body = await readJson(ctx.req, d.maxJsonBytes);
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).some((k) => k !== 'trustedPublishingOnly')) {
    throw invalid('TRUST_BAD_SETTINGS', 'The body is {"trustedPublishingOnly": true|false}');
  }
  sendJson(ctx.res, 200, await d.trust.setTrustedPublishingOnly(principal, d.eco, name, (body as { trustedPublishingOnly?: unknown }).trustedPublishingOnly));
}

/** `POST /-/npm/v1/oidc/token/exchange/package/<name>` with the CI's ID token as the bearer. */
export async function exchangeOidcToken(d: NpmDeps, ctx: RequestContext, name: string): Promise<void> {
  ctx.route = 'npm.oidc.exchange';
  ctx.logFields.package = name;
  const cred = readCredential(ctx.req);
  if (cred.kind !== 'bearer') throw unauthenticated('OIDC_TOKEN_MISSING', 'Send the CI provider\'s OIDC ID token as a Bearer token');
  const { token, expiresAt } = await d.trust.exchange(d.eco, name, cred.token);
  sendJson(ctx.res, 201, { token, expires: new Date(expiresAt).toISOString() });
}
