// Provenance and registry signatures over npm's wire (npm-registry-api.md §1.4, §1.5):
// `GET /-/npm/v1/keys`, `GET /-/npm/v1/attestations/<name>@<version>`, and Attestry's
// `GET|PUT /-/package/<name>/provenance` for the continuity change window.
import type { RequestContext } from '../../../http/context.ts';
import { invalid, notFound } from '../../../core/errors.ts';
import { readJson } from '../../../http/body.ts';
import { sendJson, sendText } from '../../../http/respond.ts';
import { summaryOf } from '../../../core/packages/provenance-service.ts';
import { etagOf } from '../../../core/packages/projection.ts';
import { keysDocument } from '../../../security/signing/version-signatures.ts';
import type { NpmDeps } from '../deps.ts';
import { isPlausibleName } from '../names.ts';

const keysBodies = new WeakMap<NpmDeps, { body: string; etag: string }>();

/** The registry's public keys, current and retired (old signatures stay verifiable). */
export function keys(d: NpmDeps, ctx: RequestContext): void {
  ctx.route = 'npm.keys';
  // Keys change only by rotation, which restarts the server: serialise once.
  let keysBody = keysBodies.get(d);
  if (!keysBody) {
    const body = keysDocument(d.keys.publicKeys());
    keysBody = { body, etag: etagOf(body) };
    keysBodies.set(d, keysBody);
  }
  if (ctx.req.headers['if-none-match'] === keysBody.etag) {
    ctx.res.writeHead(304, { etag: keysBody.etag }).end();
    return;
  }
  sendText(ctx.res, 200, keysBody.body, 'application/json', { etag: keysBody.etag, 'cache-control': 'public, max-age=300' });
}

/** `<name>@<version>` as written in `dist.attestations.url` (a scope's `@` included, possibly %-encoded). */
export function parseSpec(raw: string): { name: string; version: string } | undefined {
  let spec: string;
  try {
    spec = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  const at = spec.lastIndexOf('@');
  if (at <= 0) return undefined;
  const name = spec.slice(0, at);
  const version = spec.slice(at + 1);
  return isPlausibleName(name) && version.length > 0 && version.length <= 256 ? { name, version } : undefined;
}

export async function attestations(d: NpmDeps, ctx: RequestContext, raw: string): Promise<void> {
  ctx.route = 'npm.attestations';
  const spec = parseSpec(raw);
  if (!spec) throw notFound('VERSION_NOT_FOUND', 'Ask for /-/npm/v1/attestations/<name>@<version>');
  ctx.logFields.package = spec.name;
  const found = await d.provenance.attestations(await ctx.reader(), d.eco, spec.name, spec.version);
  if (!found.provenance) throw notFound('ATTESTATIONS_NOT_FOUND', `${spec.name}@${spec.version} was published without provenance`);
  // Bundles are embedded as the exact bytes that were uploaded or signed, never re-serialised.
  const entry = (predicateType: string, bundle: string) => `{"predicateType":${JSON.stringify(predicateType)},"bundle":${bundle}}`;
  const summary = summaryOf(found.provenance);
  const source = JSON.stringify({
    repository: summary.sourceRepository,
    status: found.provenance.sourceStatus ?? 'unchecked',
    checkedAt: found.provenance.sourceCheckedAt === null ? null : new Date(found.provenance.sourceCheckedAt).toISOString(),
  });
  // npm clients verify every entry of `attestations` against the public Sigstore log; the
  // registry's own publish attestation has no entry there, so it travels beside them.
  const body = `{"attestations":[${entry(found.provenance.predicateType, found.provenance.bundle)}],` +
    `"registryAttestations":[${found.publish ? entry(found.publish.predicateType, found.publish.bundle) : ''}],"source":${source}}`;
  sendText(ctx.res, 200, body, 'application/json', { 'cache-control': 'public, max-age=300' });
}

/** `GET|PUT /-/package/<name>/provenance`: `{"changeAllowedUntil": "<ISO time>" | null}`. */
export async function provenanceSettings(d: NpmDeps, ctx: RequestContext, name: string): Promise<void> {
  ctx.route = 'npm.provenance.settings';
  ctx.logFields.package = name;
  const principal = await ctx.principal();
  const wire = (s: { changeAllowedUntil: number | null }) => ({ changeAllowedUntil: s.changeAllowedUntil === null ? null : new Date(s.changeAllowedUntil).toISOString() });
  if (ctx.method === 'GET') {
    sendJson(ctx.res, 200, wire(await d.provenance.settings(principal, d.eco, name)));
    return;
  }
  const body = await readJson(ctx.req, d.maxJsonBytes);
  const until = typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 1 ? (body as { changeAllowedUntil?: unknown }).changeAllowedUntil : undefined;
  if (until !== null && (typeof until !== 'string' || Number.isNaN(Date.parse(until)))) {
    throw invalid('PROVENANCE_BAD_WINDOW', 'The body is {"changeAllowedUntil": "<ISO-8601 time>"} (or null to close the window)');
  }
  sendJson(ctx.res, 200, wire(await d.provenance.allowChange(principal, d.eco, name, until === null ? null : Date.parse(until))));
}
