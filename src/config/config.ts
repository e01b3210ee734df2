// Configuration: a JSON file (path in ATTESTRY_CONFIG) overlaid by environment variables read by
// name. Unknown keys in the file are a start-up error, so a typo never silently falls back to a
// default; unrelated ATTESTRY_* variables are not read at all.
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import path from 'node:path';
import { parseReporterPublicKey, type ReporterKeyConfig } from '../security/tokens/reporter-signature.ts';

export interface UnpublishPolicyConfig {
  /** Hours after publishing during which an owner may always unpublish a version. */
  windowHours: number;
  /** After the window: allowed only if no package in this registry depends on it and it has a single owner. */
  allowAfterWindowWithoutDependents: boolean;
}

export interface LimitsConfig {
  /** Largest request body accepted (publish bodies carry base64 tarballs). */
  maxBodyBytes: number;
  maxTarballBytes: number;
  maxUnpackedBytes: number;
  maxTarballEntries: number;
  /** Largest `package.json` inside a tarball that is read. */
  maxManifestBytes: number;
}

/** A self-hosted OIDC issuer, checked by security/oidc at start-up. */
export interface IssuerConfig {
  provider: string;
  issuer: string;
  insecureForTesting?: boolean;
  default?: boolean;
}

export interface TrustedPublishingConfig {
  issuers: IssuerConfig[];
}

/** Build provenance (docs/provenance.md). */
export interface ProvenanceConfig {
  /** Trust the public-good Sigstore instance (the trusted root embedded in @sigstore/tuf). */
  publicGoodRoot: boolean;
  /** Extra trusted_root.json files (private Sigstore deployments), checked at start-up. */
  trustedRoots: string[];
  /** How often recorded source repositories are re-checked (0: never). */
  sourceCheckIntervalHours: number;
  /** "none" (default: no network, nothing marked) or "http" (HEAD the repository URL; 404/410 = gone). */
  sourceChecker: 'none' | 'http';
  /** Longest a maintainer may open a provenance-change window for. */
  maxChangeWindowDays: number;
}

/** Account security (docs/account-security.md). */
export interface SecurityConfig {
  /** Unverified accounts cannot publish, create tokens or recover (AUTHN-1.1). */
  requireVerifiedEmail: boolean;
  /** Every package write by a person needs an enrolled second factor, and an OTP unless the token bypasses it (AUTHN-2.3). */
  requireMfaForMaintainers: boolean;
  /** Lifetime of a CLI login token (npm login), in hours. */
  cliSessionHours: number;
  /** Browser sessions end after this much inactivity. */
  webSessionIdleMinutes: number;
  /** …and at the latest this long after they began. */
  webSessionMaxHours: number;
  /** Default and maximum lifetime of tokens that can write. */
  writeTokenDefaultDays: number;
  writeTokenMaxDays: number;
  /** k-anonymity range source for leaked passwords (the HIBP range API format), or unset. */
  leakedPasswordRangeUrl: string | undefined;
  /** The same as files `<dir>/<PREFIX>.txt`, for air-gapped installs. */
  leakedPasswordRangeDir: string | undefined;
  /** Live packages in this top percentage by downloads (last 30 days) are critical too (AUTHN-3.3); 0: off, at most 50. */
  criticalTopPercent: number;
  /** …if they had at least this many downloads, so that a small registry does not mark everything. */
  criticalMinDownloads: number;
  /** Name servers for the abandoned-mail-domain check (`host` or `host:port`, IP literals); unset: the system's. */
  dnsServers: string[] | undefined;
  /** Public keys of secret scanners whose signed reports revoke leaked tokens (docs/secret-scanning.md); empty: endpoint off. */
  secretScanningReporters: ReporterKeyConfig[];
}

export interface MailConfig {
  /** `smtp://user:pass@host:587` or `smtps://…`; unset: mail goes to the outbox directory. */
  smtpUrl: string | undefined;
  /** Sender; default `Attestry <noreply@<public host>>`. */
  from: string | undefined;
}

