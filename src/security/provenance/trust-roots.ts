// Sigstore trusted roots: validated and turned into verification material once, at start-up.
// @sigstore/verify accepts roots whose logs, CAs or TSAs lack validFor.start (and then trusts
// them since the epoch; conformance case trust-root-tlog-missing-validity-start_fail), and it
// parses lazily or leniently elsewhere, so every root is checked here field by field first.
import { rememberTrustedCertificates } from './trusted-certificates.ts';
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, Verifier, type TrustMaterial } from '@sigstore/verify';
import { TrustRootError } from './trust-root-error.ts';
import { keyFinder } from './verification-keys.ts';

export { TrustRootError };

export const TRUSTED_ROOT_MEDIA_TYPES: readonly string[] = [
  'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  'application/vnd.dev.sigstore.trustedroot.v0.2+json',
];

export interface TrustRootSource {
  /** A file path, or 'public-good'. */
  name: string;
  json: unknown;
}


/** One validated root. Internal to the provenance module: callers treat TrustRoots as opaque. */
export interface TrustRootEntry {
  readonly name: string;
  /** Its key finder refuses every hint; verify-bundle.ts swaps in the caller's keys. */
  readonly material: TrustMaterial;
  /** Default thresholds (1 tlog entry, 1 SCT, 1 timestamp), reused for every certificate bundle. */
  readonly verifier: Verifier;
  /** DER of every certificate of every Fulcio CA chain, for the root-in-chain rule. */
  readonly caCertificates: readonly Buffer[];
}

export interface TrustRoots {
  readonly names: readonly string[];
  readonly entries: readonly TrustRootEntry[];
}

export function buildTrustRoots(sources: TrustRootSource[]): TrustRoots {
  if (sources.length === 0) throw new TrustRootError('TRUST_ROOT_NONE', 'no Sigstore trusted root is configured');
  const entries = sources.map((s) => buildOne(s));
  return { names: entries.map((e) => e.name), entries };
}

