// Audit logs as JSON (Attestry extensions), newest first; event data never holds secrets.
// `GET /-/npm/v1/user/audit`: what the caller did and what was done to them (added as an owner,
// given a role, a token revoked by a scanner) — the history /-/web/account/security shows.
// `GET /-/npm/v1/org/<org>/audit`: an organization's log, for its owners and admins.
// Both take `limit` (1-500, default 100) and `before` (a page's `next`, to read older events).
import type { RequestContext } from '../../../http/context.ts';
import { notFound } from '../../../core/errors.ts';
import { sendJson } from '../../../http/respond.ts';
import { cursorAfter, parseEventCursor } from '../../../core/audit/cursor.ts';
import type { EventRecord } from '../../../storage/metadata/store.ts';
import type { NpmDeps } from '../deps.ts';
import { requireUser } from './accounts.ts';

const MAX_EVENTS = 500;

function limitOf(ctx: RequestContext): number {
  return Math.min(Math.max(Number(ctx.query.get('limit') ?? 100) || 100, 1), MAX_EVENTS);
}

/**
 * The wire form of a page of events: names, never internal ids of people; `next` continues the
 * listing (`?before=<next>`) when the page is full, else null.
 */
function auditJson(events: readonly EventRecord[], limit: number): { objects: unknown[]; total: number; next: string | null } {
  const last = events.at(-1);
  return {
    objects: events.map((e) => ({
      id: e.id, at: new Date(e.at).toISOString(), type: e.type, actor: e.actorName ?? null, subject: e.subjectName ?? null,
      package: e.packageName, version: e.version, data: e.data,
    })),
    total: events.length,
    next: events.length === limit && last ? cursorAfter(last) : null,
  };
}

export async function userAudit(d: NpmDeps, ctx: RequestContext): Promise<void> {
  ctx.route = 'npm.user.audit';
  const p = requireUser(await ctx.principal());
  const limit = limitOf(ctx);
  const before = parseEventCursor(ctx.query.get('before'));
  sendJson(ctx.res, 200, auditJson(await d.accounts.userEvents(p.userId, limit, before), limit));
}

export async function orgAudit(d: NpmDeps, ctx: RequestContext, rawOrg: string): Promise<void> {
  ctx.route = 'npm.org.audit';
  const p = requireUser(await ctx.principal());
  if (!d.orgs) throw notFound('NOT_FOUND', 'Organizations are not available on this registry');
  const limit = limitOf(ctx);
  const before = parseEventCursor(ctx.query.get('before'));
  sendJson(ctx.res, 200, auditJson(await d.orgs.auditEvents(p, decodeURIComponent(rawOrg).replace(/^@/, ''), limit, before), limit));
}