/** Registry signing keys (docs/registry-signatures.md). */
export interface SigningConfig {
  /** The key-ring file; absent: <dataDir>/keys/registry-keys.json. Share one file between nodes. */
  keyFile: string | undefined;
}

/** The transparency log's serving and signing (docs/transparency.md, "Serving"). */
export interface TransparencyConfig {
  /** The log's signed-note signer key; absent: <dataDir>/keys/log-key. */
  keyFile: string | undefined;
  /** How often each process signs a checkpoint when the log has grown (seconds, at least 1). */
  checkpointIntervalSeconds: number;
  /** true: /-/tlog/* and /-/changes answer anyone; false: logged-in users only. */
  public: boolean;
}

export const DEFAULT_TRANSPARENCY: TransparencyConfig = { keyFile: undefined, checkpointIntervalSeconds: 5, public: true };

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** Origin (and optional path prefix) clients reach us at; absent: derived from host and the bound port. */
  publicUrl: string | undefined;
  /** Absent: SQLite in dataDir. `postgres://…`: PostgreSQL. */
  databaseUrl: string | undefined;
  /** When set, outgoing mail is written here as .eml files (account-security work). */
  mailOutbox: string | undefined;
  registrationOpen: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  unpublish: UnpublishPolicyConfig;
  limits: LimitsConfig;
  /** Write blobs with fsync before the metadata commit (durability across power loss). */
  fsyncBlobs: boolean;
  trustedPublishing: TrustedPublishingConfig;
  provenance: ProvenanceConfig;
  signing: SigningConfig;
  transparency: TransparencyConfig;
  security: SecurityConfig;
  mail: MailConfig;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Kind = 'string' | 'int' | 'port' | 'bool' | 'url' | 'optional-string' | 'level';

interface Field {
  key: keyof Config;
  env: string | undefined;
  kind: Kind;
}

const FIELDS: Field[] = [
  { key: 'host', env: 'ATTESTRY_HOST', kind: 'string' },
  { key: 'port', env: 'ATTESTRY_PORT', kind: 'port' },
  { key: 'dataDir', env: 'ATTESTRY_DATA_DIR', kind: 'string' },
  { key: 'publicUrl', env: 'ATTESTRY_PUBLIC_URL', kind: 'url' },
  { key: 'databaseUrl', env: 'ATTESTRY_DATABASE_URL', kind: 'optional-string' },
  { key: 'mailOutbox', env: 'ATTESTRY_MAIL_OUTBOX', kind: 'optional-string' },
  { key: 'registrationOpen', env: 'ATTESTRY_REGISTRATION_OPEN', kind: 'bool' },
  { key: 'logLevel', env: 'ATTESTRY_LOG_LEVEL', kind: 'level' },
  { key: 'fsyncBlobs', env: 'ATTESTRY_FSYNC_BLOBS', kind: 'bool' },
  { key: 'unpublish', env: undefined, kind: 'string' },
  { key: 'limits', env: undefined, kind: 'string' },
  { key: 'trustedPublishing', env: undefined, kind: 'string' },
  { key: 'provenance', env: undefined, kind: 'string' },
  { key: 'signing', env: undefined, kind: 'string' },
  { key: 'transparency', env: undefined, kind: 'string' },
  { key: 'security', env: undefined, kind: 'string' },
  { key: 'mail', env: undefined, kind: 'string' },
];

export const DEFAULT_SECURITY: SecurityConfig = {
  requireVerifiedEmail: true, requireMfaForMaintainers: true, cliSessionHours: 2, webSessionIdleMinutes: 120, webSessionMaxHours: 12,
  writeTokenDefaultDays: 7, writeTokenMaxDays: 90, leakedPasswordRangeUrl: undefined, leakedPasswordRangeDir: undefined,
  criticalTopPercent: 1, criticalMinDownloads: 1000, dnsServers: undefined, secretScanningReporters: [],
};

