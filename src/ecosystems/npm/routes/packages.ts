// Package documents, tarballs, and the overloaded PUT/DELETE routes of the CouchDB-era API.
// Writes are authorized by what they change, not by which route they arrive on.
import type { RequestContext } from '../../../http/context.ts';
import { forbidden, invalid, isAttestryError, notFound } from '../../../core/errors.ts';
import { requireUser } from './accounts.ts';
import { readJson } from '../../../http/body.ts';
import { sendJson } from '../../../http/respond.ts';
import { chooseEncoding } from '../../../http/representation-cache.ts';
import type { Encoding, Representation } from '../../../http/representation-cache.ts';
import type { Access } from '../../../storage/metadata/store.ts';
import type { NpmDeps } from '../deps.ts';
import { isPublishBody, parsePublishBody } from '../publish-body.ts';
import { validateNewName } from '../names.ts';

const CORGI = 'application/vnd.npm.install-v1+json';
/** Documents are revalidated on every use: a 304 is cheap and a new version is visible at once. */
const DOCUMENT_CACHE_CONTROL = 'public, max-age=0, must-revalidate';
const TARBALL_CACHE_CONTROL = 'public, max-age=31536000, immutable';
const BLOB_CACHE_MAX_ITEM = 1024 * 1024;

type Headers = Record<string, string>;

interface DocMeta {
  access: Access;
  ownerIds: number[];
  /** Response headers, built once per representation: a served read allocates none. */
  notModified: Headers;
  ok: Partial<Record<Encoding, Headers>>;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header === etag) return true;
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === etag || v === `W/${etag}` || v === '*';
  });
}

/**
 * `GET /<name>`: the full or abbreviated document. When the current ETag and the bytes are both
 * in memory and the package is public, this answers synchronously (the path most requests take).
 */
export function getDocument(d: NpmDeps, ctx: RequestContext, name: string): void | Promise<void> {
  ctx.route = 'npm.document';
  const form = (ctx.req.headers.accept ?? '').includes(CORGI) ? 'abbrev' : 'full';
  const key = `npm\0${name}\0${form}`;
  const etag = d.packages.knownDocumentEtag(d.eco, name, form);
  const rep = etag === undefined ? undefined : d.documents.get(key, etag);
  if (rep && (rep.meta as DocMeta).access === 'public') {
    if (answeredNotModified(ctx, rep)) return;
    const encoded = d.documents.encodedIfReady(rep, chooseEncoding(ctx.req.headers['accept-encoding']));
    if (encoded) return sendDocument(ctx, rep, form, encoded);
  }
  return getDocumentAsync(d, ctx, name, form, key);
}

async function getDocumentAsync(d: NpmDeps, ctx: RequestContext, name: string, form: 'abbrev' | 'full', key: string): Promise<void> {
  ctx.logFields.package = name;
  const etag = await d.packages.documentEtag(d.eco, name, form);
  if (!etag) return notFoundDocument(d, ctx, name);
  let rep = d.documents.get(key, etag);
  if (!rep) {
    const found = await d.packages.document(d.eco, name, form);
    if (!found) return notFoundDocument(d, ctx, name);
    const lastModified = new Date(found.doc.modifiedAt).toUTCString();
    const notModified: Headers = {
      etag: found.doc.etag,
      'last-modified': lastModified,
      vary: 'Accept, Accept-Encoding, Authorization',
      'cache-control': found.access === 'restricted' ? 'private, max-age=0, must-revalidate' : DOCUMENT_CACHE_CONTROL,
    };
    rep = d.documents.put(key, {
      etag: found.doc.etag,
      lastModified,
      identity: Buffer.from(found.doc.body),
      meta: { access: found.access, ownerIds: found.ownerIds, notModified, ok: {} } satisfies DocMeta,
    });
  }
  const meta = rep.meta as DocMeta;
  if (meta.access === 'restricted' && !(await d.packages.canRead(await ctx.reader(), d.eco, name, meta.access, meta.ownerIds))) {
    return notFoundDocument(d, ctx, name, true);
  }
  if (answeredNotModified(ctx, rep)) return;
  sendDocument(ctx, rep, form, await d.documents.encoded(key, rep, chooseEncoding(ctx.req.headers['accept-encoding'])));
}