function buildOne(source: TrustRootSource): TrustRootEntry {
  const defects = rootDefects(source.json);
  if (defects.length > 0) {
    throw new TrustRootError('TRUST_ROOT_INVALID', `trusted root ${source.name}: ${defects.slice(0, 5).join('; ')}`);
  }
  let root: TrustedRoot;
  let material: TrustMaterial;
  try {
    root = TrustedRoot.fromJSON(source.json);
    material = toTrustMaterial(root, keyFinder(undefined));
    rememberTrustedCertificates(material);
  } catch (e) {
    throw new TrustRootError('TRUST_ROOT_INVALID', `trusted root ${source.name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const caCertificates = root.certificateAuthorities.flatMap((ca) => (ca.certChain?.certificates ?? []).map((c) => Buffer.from(c.rawBytes)));
  return { name: source.name, material, verifier: new Verifier(material), caCertificates };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const isBase64 = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && BASE64.test(v);
const isTime = (v: unknown): boolean => typeof v === 'string' && Number.isFinite(Date.parse(v));

/** Every defect found, each naming the field; empty when the root is usable. */
function rootDefects(json: unknown): string[] {
  if (!isObj(json)) return ['not a JSON object'];
  const out: string[] = [];
  if (typeof json.mediaType !== 'string' || !TRUSTED_ROOT_MEDIA_TYPES.includes(json.mediaType)) {
    out.push(`unknown mediaType ${JSON.stringify(json.mediaType)}`);
  }
  for (const field of ['tlogs', 'ctlogs'] as const) {
    listOf(json, field, out).forEach((log, i) => logDefects(log, `${field}[${i}]`, out));
  }
  for (const field of ['certificateAuthorities', 'timestampAuthorities'] as const) {
    listOf(json, field, out).forEach((ca, i) => authorityDefects(ca, `${field}[${i}]`, out));
  }
  return out;
}

function listOf(json: Obj, field: string, out: string[]): unknown[] {
  const v = json[field];
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    out.push(`${field} is not a list`);
    return [];
  }
  return v;
}

function validityDefects(validFor: unknown, at: string, out: string[]): void {
  if (!isObj(validFor) || validFor.start === undefined || validFor.start === null) {
    out.push(`${at}.validFor.start is missing`);
    return;
  }
  if (!isTime(validFor.start)) out.push(`${at}.validFor.start is not a time`);
  // Protobuf JSON writes an open end as null or leaves it out.
  if (validFor.end !== undefined && validFor.end !== null) {
    if (!isTime(validFor.end)) out.push(`${at}.validFor.end is not a time`);
    else if (isTime(validFor.start) && Date.parse(validFor.end as string) < Date.parse(validFor.start as string)) out.push(`${at}.validFor ends before it starts`);
  }
}

function logDefects(log: unknown, at: string, out: string[]): void {
  if (!isObj(log)) {
    out.push(`${at} is not an object`);
    return;
  }
  if (!isObj(log.logId) || !isBase64(log.logId.keyId)) out.push(`${at}.logId.keyId is missing or not base64`);
  const pk = log.publicKey;
  if (!isObj(pk)) {
    out.push(`${at}.publicKey is missing`);
    return;
  }
  if (!isBase64(pk.rawBytes)) out.push(`${at}.publicKey.rawBytes is missing or not base64`);
  if (typeof pk.keyDetails !== 'string') out.push(`${at}.publicKey.keyDetails is missing`);
  validityDefects(pk.validFor, `${at}.publicKey`, out);
}

function authorityDefects(ca: unknown, at: string, out: string[]): void {
  if (!isObj(ca)) {
    out.push(`${at} is not an object`);
    return;
  }
  const certs = isObj(ca.certChain) ? ca.certChain.certificates : undefined;
  if (!Array.isArray(certs) || certs.length === 0) {
    out.push(`${at}.certChain.certificates is missing or empty`);
  } else {
    certs.forEach((c: unknown, i) => {
      const raw = isObj(c) ? c.rawBytes : undefined;
      if (!isBase64(raw)) {
        out.push(`${at}.certChain.certificates[${i}].rawBytes is missing or not base64`);
        return;
      }
      try {
        // node:crypto parses strictly (OpenSSL); the Sigstore parser would accept more.
        new NodeX509Certificate(Buffer.from(raw, 'base64'));
      } catch {
        out.push(`${at}.certChain.certificates[${i}] is not an X.509 certificate`);
      }
    });
  }
  validityDefects(ca.validFor, at, out);
}

const SEEDS_ROOT_TARGET = 'trusted_root.json';
let publicGoodText: string | undefined;

/** The public-good trusted root embedded in @sigstore/tuf's seeds.json (the seed whose targets hold trusted_root.json), parsed afresh on each call. */
export function publicGoodTrustedRoot(): unknown {
  if (publicGoodText === undefined) {
    try {
      const path = createRequire(import.meta.url).resolve('@sigstore/tuf/seeds.json');
      const seeds: unknown = JSON.parse(readFileSync(path, 'utf8'));
      const target = isObj(seeds)
        ? Object.values(seeds).map((s) => (isObj(s) && isObj(s.targets) ? s.targets[SEEDS_ROOT_TARGET] : undefined)).find((t) => typeof t === 'string')
        : undefined;
      if (typeof target !== 'string') throw new Error(`no seed lists ${SEEDS_ROOT_TARGET}`);
      publicGoodText = Buffer.from(target, 'base64').toString('utf8');
    } catch (e) {
      throw new TrustRootError('TRUST_ROOT_UNREADABLE', `public-good trusted root from @sigstore/tuf: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  try {
    return JSON.parse(publicGoodText) as unknown;
  } catch (e) {
    throw new TrustRootError('TRUST_ROOT_INVALID', `public-good trusted root from @sigstore/tuf: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function loadTrustRootFile(path: string): TrustRootSource {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TrustRootError('TRUST_ROOT_UNREADABLE', `trusted root ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return { name: path, json: JSON.parse(text) as unknown };
  } catch (e) {
    throw new TrustRootError('TRUST_ROOT_INVALID', `trusted root ${path}: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}