/** Security switches that tests and operators set from the environment. */
const SECURITY_ENV: Array<[keyof SecurityConfig, string, Kind]> = [
  ['requireVerifiedEmail', 'ATTESTRY_REQUIRE_VERIFIED_EMAIL', 'bool'],
  ['requireMfaForMaintainers', 'ATTESTRY_REQUIRE_MFA', 'bool'],
  ['leakedPasswordRangeUrl', 'ATTESTRY_LEAKED_PASSWORD_RANGE_URL', 'optional-string'],
  ['leakedPasswordRangeDir', 'ATTESTRY_LEAKED_PASSWORD_RANGE_DIR', 'optional-string'],
];

export const DEFAULT_PROVENANCE: ProvenanceConfig = { publicGoodRoot: true, trustedRoots: [], sourceCheckIntervalHours: 24, sourceChecker: 'none', maxChangeWindowDays: 30 };

export const DEFAULT_LIMITS: LimitsConfig = {
  maxBodyBytes: 120 * 1024 * 1024,
  maxTarballBytes: 64 * 1024 * 1024,
  maxUnpackedBytes: 256 * 1024 * 1024,
  maxTarballEntries: 20_000,
  maxManifestBytes: 1024 * 1024,
};

export const DEFAULT_UNPUBLISH: UnpublishPolicyConfig = { windowHours: 72, allowAfterWindowWithoutDependents: true };

function defaults(): Config {
  return {
    host: '127.0.0.1',
    port: 4873,
    dataDir: path.resolve('data'),
    publicUrl: undefined,
    databaseUrl: undefined,
    mailOutbox: undefined,
    registrationOpen: true,
    logLevel: 'info',
    unpublish: { ...DEFAULT_UNPUBLISH },
    limits: { ...DEFAULT_LIMITS },
    fsyncBlobs: true,
    trustedPublishing: { issuers: [] },
    provenance: { ...DEFAULT_PROVENANCE, trustedRoots: [] },
    signing: { keyFile: undefined },
    transparency: { ...DEFAULT_TRANSPARENCY },
    security: { ...DEFAULT_SECURITY, secretScanningReporters: [] },
    mail: { smtpUrl: undefined, from: undefined },
  };
}

const ISSUER_KEYS = ['provider', 'issuer', 'insecureForTesting', 'default'];

function parseTrustedPublishing(raw: unknown, where: string): TrustedPublishingConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: expected an object`);
  for (const k of Object.keys(raw)) if (k !== 'issuers') throw new ConfigError(`${where}: unknown key "${k}" (known: issuers)`);
  const list = (raw as { issuers?: unknown }).issuers ?? [];
  if (!Array.isArray(list)) throw new ConfigError(`${where}.issuers: expected a list`);
  return {
    issuers: list.map((e: unknown, i) => {
      const at = `${where}.issuers[${i}]`;
      if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new ConfigError(`${at}: expected an object`);
      for (const k of Object.keys(e)) if (!ISSUER_KEYS.includes(k)) throw new ConfigError(`${at}: unknown key "${k}" (known: ${ISSUER_KEYS.join(', ')})`);
      const o = e as Record<string, unknown>;
      return {
        provider: parseScalar('string', o.provider, `${at}.provider`) as string,
        issuer: parseScalar('string', o.issuer, `${at}.issuer`) as string,
        insecureForTesting: o.insecureForTesting === undefined ? false : (parseScalar('bool', o.insecureForTesting, `${at}.insecureForTesting`) as boolean),
        default: o.default === undefined ? false : (parseScalar('bool', o.default, `${at}.default`) as boolean),
      };
    }),
  };
}

function parseProvenance(raw: unknown, where: string): ProvenanceConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: expected an object`);
  const { trustedRoots, sourceChecker, ...scalars } = raw as Record<string, unknown>;
  if (sourceChecker !== undefined && sourceChecker !== 'none' && sourceChecker !== 'http') throw new ConfigError(`${where}.sourceChecker: expected "none" or "http"`);
  const base: Omit<ProvenanceConfig, 'trustedRoots' | 'sourceChecker'> = { publicGoodRoot: DEFAULT_PROVENANCE.publicGoodRoot, sourceCheckIntervalHours: DEFAULT_PROVENANCE.sourceCheckIntervalHours, maxChangeWindowDays: DEFAULT_PROVENANCE.maxChangeWindowDays };
  const parsed = parseObject(base, scalars, where);
  if (trustedRoots !== undefined && (!Array.isArray(trustedRoots) || trustedRoots.some((f) => typeof f !== 'string' || f === ''))) {
    throw new ConfigError(`${where}.trustedRoots: expected a list of file paths`);
  }
  if (parsed.maxChangeWindowDays < 1) throw new ConfigError(`${where}.maxChangeWindowDays: expected at least 1`);
  return { ...parsed, sourceChecker: (sourceChecker as 'none' | 'http' | undefined) ?? 'none', trustedRoots: ((trustedRoots as string[] | undefined) ?? []).map((f) => path.resolve(f)) };
}