function answeredNotModified(ctx: RequestContext, rep: Representation): boolean {
  if (!etagMatches(ctx.req.headers['if-none-match'], rep.etag)) return false;
  ctx.res.writeHead(304, (rep.meta as DocMeta).notModified);
  ctx.res.end();
  return true;
}

function sendDocument(ctx: RequestContext, rep: Representation, form: 'abbrev' | 'full', { body, encoding }: { body: Buffer; encoding: Encoding }): void {
  const meta = rep.meta as DocMeta;
  const headers = (meta.ok[encoding] ??= {
    ...meta.notModified,
    'content-type': form === 'abbrev' ? CORGI : 'application/json',
    'content-length': String(body.length),
    ...(encoding === 'identity' ? {} : { 'content-encoding': encoding }),
  });
  ctx.res.writeHead(200, headers);
  ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
}

/**
 * The 404 for a document. A name that does not exist and a restricted package the caller may not
 * read cost the same work, or response times would tell them apart: a miss also resolves the
 * caller and asks the read rule (as for a hidden package), and a hidden package also looks for a
 * tombstone (as for a miss); the extra answers are thrown away. bench/hidden-timing.ts measures it.
 */
async function notFoundDocument(d: NpmDeps, ctx: RequestContext, name: string, hidden = false): Promise<void> {
  if (!hidden) await d.packages.spendLikeARefusal(await ctx.reader(), d.eco, name, { row: false, owners: false });
  const tomb = await d.packages.document(d.eco, name, 'tombstone');
  if (tomb && !hidden) {
    sendJson(ctx.res, 404, JSON.parse(tomb.doc.body));
    return;
  }
  sendJson(ctx.res, 404, { error: `${name} is not in this registry (or you do not have access to it)`, code: 'PACKAGE_NOT_FOUND' });
}

/** `GET /<name>/<version-or-tag>`: one version object. */
export async function getVersion(d: NpmDeps, ctx: RequestContext, name: string, spec: string): Promise<void> {
  ctx.route = 'npm.version';
  const principal = await ctx.reader();
  const found = await d.packages.document(d.eco, name, 'full');
  if (!found) await d.packages.spendLikeARefusal(principal, d.eco, name, { row: true, owners: true });
  if (!found || !(await d.packages.canRead(principal, d.eco, name, found.access, found.ownerIds))) throw notFound('PACKAGE_NOT_FOUND', `${name} is not in this registry (or you do not have access to it)`);
  const doc = JSON.parse(found.doc.body) as { 'dist-tags': Record<string, string>; versions: Record<string, unknown> };
  const version = doc['dist-tags'][spec] ?? spec;
  const v = doc.versions[version];
  if (!v) throw notFound('VERSION_NOT_FOUND', `${name}@${spec} is not in this registry`);
  sendJson(ctx.res, 200, v, { 'cache-control': DOCUMENT_CACHE_CONTROL });
}

export async function getTarball(d: NpmDeps, ctx: RequestContext, name: string, filename: string): Promise<void> {
  ctx.route = 'npm.tarball';
  ctx.logFields.package = name;
  const art = await d.packages.servedArtifact(() => ctx.reader(), d.eco, name, filename);
  const etag = `"${art.blobKey.slice(0, 40)}"`;
  const headers: Record<string, string> = {
    etag,
    'content-type': 'application/octet-stream',
    'cache-control': art.access === 'restricted' ? 'private, max-age=31536000, immutable' : TARBALL_CACHE_CONTROL,
  };
  if (etagMatches(ctx.req.headers['if-none-match'], etag)) {
    ctx.res.writeHead(304, headers);
    ctx.res.end();
    return;
  }
  headers['content-length'] = String(art.size);
  const downloads = d.downloads;
  if (downloads && ctx.method === 'GET') {
    // 'finish' fires only once the whole body was handed to the socket: aborted or failed downloads are not counted.
    ctx.res.once('finish', () => {
      if (ctx.res.statusCode === 200) downloads.record(art.packageId);
    });
  }
  const cached = d.blobCache.get(art.blobKey, etag);
  if (cached) {
    ctx.res.writeHead(200, headers);
    ctx.res.end(ctx.method === 'HEAD' ? undefined : cached.identity);
    return;
  }
  if (art.size <= BLOB_CACHE_MAX_ITEM) {
    const data = await d.blobs.get(art.blobKey);
    if (!data) throw notFound('BLOB_MISSING', `${filename} is missing from storage`);
    d.blobCache.put(art.blobKey, { etag, lastModified: '', identity: data, meta: null });
    ctx.res.writeHead(200, headers);
    ctx.res.end(ctx.method === 'HEAD' ? undefined : data);
    return;
  }
  const opened = await d.blobs.open(art.blobKey);
  if (!opened) throw notFound('BLOB_MISSING', `${filename} is missing from storage`);
  ctx.res.writeHead(200, headers);
  if (ctx.method === 'HEAD') {
    opened.stream.destroy();
    ctx.res.end();
    return;
  }
  await new Promise<void>((resolve) => {
    opened.stream.on('error', () => {
      ctx.res.destroy();
      resolve();
    });
    ctx.res.on('close', resolve);
    opened.stream.pipe(ctx.res);
  });
}

