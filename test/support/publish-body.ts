// Publish requests as npm 11 sends them (`PUT /<escaped-name>`, spec 2.1), built by hand so tests
// can get every field right, or exactly one field wrong.
import { createHash } from 'node:crypto';
import { makeTarGz, type TarEntrySpec } from './tar-writer.ts';

export interface PublishBodyOptions {
  name: string;
  version: string;
  /** The .tgz; default: `packageTarball(name, version)`. */
  tarball?: Buffer;
  /** Merged over the version object npm builds (so `{name: 'other'}` makes it disagree with the body). */
  manifest?: object;
  /** Default `{latest: version}`; entries whose value is undefined are left out. */
  tags?: Record<string, string | undefined>;
  /** npm 11 sends null unless `--access` is given. */
  access?: string | null;
  /** Default `<name>-<version>.tgz` (for `@s/n`: `@s/n-1.0.0.tgz`, as npm does). */
  attachmentName?: string;
  /** Override the computed `dist.integrity` (sha512 of the tarball). */
  integrity?: string;
  /** Override the computed `dist.shasum` (sha1 hex of the tarball). */
  shasum?: string;
  /** Override the attachment's `length` (the tarball's byte count). */
  length?: number;
  /** Base the client-made `dist.tarball` on this URL. */
  registry?: string;
}

export interface PublishBody {
  _id: string;
  name: string;
  description: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, Record<string, unknown>>;
  access: string | null;
  _attachments: Record<string, { content_type: string; data: string; length: number }>;
  [key: string]: unknown;
}

export interface ApiResponse {
  status: number;
  /** Parsed JSON, or `{raw: <text>}` when the answer was not JSON. */
  body: Record<string, unknown>;
  headers: Headers;
}

/** The bare name (without scope), as tarball file names use it. */
export function bareName(name: string): string {
  return name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
}

/** npm's escaped name for URLs: `@s/n` → `@s%2fn`; unscoped names as they are (each part URI-encoded). */
export function escapeName(name: string): string {
  if (!name.startsWith('@')) return encodeURIComponent(name);
  const slash = name.indexOf('/');
  if (slash === -1) return `@${encodeURIComponent(name.slice(1))}`;
  return `@${encodeURIComponent(name.slice(1, slash))}%2f${encodeURIComponent(name.slice(slash + 1))}`;
}

/** The URL this registry serves a version's tarball at. */
export function tarballUrl(registry: string, name: string, version: string): string {
  return `${registry}/${name}/-/${bareName(name)}-${version}.tgz`;
}

/** A valid npm tarball: `package/package.json` plus `package/index.js` (and any extra files). */
export function packageTarball(name: string, version: string, files: Record<string, string> = {}, packageJson: object = {}): Buffer {
  const entries: TarEntrySpec[] = [
    { path: 'package/package.json', content: JSON.stringify({ name, version, main: 'index.js', ...packageJson }, null, 2) },
    { path: 'package/index.js', content: `module.exports = ${JSON.stringify(`${name}@${version}`)};\n` },
    ...Object.entries(files).map(([p, content]) => ({ path: `package/${p}`, content })),
  ];
  return makeTarGz(entries);
}

export function integrityOf(data: Buffer): string {
  return `sha512-${createHash('sha512').update(data).digest('base64')}`;
}

export function shasumOf(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

export function publishBody(opts: PublishBodyOptions): PublishBody {
  const { name, version } = opts;
  const tarball = opts.tarball ?? packageTarball(name, version);
  const attachment = opts.attachmentName ?? `${name}-${version}.tgz`;
  const registry = opts.registry ?? 'http://localhost:4873';
  const manifest: Record<string, unknown> = {
    name,
    version,
    main: 'index.js',
    description: `test package ${name}`,
    readme: 'ERROR: No README data found!',
    _id: `${name}@${version}`,
    _nodeVersion: '24.15.0',
    _npmVersion: '11.19.1',
    dist: {
      integrity: opts.integrity ?? integrityOf(tarball),
      shasum: opts.shasum ?? shasumOf(tarball),
      // Client-made and untrusted (npm even puts the scope in twice); the registry recomputes it.
      tarball: `${registry}/${name}/-/${name}-${version}.tgz`,
    },
    ...opts.manifest,
  };
  return {
    _id: name,
    name,
    description: `test package ${name}`,
    'dist-tags': opts.tags ? Object.fromEntries(Object.entries(opts.tags).filter((e): e is [string, string] => e[1] !== undefined)) : { latest: version },
    versions: { [version]: manifest },
    access: opts.access === undefined ? null : opts.access,
    _attachments: {
      [attachment]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: opts.length ?? tarball.length },
    },
  };
}

async function answer(res: Response): Promise<ApiResponse> {
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    body = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { raw: parsed };
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body, headers: res.headers };
}

/** Any request to the registry with an optional bearer token; JSON bodies are serialised. */
export async function request(method: string, url: string, token?: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
  const h: Record<string, string> = { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers };
  let payload: string | Buffer | undefined;
  if (body !== undefined) {
    payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    h['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method, headers: h, body: payload });
  return answer(res);
}

/**
 * `PUT /<escaped-name>` as npm publishes. `body` is a publish body (serialised as JSON), or a
 * string/Buffer sent as it is. The name is taken from the body unless `name` is given.
 */
export async function putPublish(registry: string, token: string | null | undefined, body: PublishBody | object | string | Buffer, headers: Record<string, string> = {}, name?: string): Promise<ApiResponse> {
  const target = name ?? (typeof body === 'object' && !Buffer.isBuffer(body) && typeof (body as { name?: unknown }).name === 'string' ? (body as { name: string }).name : undefined);
  if (target === undefined) throw new Error('putPublish: pass the package name when the body does not carry one');
  return request('PUT', `${registry}/${escapeName(target)}`, token, body, { 'npm-command': 'publish', 'npm-auth-type': 'web', ...headers });
}