/** `host` or `host:port` as node:dns's setServers takes them: IP literals only, IPv6 bracketed when it has a port. */
function isDnsServer(s: string): boolean {
  if (isIPv4(s) || isIPv6(s)) return true;
  const m = /^(?:\[(?<v6>[^[\]]+)\]|(?<v4>[\d.]+))(?::(?<port>\d{1,5}))?$/.exec(s);
  const { v6, v4, port } = m?.groups ?? {};
  if (m === null) return false;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return false;
  return v6 !== undefined ? isIPv6(v6) : isIPv4(v4 ?? '');
}

/** Host names are refused: resolving the resolver would need a resolver. */
function parseDnsServers(raw: unknown, where: string): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) throw new ConfigError(`${where}: expected a list of name servers`);
  if (raw.length === 0) throw new ConfigError(`${where}: expected at least one name server (leave it unset for the system's)`);
  return raw.map((entry: unknown, i) => {
    if (typeof entry === 'string' && isDnsServer(entry)) return entry;
    throw new ConfigError(`${where}[${i}]: expected an IP address with an optional port (192.0.2.53, 192.0.2.53:5353, 2001:db8::53, [2001:db8::53]:5353), got ${JSON.stringify(entry)}`);
  });
}

const REPORTER_KEYS = ['keyId', 'publicKeyPem'];

/** Each key is parsed now, so a bad PEM stops start-up instead of failing the first report. */
function parseReporters(raw: unknown, where: string): ReporterKeyConfig[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ConfigError(`${where}: expected a list of {keyId, publicKeyPem}`);
  const seen = new Set<string>();
  return raw.map((e: unknown, i) => {
    const at = `${where}[${i}]`;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new ConfigError(`${at}: expected an object {keyId, publicKeyPem}`);
    for (const k of Object.keys(e)) if (!REPORTER_KEYS.includes(k)) throw new ConfigError(`${at}: unknown key "${k}" (known: ${REPORTER_KEYS.join(', ')})`);
    const o = e as Record<string, unknown>;
    const keyId = parseScalar('string', o.keyId, `${at}.keyId`) as string;
    if (keyId.length > 256) throw new ConfigError(`${at}.keyId: expected at most 256 characters`);
    if (seen.has(keyId)) throw new ConfigError(`${at}.keyId: "${keyId}" is listed twice`);
    seen.add(keyId);
    const publicKeyPem = parseScalar('string', o.publicKeyPem, `${at}.publicKeyPem`) as string;
    try {
      parseReporterPublicKey(publicKeyPem);
    } catch (err) {
      throw new ConfigError(`${at}.publicKeyPem: not a usable public key (${(err as Error).message.slice(0, 200)}); expected a PEM EC P-256 public key`);
    }
    return { keyId, publicKeyPem };
  });
}

