// dist-tags, search, ping, visibility/access, collaborators and per-user package lists.
import type { RequestContext } from '../../../http/context.ts';
import { invalid, notFound } from '../../../core/errors.ts';
import { readJson } from '../../../http/body.ts';
import { sendJson } from '../../../http/respond.ts';
import type { NpmDeps } from '../deps.ts';
import type { PackageMfaPolicy } from '../../../storage/metadata/store.ts';
import { validateTag, validateVersion } from '../publish-body.ts';
import { requireUser } from './accounts.ts';
import { ANONYMOUS } from '../../../security/authz/principal.ts';

const MAX_SEARCH_SIZE = 250;

export async function getTags(d: NpmDeps, ctx: RequestContext, name: string): Promise<void> {
  ctx.route = 'npm.dist-tags.list';
  const tags = await d.packages.tags(await ctx.reader(), d.eco, name);
  sendJson(ctx.res, 200, Object.fromEntries(tags));
}

export async function putTag(d: NpmDeps, ctx: RequestContext, name: string, rawTag: string): Promise<void> {
  ctx.route = 'npm.dist-tags.set';
  const tag = validateTag(decodeURIComponent(rawTag));
  const body = await readJson(ctx.req, d.maxJsonBytes);
  if (typeof body !== 'string') throw invalid('BAD_TAG_BODY', 'The body must be a JSON string naming a version, e.g. "1.0.0"');
  await d.packages.setTag(await ctx.principal(), d.eco, name, tag, validateVersion(body));
  sendJson(ctx.res, 201, { ok: true, [tag]: body });
}

export async function deleteTag(d: NpmDeps, ctx: RequestContext, name: string, rawTag: string): Promise<void> {
  ctx.route = 'npm.dist-tags.remove';
  await d.packages.removeTag(await ctx.principal(), d.eco, name, decodeURIComponent(rawTag));
  sendJson(ctx.res, 200, { ok: true });
}

export async function search(d: NpmDeps, ctx: RequestContext): Promise<void> {
  ctx.route = 'npm.search';
  const text = (ctx.query.get('text') ?? '').slice(0, 200).trim();
  const size = Math.min(Math.max(Number(ctx.query.get('size') ?? 20) || 20, 1), MAX_SEARCH_SIZE);
  const from = Math.max(Number(ctx.query.get('from') ?? 0) || 0, 0);
  const hits = text ? await d.packages.search(d.eco, text, size, from) : [];
  const owners = await Promise.all(hits.map(async (h) => (await d.packages.snapshot(ANONYMOUS, d.eco, h.name)).owners.map((o) => o.name)));
  sendJson(ctx.res, 200, {
    objects: hits.map((h, i) => ({
      package: {
        name: h.name,
        version: h.latestVersion,
        description: h.description,
        keywords: h.keywords ? h.keywords.split(' ') : [],
        date: new Date(h.modifiedAt).toISOString(),
        links: { npm: `${d.publicUrl}/${h.name}` },
        publisher: { username: owners[i]?.[0] ?? '' },
        maintainers: (owners[i] ?? []).map((username) => ({ username })),
      },
      score: { final: 1, detail: { quality: 1, popularity: 1, maintenance: 1 } },
      searchScore: 1,
    })),
    total: hits.length,
    time: new Date().toUTCString(),
  });
}

export function ping(ctx: RequestContext): void {
  ctx.route = 'npm.ping';
  sendJson(ctx.res, 200, {});
}

export async function visibility(d: NpmDeps, ctx: RequestContext, name: string): Promise<void> {
  ctx.route = 'npm.visibility';
  const { pkg } = await d.packages.snapshot(await ctx.reader(), d.eco, name);
  // npm reads `public`; `mfa` (none | publish | automation) is what `npm access set mfa=` set.
  sendJson(ctx.res, 200, { public: pkg.access === 'public', mfa: pkg.mfaPolicy });
}

export async function setAccess(d: NpmDeps, ctx: RequestContext, name: string): Promise<void> {
  ctx.route = 'npm.access.set';
  const body = await readJson(ctx.req, d.maxJsonBytes);
  if (typeof body !== 'object' || body === null) throw invalid('BAD_BODY', 'The body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (b.access === 'public' || b.access === 'restricted') {
    await d.packages.setAccess(await ctx.principal(), d.eco, name, b.access);
    sendJson(ctx.res, 200, { ok: true });
    return;
  }
  if ('publish_requires_tfa' in b) {
    await d.packages.setMfaPolicy(await ctx.principal(), d.eco, name, mfaPolicyOf(b));
    sendJson(ctx.res, 200, { ok: true });
    return;
  }
  throw invalid('BAD_ACCESS', 'access must be "public" or "restricted"');
}

/** libnpmaccess's body for `npm access set mfa=none|publish|automation`. */
function mfaPolicyOf(b: Record<string, unknown>): PackageMfaPolicy {
  const requires = b.publish_requires_tfa;
  const overrides = b.automation_token_overrides_tfa ?? false;
  if (typeof requires !== 'boolean' || typeof overrides !== 'boolean') {
    throw invalid('BAD_MFA_POLICY', 'publish_requires_tfa and automation_token_overrides_tfa are booleans');
  }
  if (!requires) return 'none';
  return overrides ? 'automation' : 'publish';
}

/** `GET /-/user/<name>/package`: npm asks it after `/-/org/<name>/package` answered ORG_NOT_FOUND. */
export async function userPackages(d: NpmDeps, ctx: RequestContext, name: string): Promise<void> {
  ctx.route = 'npm.user.packages';
  requireUser(await ctx.principal());
  const user = await d.accounts.findUser(decodeURIComponent(name));
  if (!user) throw notFound('USER_NOT_FOUND', `There is no user named ${name}`);
  const names = await d.packages.ownedPackages(user, d.eco);
  sendJson(ctx.res, 200, Object.fromEntries(names.map((n) => [n, 'write'])));
}

export function starredByUser(ctx: RequestContext): void {
  ctx.route = 'npm.stars';
  sendJson(ctx.res, 200, { rows: [] });
}
