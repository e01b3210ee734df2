// `attestry verify <name>@<version> --registry <url>` (BP-7): what a consumer runs before trusting
// a version. It downloads the document, the tarball, the attestations and the registry keys, then
// checks everything offline: the tarball against dist.integrity, the registry signature, the
// provenance bundle against a Sigstore trusted root (its subject must be this very tarball), and
// the registry's publish attestation. Exit 0 only if every check passed.
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { isAttestryError } from '../core/errors.ts';
import { buildTrustRoots, loadTrustRootFile, publicGoodTrustedRoot, type TrustRoots, type TrustRootSource } from '../security/provenance/trust-roots.ts';
import { verifyNpmProvenance, type VerifiedNpmProvenance } from '../security/provenance/npm-provenance.ts';
import { parseKeysDocument, verifyVersionSignature } from '../security/signing/version-signatures.ts';
import { verifyPublishAttestation } from '../security/signing/publish-attestation.ts';
import type { RegistryPublicKey } from '../security/signing/registry-keys.ts';
import { checkReleaseLogged } from './log/release.ts';

export const VERIFY_USAGE = `attestry verify <name>@<version> --registry <url> [--trusted-root <file>]... [--no-public-good] [--token <token>] [--json]
    [--require-log] [--log-key <vkey>] [--state <dir>] [--wait <seconds>]`;

/** How the transparency-log line is checked (docs/transparency.md). */
export interface LogCheckOptions {
  /** A version without a log entry fails instead of being reported as "not logged". */
  require?: boolean;
  logKey?: string;
  /** Where the pinned key and last checkpoint live; without it the key is not pinned. */
  stateDir?: string;
  waitSeconds?: number;
}

interface Check {
  name: 'document' | 'tarball' | 'registry-signature' | 'provenance' | 'publish-attestation' | 'source' | 'transparency-log';
  ok: boolean;
  /** A warning does not fail the verification (e.g. the source repository is gone). */
  warning?: boolean;
  detail: string;
}

export interface ProvenanceFacts {
  predicateType: string;
  sourceRepository: string | null;
  commit: string | null;
  ref: string | null;
  workflow: string | null;
  builder: string;
  issuer: string;
  runInvocation: string | null;
  transparencyLog: { logIndex: string; integratedTime: string | null; logId: string } | null;
  trustRoot: string;
}