function parseSecurity(raw: unknown, where: string): SecurityConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: expected an object`);
  const { leakedPasswordRangeUrl, leakedPasswordRangeDir, dnsServers, secretScanningReporters, ...scalars } = raw as Record<string, unknown>;
  const { leakedPasswordRangeUrl: _u, leakedPasswordRangeDir: _d, dnsServers: _s, secretScanningReporters: _r, ...base } = DEFAULT_SECURITY;
  const parsed = parseObject(base, scalars, where);
  for (const [k, min] of [['cliSessionHours', 1], ['webSessionIdleMinutes', 1], ['webSessionMaxHours', 1], ['writeTokenDefaultDays', 1], ['writeTokenMaxDays', 1]] as const) {
    if (parsed[k] < min) throw new ConfigError(`${where}.${k}: expected at least ${min}`);
  }
  if (parsed.writeTokenDefaultDays > parsed.writeTokenMaxDays) throw new ConfigError(`${where}.writeTokenDefaultDays: must not exceed writeTokenMaxDays`);
  if (parsed.criticalTopPercent > 50) throw new ConfigError(`${where}.criticalTopPercent: expected at most 50`);
  return {
    ...parsed,
    leakedPasswordRangeUrl: leakedPasswordRangeUrl === undefined ? undefined : (parseScalar('url', leakedPasswordRangeUrl, `${where}.leakedPasswordRangeUrl`) as string),
    leakedPasswordRangeDir: leakedPasswordRangeDir === undefined ? undefined : path.resolve(parseScalar('string', leakedPasswordRangeDir, `${where}.leakedPasswordRangeDir`) as string),
    dnsServers: parseDnsServers(dnsServers, `${where}.dnsServers`),
    secretScanningReporters: parseReporters(secretScanningReporters, `${where}.secretScanningReporters`),
  };
}

function parseMail(raw: unknown, where: string): MailConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: expected an object`);
  for (const k of Object.keys(raw)) if (k !== 'smtpUrl' && k !== 'from') throw new ConfigError(`${where}: unknown key "${k}" (known: smtpUrl, from)`);
  const o = raw as { smtpUrl?: unknown; from?: unknown };
  const smtpUrl = parseScalar('optional-string', o.smtpUrl, `${where}.smtpUrl`) as string | undefined;
  if (smtpUrl !== undefined && !/^smtps?:\/\//.test(smtpUrl)) throw new ConfigError(`${where}.smtpUrl: expected an smtp:// or smtps:// URL`);
  return { smtpUrl, from: parseScalar('optional-string', o.from, `${where}.from`) as string | undefined };
}

function parseSigning(raw: unknown, where: string): SigningConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: expected an object`);
  for (const k of Object.keys(raw)) if (k !== 'keyFile') throw new ConfigError(`${where}: unknown key "${k}" (known: keyFile)`);
  const keyFile = parseScalar('optional-string', (raw as { keyFile?: unknown }).keyFile, `${where}.keyFile`) as string | undefined;
  return { keyFile: keyFile === undefined ? undefined : path.resolve(keyFile) };
}

function parseTransparency(raw: unknown, where: string): TransparencyConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: expected an object`);
  const { keyFile, ...scalars } = raw as Record<string, unknown>;
  const { keyFile: _k, ...base } = DEFAULT_TRANSPARENCY;
  const parsed = parseObject(base, scalars, where);
  if (parsed.checkpointIntervalSeconds < 1) throw new ConfigError(`${where}.checkpointIntervalSeconds: expected at least 1`);
  if (parsed.checkpointIntervalSeconds > 86_400) throw new ConfigError(`${where}.checkpointIntervalSeconds: expected at most 86400`);
  const file = parseScalar('optional-string', keyFile, `${where}.keyFile`) as string | undefined;
  return { ...parsed, keyFile: file === undefined ? undefined : path.resolve(file) };
}