/** `PUT /<name>`: publish, deprecate/undeprecate, or star, told apart by the body. */
export async function putPackage(d: NpmDeps, ctx: RequestContext, name: string): Promise<void> {
  const body = await readJson(ctx.req, d.maxBodyBytes);
  if (!isObject(body)) throw invalid('BAD_BODY', 'The body must be a JSON object');
  const principal = await ctx.principal();
  ctx.logFields.package = name;
  if (isPublishBody(body)) {
    ctx.route = 'npm.publish';
    const exists = await d.packages.exists(d.eco, name);
    if (!exists) validateNewName(name);
    const input = parsePublishBody(name, body, d.eco);
    ctx.logFields.version = input.version;
    const outcome = await d.publisher.publish(principal, input);
    sendJson(ctx.res, outcome.status === 'created' ? 201 : 200, { ok: true, id: name, rev: outcome.version, success: true });
    return;
  }
  ctx.route = 'npm.update';
  await applyDocumentChange(d, ctx, name, body, false);
}

/** `PUT /<name>/-rev/<rev>`: owner changes, or removal of versions (npm unpublish of one version). */
export async function putPackageRev(d: NpmDeps, ctx: RequestContext, name: string): Promise<void> {
  const body = await readJson(ctx.req, d.maxJsonBytes * 64);
  if (!isObject(body)) throw invalid('BAD_BODY', 'The body must be a JSON object');
  ctx.route = 'npm.update';
  ctx.logFields.package = name;
  await applyDocumentChange(d, ctx, name, body, true);
}

/**
 * A whole or partial document sent back to us. We work out what it changes compared with what
 * is stored and apply only the changes a client is allowed to make this way; anything else is
 * refused rather than silently ignored.
 */