export interface VerifyReport {
  package: string;
  version: string;
  registry: string;
  ok: boolean;
  checks: Check[];
  provenance: ProvenanceFacts | null;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export class Fetcher {
  private readonly registry: string;
  private readonly token: string | undefined;
  constructor(registry: string, token: string | undefined) {
    this.registry = registry.replace(/\/+$/, '');
    this.token = token;
  }
  /** Like npm: a URL the registry hands out keeps its path, but is always fetched from the configured registry. */
  url(pathOrUrl: string): string {
    if (!/^https?:\/\//.test(pathOrUrl)) return `${this.registry}${pathOrUrl}`;
    const u = new URL(pathOrUrl);
    const base = new URL(this.registry);
    return `${base.origin}${u.pathname}${u.search}`;
  }
  async get(pathOrUrl: string, accept = 'application/json'): Promise<Response> {
    return fetch(this.url(pathOrUrl), { headers: { accept, ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) }, signal: AbortSignal.timeout(30_000) });
  }
}

function escapeName(name: string): string {
  return name.startsWith('@') ? `@${encodeURIComponent(name.slice(1)).replace('%2F', '%2f')}` : encodeURIComponent(name);
}

export interface VersionDist extends Json {
  tarball: string;
  integrity: string;
}

/** The version's document entry: its dist (tarball URL, integrity, logIndex…) and publication time. */
export async function fetchVersion(http: Fetcher, spec: { name: string; version: string }): Promise<{ dist: VersionDist; publishedAt: number } | { error: string }> {
  const docRes = await http.get(`/${escapeName(spec.name)}`);
  if (docRes.status !== 200) return { error: `GET /${spec.name} answered ${docRes.status}` };
  const doc = (await docRes.json()) as Json;
  const manifest = isObject(doc.versions) ? doc.versions[spec.version] : undefined;
  const dist = isObject(manifest) && isObject(manifest.dist) ? manifest.dist : undefined;
  if (!dist || typeof dist.tarball !== 'string' || typeof dist.integrity !== 'string') return { error: `${spec.name} has no version ${spec.version} with a tarball and an integrity` };
  const publishedAt = isObject(doc.time) && typeof doc.time[spec.version] === 'string' ? Date.parse(doc.time[spec.version] as string) : Number.NaN;
  return { dist: dist as VersionDist, publishedAt };
}

/** Downloads a tarball and its SHA-512 (undefined when the download failed). */
export async function downloadTarball(http: Fetcher, url: string): Promise<{ tarball?: Buffer; sha512?: Buffer; status: number }> {
  const res = await http.get(url, 'application/octet-stream');
  if (res.status !== 200) return { status: res.status };
  const tarball = Buffer.from(await res.arrayBuffer());
  return { tarball, sha512: createHash('sha512').update(tarball).digest(), status: res.status };
}

export function parseSpec(spec: string): { name: string; version: string } {
  const at = spec.lastIndexOf('@');
  if (at <= 0) throw new Error(`expected <name>@<version>, got "${spec}"`);
  return { name: spec.slice(0, at), version: spec.slice(at + 1) };
}

const reason = (e: unknown): string => (isAttestryError(e) ? `${e.message} (${e.code})` : (e as Error).message);

function facts(v: VerifiedNpmProvenance): ProvenanceFacts {
  const id = v.identity;
  return {
    predicateType: v.predicateType,
    sourceRepository: id.sourceRepositoryUri ?? (id.legacyRepository ? `(legacy certificate) ${id.legacyRepository}` : null),
    commit: id.sourceRepositoryDigest,
    ref: id.sourceRepositoryRef,
    workflow: id.buildConfigUri,
    builder: id.buildSignerUri ?? id.subjectAlternativeName,
    issuer: id.issuer,
    runInvocation: id.runInvocationUri,
    transparencyLog: v.tlog ? { logIndex: v.tlog.logIndex, integratedTime: v.tlog.integratedTime === null ? null : new Date(v.tlog.integratedTime).toISOString(), logId: v.tlog.logId } : null,
    trustRoot: v.trustRoot,
  };
}

export async function verifyVersion(spec: { name: string; version: string }, options: { registry: string; roots: TrustRoots; token?: string; log?: LogCheckOptions }): Promise<VerifyReport> {
  const http = new Fetcher(options.registry, options.token);
  const checks: Check[] = [];
  const report: VerifyReport = { package: spec.name, version: spec.version, registry: options.registry, ok: false, checks, provenance: null };
  const fail = (name: Check['name'], detail: string) => checks.push({ name, ok: false, detail });
  const pass = (name: Check['name'], detail: string) => checks.push({ name, ok: true, detail });

  const found = await fetchVersion(http, spec);
  if ('error' in found) {
    fail('document', found.error);
    return report;
  }
  const { dist, publishedAt } = found;
  pass('document', `${spec.name}@${spec.version} published ${Number.isNaN(publishedAt) ? '(time unknown)' : new Date(publishedAt).toISOString()}`);

  // 1. The tarball is the one the document names.
  const { tarball, sha512, status: tgzStatus } = await downloadTarball(http, dist.tarball);
  if (!tarball || !sha512) fail('tarball', `downloading ${dist.tarball} answered ${tgzStatus}`);
  else if (`sha512-${sha512.toString('base64')}` !== dist.integrity) fail('tarball', `the tarball's sha512 is not dist.integrity (${dist.integrity.slice(0, 30)}…): it was altered`);
  else pass('tarball', `${tarball.length} bytes, sha512 matches dist.integrity`);

  // 2. The registry signed this name, version and integrity.
  let keys: RegistryPublicKey[] = [];
  const keysRes = await http.get('/-/npm/v1/keys');
  try {
    keys = keysRes.status === 200 ? parseKeysDocument(await keysRes.json()) : [];
  } catch (e) {
    fail('registry-signature', `the registry's keys document is malformed: ${reason(e)}`);
  }
  const sigs = Array.isArray(dist.signatures) ? (dist.signatures as Array<{ keyid: string; sig: string }>) : [];
  if (!checks.some((c) => c.name === 'registry-signature')) {
    if (keys.length === 0) fail('registry-signature', `the registry serves no signing keys (GET /-/npm/v1/keys answered ${keysRes.status})`);
    else if (sigs.length === 0) fail('registry-signature', 'the version has no dist.signatures');
    else {
      const good = sigs.find((s) => verifyVersionSignature(keys, spec.name, spec.version, dist.integrity as string, s, Number.isNaN(publishedAt) ? Date.parse('2015-01-01T00:00:00.000Z') : publishedAt));
      if (good) pass('registry-signature', `signed by registry key ${good.keyid}`);
      else fail('registry-signature', `no signature verifies with the registry's keys (${sigs.map((s) => s.keyid).join(', ')})`);
    }
  }

  // 3. Provenance: a Sigstore bundle naming exactly this tarball, verified against the trusted roots.
  const att = isObject(dist.attestations) ? dist.attestations : undefined;
  if (!att || typeof att.url !== 'string') {
    fail('provenance', 'the version was published without provenance');
  } else {
    const attRes = await http.get(att.url);
    const body = attRes.status === 200 ? ((await attRes.json()) as Json) : undefined;
    const list = body && Array.isArray(body.attestations) ? (body.attestations as Json[]) : [];
    const entry = list.find((a) => typeof a.predicateType === 'string' && a.predicateType.startsWith('https://slsa.dev/provenance/'));
    if (!entry) fail('provenance', `${att.url} has no SLSA provenance (answered ${attRes.status})`);
    else if (!sha512) fail('provenance', 'cannot check the provenance without the tarball');
    else {
      try {
        const v = verifyNpmProvenance(entry.bundle as object, options.roots, { name: spec.name, version: spec.version, sha512hex: sha512.toString('hex'), issuerSupported: () => true });
        report.provenance = facts(v);
        pass('provenance', `${v.predicateType} signed by ${v.identity.subjectAlternativeName}, verified against the ${v.trustRoot} trusted root`);
      } catch (e) {
        fail('provenance', reason(e));
      }
    }
    // 4. The registry's own publish attestation, signed with its key.
    const registryList = body && Array.isArray(body.registryAttestations) ? (body.registryAttestations as Json[]) : [];
    const publish = registryList[0];
    if (!publish) fail('publish-attestation', 'the registry served no publish attestation');
    else if (sha512) {
      try {
        // Judged at publish time: a key retired since then still vouches for what it signed before.
        const v = verifyPublishAttestation(publish.bundle as object, keys, { name: spec.name, version: spec.version, sha512hex: sha512.toString('hex') }, Number.isNaN(publishedAt) ? {} : { at: publishedAt });
        pass('publish-attestation', `signed by registry key ${v.keyId}`);
      } catch (e) {
        fail('publish-attestation', reason(e));
      }
    }
    const source = body && isObject(body.source) ? body.source : undefined;
    if (source?.status === 'gone') checks.push({ name: 'source', ok: true, warning: true, detail: `the source repository ${String(source.repository)} no longer exists (checked ${String(source.checkedAt)})` });
  }
  // 5. The transparency log committed to this very tarball under a signed checkpoint.
  if (sha512) checks.push(await logCheck(http, options.registry, spec, sha512.toString('hex'), typeof dist.logIndex === 'number' ? dist.logIndex : undefined, options.log ?? {}));
  report.ok = checks.every((c) => c.ok);
  return report;
}

async function logCheck(http: Fetcher, registry: string, spec: { name: string; version: string }, sha512hex: string, logIndex: number | undefined, o: LogCheckOptions): Promise<Check> {
  try {
    const r = await checkReleaseLogged({ http, registry, ...spec, sha512hex, ...(logIndex === undefined ? {} : { logIndex }), ...(o.stateDir ? { stateDir: o.stateDir } : {}), ...(o.logKey ? { logKey: o.logKey } : {}), waitSeconds: o.waitSeconds ?? 15 });
    if (r.status === 'not-logged') {
      return o.require ? { name: 'transparency-log', ok: false, detail: 'not logged: the version has no transparency-log entry (--require-log)' } : { name: 'transparency-log', ok: true, warning: true, detail: 'not logged (published before the log, or the registry has none)' };
    }
    const key = r.keySource === 'unpinned' ? ' (log key not pinned: pass --state or --log-key)' : '';
    return { name: 'transparency-log', ok: true, detail: `entry ${r.index} included in checkpoint of size ${r.checkpointSize} signed by ${r.origin}${key}` };
  } catch (e) {
    return { name: 'transparency-log', ok: false, detail: reason(e) };
  }
}

function render(r: VerifyReport): string {
  const lines = [`attestry verify ${r.package}@${r.version} (registry ${r.registry})`];
  for (const c of r.checks) lines.push(`  ${c.warning ? '!' : c.ok ? '✔' : '✖'} ${c.name.padEnd(20)} ${c.detail}`);
  const p = r.provenance;
  if (p) {
    lines.push('', '  provenance');
    const row = (k: string, v: string | null) => lines.push(`    ${k.padEnd(19)} ${v ?? '(not in the certificate)'}`);
    row('source repository', p.sourceRepository);
    row('commit', p.commit);
    row('ref', p.ref);
    row('workflow', p.workflow);
    row('builder', p.builder);
    row('issuer', p.issuer);
    row('run', p.runInvocation);
    row('transparency log', p.transparencyLog ? `entry ${p.transparencyLog.logIndex} at ${p.transparencyLog.integratedTime ?? '(no time)'} (log ${p.transparencyLog.logId})` : null);
    lines.push('', '  Provenance says where and how this tarball was built; it does not say the code is safe.');
  }
  lines.push('', r.ok ? 'verified' : 'NOT verified');
  return `${lines.join('\n')}\n`;
}

/** Runs the command; returns the exit code (0 verified, 1 not verified, 2 usage or set-up error). */
export async function runVerifyCommand(args: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  let values: { registry?: string; 'trusted-root'?: string[]; 'no-public-good'?: boolean; token?: string; json?: boolean; 'require-log'?: boolean; 'log-key'?: string; state?: string; wait?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, allowPositionals: true, options: {
      registry: { type: 'string' }, 'trusted-root': { type: 'string', multiple: true }, 'no-public-good': { type: 'boolean' }, token: { type: 'string' }, json: { type: 'boolean' },
      'require-log': { type: 'boolean' }, 'log-key': { type: 'string' }, state: { type: 'string' }, wait: { type: 'string' },
    } }));
  } catch (e) {
    err(`attestry verify: ${(e as Error).message}\nusage: ${VERIFY_USAGE}\n`);
    return 2;
  }
  const registry = values.registry ?? process.env.ATTESTRY_REGISTRY;
  if (positionals.length !== 1 || !registry) {
    err(`usage: ${VERIFY_USAGE}\n`);
    return 2;
  }
  let spec: { name: string; version: string };
  let roots: TrustRoots;
  try {
    spec = parseSpec(positionals[0] as string);
    const sources: TrustRootSource[] = values['no-public-good'] ? [] : [{ name: 'public-good', json: publicGoodTrustedRoot() }];
    for (const f of values['trusted-root'] ?? []) sources.push(loadTrustRootFile(f));
    roots = buildTrustRoots(sources);
  } catch (e) {
    err(`attestry verify: ${(e as Error).message}\n`);
    return 2;
  }
  let report: VerifyReport;
  try {
    const wait = values.wait === undefined ? 15 : Number(values.wait);
    const log: LogCheckOptions = { require: values['require-log'] === true, waitSeconds: Number.isFinite(wait) && wait >= 0 ? wait : 15, ...(values['log-key'] ? { logKey: values['log-key'] } : {}), ...(values.state ? { stateDir: values.state } : {}) };
    report = await verifyVersion(spec, { registry, roots, log, ...(values.token ? { token: values.token } : {}) });
  } catch (e) {
    err(`attestry verify: cannot reach ${registry}: ${(e as Error).message}\n`);
    return 1;
  }
  out(values.json ? `${JSON.stringify(report, null, 2)}\n` : render(report));
  return report.ok ? 0 : 1;
}