function parseScalar(kind: Kind, raw: unknown, where: string): unknown {
  const fail = (what: string): never => {
    throw new ConfigError(`${where}: expected ${what}, got ${JSON.stringify(raw)}`);
  };
  switch (kind) {
    case 'string':
      return typeof raw === 'string' && raw.length > 0 ? raw : fail('a non-empty string');
    case 'optional-string':
      if (raw === undefined || raw === null || raw === '') return undefined;
      return typeof raw === 'string' ? raw : fail('a string');
    case 'int': {
      const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
      return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : fail('a non-negative integer');
    }
    case 'port': {
      const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
      return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535 ? n : fail('a port number from 0 to 65535');
    }
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      return fail('true or false');
    case 'level':
      return raw === 'debug' || raw === 'info' || raw === 'warn' || raw === 'error' ? raw : fail('debug|info|warn|error');
    case 'url': {
      if (typeof raw !== 'string') return fail('an http(s) URL');
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        return fail('an http(s) URL');
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') fail('an http(s) URL');
      if (raw.includes('?') || raw.includes('#')) fail('a URL without query or fragment');
      if (u.username || u.password) fail('a URL without credentials');
      return u.toString().replace(/\/+$/, '');
    }
  }
}

function parseObject<T extends object>(base: T, raw: unknown, where: string): T {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${where}: expected an object`);
  }
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(raw)) {
    if (!Object.hasOwn(base, k)) throw new ConfigError(`${where}: unknown key "${k}" (known: ${Object.keys(base).join(', ')})`);
    const current = (base as Record<string, unknown>)[k];
    const kind: Kind = typeof current === 'boolean' ? 'bool' : 'int';
    out[k] = parseScalar(kind, v, `${where}.${k}`);
  }
  return out as T;
}

/** Builds the effective configuration from an optional file and the environment. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cfg = defaults();
  const file = env.ATTESTRY_CONFIG;
  if (file) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${file}: expected a JSON object`);
    for (const [k, v] of Object.entries(raw)) {
      const field = FIELDS.find((f) => f.key === k);
      if (!field) throw new ConfigError(`${file}: unknown key "${k}" (known: ${FIELDS.map((f) => f.key).join(', ')})`);
      if (k === 'unpublish') cfg.unpublish = parseObject(cfg.unpublish, v, `${file}: unpublish`);
      else if (k === 'limits') cfg.limits = parseObject(cfg.limits, v, `${file}: limits`);
      else if (k === 'trustedPublishing') cfg.trustedPublishing = parseTrustedPublishing(v, `${file}: trustedPublishing`);
      else if (k === 'provenance') cfg.provenance = parseProvenance(v, `${file}: provenance`);
      else if (k === 'signing') cfg.signing = parseSigning(v, `${file}: signing`);
      else if (k === 'transparency') cfg.transparency = parseTransparency(v, `${file}: transparency`);
      else if (k === 'security') cfg.security = parseSecurity(v, `${file}: security`);
      else if (k === 'mail') cfg.mail = parseMail(v, `${file}: mail`);
      else (cfg as unknown as Record<string, unknown>)[k] = parseScalar(field.kind, v, `${file}: ${k}`);
    }
  }
  for (const field of FIELDS) {
    if (!field.env) continue;
    const value = env[field.env];
    if (value === undefined) continue;
    (cfg as unknown as Record<string, unknown>)[field.key] = parseScalar(field.kind, value, field.env);
  }
  for (const [key, name, kind] of SECURITY_ENV) {
    const value = env[name];
    if (value !== undefined) (cfg.security as unknown as Record<string, unknown>)[key] = parseScalar(kind, value, name);
  }
  // Comma-separated; empty means unset, like the other variables.
  const dnsServers = env.ATTESTRY_DNS_SERVERS;
  if (dnsServers !== undefined) cfg.security.dnsServers = dnsServers === '' ? undefined : parseDnsServers(dnsServers.split(',').map((s) => s.trim()), 'ATTESTRY_DNS_SERVERS');
  if (env.ATTESTRY_SMTP_URL !== undefined) cfg.mail = { ...cfg.mail, smtpUrl: parseMail({ smtpUrl: env.ATTESTRY_SMTP_URL }, 'ATTESTRY_SMTP_URL').smtpUrl };
  cfg.dataDir = path.resolve(cfg.dataDir);
  return cfg;
}