async function applyDocumentChange(d: NpmDeps, ctx: RequestContext, name: string, body: Json, revRoute: boolean): Promise<void> {
  if (body.name !== undefined && body.name !== name) throw invalid('NAME_MISMATCH', `The body is for "${String(body.name).slice(0, 214)}", not "${name}"`);
  if (body._id !== undefined && body._id !== name) throw invalid('NAME_MISMATCH', `The body is for "${String(body._id).slice(0, 214)}", not "${name}"`);
  const principal = await ctx.principal();
  // The write this document asks for is authorized before anything stored is compared with it:
  // a caller who may not make it gets the write's refusal (or the missing-package answer).
  const ownersOnly = Array.isArray(body.maintainers) && body.versions === undefined;
  await d.packages.mayChange(principal, d.eco, name, ownersOnly ? 'package:owners' : 'package:deprecate');
  const stored = await d.packages.document(d.eco, name, 'full');
  if (!stored) throw notFound('PACKAGE_NOT_FOUND', `${name} is not in this registry (or you do not have access to it)`);
  const current = JSON.parse(stored.doc.body) as { versions: Record<string, Json> };

  if (Array.isArray(body.maintainers) && body.versions === undefined) {
    const names = body.maintainers.map((m) => (isObject(m) && typeof m.name === 'string' ? m.name : null));
    if (names.some((n) => n === null)) throw invalid('BAD_MAINTAINERS', 'maintainers must be a list of {name, email}');
    ctx.route = 'npm.owners';
    await d.packages.setOwners(principal, d.eco, name, names as string[]);
    sendJson(ctx.res, 200, { ok: true, id: name, success: true });
    return;
  }

  if (isObject(body.versions)) {
    const sent = body.versions;
    const added = Object.keys(sent).filter((v) => !(v in current.versions));
    if (added.length > 0) throw invalid('VERSION_NOT_PUBLISHED', `Versions can only be added by a publish with a tarball (${added.slice(0, 3).join(', ')})`);
    const removed = Object.keys(current.versions).filter((v) => !(v in sent));
    const deprecations = new Map<string, string | null>();
    for (const [v, manifest] of Object.entries(sent)) {
      if (!isObject(manifest)) throw invalid('BAD_VERSION_OBJECT', `versions["${v}"] must be an object`);
      assertOnlyDeprecationChanged(name, v, current.versions[v] as Json, manifest);
      if (manifest.deprecated === undefined) continue;
      if (typeof manifest.deprecated !== 'string') throw invalid('BAD_DEPRECATION', 'deprecated must be a string');
      const wanted = manifest.deprecated === '' ? null : manifest.deprecated;
      const had = typeof current.versions[v]?.deprecated === 'string' ? (current.versions[v]?.deprecated as string) : null;
      if (wanted !== had) deprecations.set(v, wanted);
    }
    if (removed.length > 0) {
      if (!revRoute) throw invalid('USE_UNPUBLISH', 'Removing versions needs the unpublish flow (PUT /<name>/-rev/<rev>)');
      if (deprecations.size > 0) throw invalid('ONE_CHANGE_AT_A_TIME', 'Unpublish and deprecate cannot be combined in one request');
      ctx.route = 'npm.unpublish-version';
      for (const v of removed) await d.packages.unpublishVersion(principal, d.eco, name, v);
    } else if (deprecations.size > 0) {
      ctx.route = 'npm.deprecate';
      await d.packages.deprecate(principal, d.eco, name, deprecations);
    }
    sendJson(ctx.res, 200, { ok: true, id: name, success: true });
    return;
  }

  if (isObject(body.users)) {
    // Stars are accepted and not recorded: they carry no security meaning here.
    ctx.route = 'npm.star';
    sendJson(ctx.res, 200, { ok: true, id: name, success: true });
    return;
  }
  throw invalid('UNSUPPORTED_CHANGE', 'This request changes nothing this registry lets you change through a document PUT');
}

/** Fields a document PUT may not change for an existing version. */
const IMMUTABLE_FIELDS = ['dependencies', 'optionalDependencies', 'peerDependencies', 'bundleDependencies', 'scripts', 'bin'] as const;

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v ?? null);
}

function assertOnlyDeprecationChanged(name: string, version: string, stored: Json, sent: Json): void {
  const refuse = (what: string) => forbidden('VERSION_IMMUTABLE', `${name}@${version} is immutable: ${what} cannot change; only its deprecation can`);
  const sentDist = isObject(sent.dist) ? sent.dist : undefined;
  const storedDist = stored.dist as Json;
  if (sentDist) {
    for (const k of ['integrity', 'shasum'] as const) {
      if (sentDist[k] !== undefined && sentDist[k] !== storedDist[k]) throw refuse(`dist.${k}`);
    }
  }
  for (const f of IMMUTABLE_FIELDS) {
    if (sent[f] !== undefined && canonical(sent[f]) !== canonical(stored[f])) throw refuse(f);
  }
}

/** `DELETE /<name>/-rev/<rev>`: unpublish the whole package. */
export async function deletePackage(d: NpmDeps, ctx: RequestContext, name: string): Promise<void> {
  ctx.route = 'npm.unpublish-package';
  ctx.logFields.package = name;
  await d.packages.unpublishPackage(await ctx.principal(), d.eco, name);
  sendJson(ctx.res, 200, { ok: true, id: name, success: true });
}

/** `DELETE /<name>/-/<file>/-rev/<rev>`: the last step of npm's version unpublish; the version is already gone. */
export async function deleteTarball(d: NpmDeps, ctx: RequestContext, name: string, filename: string): Promise<void> {
  ctx.route = 'npm.delete-tarball';
  const principal = requireUser(await ctx.principal());
  const visible = await d.packages.snapshot(principal, d.eco, name).then(() => true, (e: unknown) => {
    if (isAttestryError(e) && e.code === 'PACKAGE_NOT_FOUND') return false;
    throw e;
  });
  // Gone (npm removes a last version this way) or hidden from the caller: nothing to delete here.
  const live = visible && (await d.packages.artifactIsServed(d.eco, name, filename));
  if (live) throw forbidden('TARBALL_STILL_PUBLISHED', `${filename} belongs to a published version; unpublish the version first`);
  sendJson(ctx.res, 200, { ok: true, success: true });
}
