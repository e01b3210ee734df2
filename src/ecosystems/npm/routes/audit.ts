// `GET /-/npm/v1/user/audit` (Attestry): the caller's own audit events as JSON — the same history
// the web page /-/web/account/security shows (sign-ins, second factors, tokens, trusted
// publishers, grants), newest first. Event data never holds secrets.
import type { RequestContext } from '../../../http/context.ts';
import { sendJson } from '../../../http/respond.ts';
import type { NpmDeps } from '../deps.ts';
import { requireUser } from './accounts.ts';

const MAX_EVENTS = 500;

export async function userAudit(d: NpmDeps, ctx: RequestContext): Promise<void> {
  ctx.route = 'npm.user.audit';
  const p = requireUser(await ctx.principal());
  const limit = Math.min(Math.max(Number(ctx.query.get('limit') ?? 100) || 100, 1), MAX_EVENTS);
  const events = await d.accounts.userEvents(p.userId, limit);
  sendJson(ctx.res, 200, {
    objects: events.map((e) => ({
      id: e.id, at: new Date(e.at).toISOString(), type: e.type, package: e.packageName, version: e.version, data: e.data,
    })),
    total: events.length,
  });
}
