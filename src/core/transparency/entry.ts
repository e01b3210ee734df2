// Transparency-log entries, format v1 (docs/transparency.md, "Entry format v1"). An entry is the
// record data a log leaf hashes, so its bytes must be reproducible by anyone: canonical JSON (RFC
// 8785 JCS restricted to strings, safe integers, null, arrays and objects: keys sorted, no
// whitespace, UTF-8). One small constructor per kind validates its fields; `encodeEntry` and
// `decodeEntry` share the same per-kind shape, and decoding refuses anything encoding would not
// produce (unknown version or kind, extra or missing fields, non-canonical bytes).
import { invalid, tooLarge } from '../errors.ts';

export const ENTRY_FORMAT_VERSION = 1;
/** tlog-tiles entry bundles prefix each entry with a uint16 length. */
export const MAX_ENTRY_BYTES = 65_535;

/** Who published: the kind of credential and a public reference to it (never a secret or token id). */
export interface PublisherRef {
  kind: 'user' | 'token' | 'trusted-publisher';
  /** user and token: the user's name; trusted-publisher: `<provider>:<reference>` (e.g. the workflow). */
  ref: string;
}

export interface ArtifactDigests {
  filename: string;
  /** Lowercase hex SHA-512 of the artifact's bytes. */
  sha512: string;
  /** Lowercase hex SHA-1, for ecosystems that serve one (npm's shasum). */
  sha1?: string;
  size: number;
}

interface PackageScoped {
  ecosystem: string;
  name: string;
  /** Milliseconds since the epoch, the registry's clock at commit. */
  at: number;
}

export interface ReleasePublished extends PackageScoped {
  kind: 'release.published';
  version: string;
  artifacts: ArtifactDigests[];
  /** Lowercase hex SHA-256 of the provenance bundle as uploaded, or null when there is none. */
  provenance: string | null;
  publisher: PublisherRef;
}

export interface ReleaseUnpublished extends PackageScoped {
  kind: 'release.unpublished';
  version: string;
}

export interface ReleaseDeprecated extends PackageScoped {
  kind: 'release.deprecated';
  version: string;
  /** The deprecation message; null when a deprecation is lifted. */
  message: string | null;
}

export interface OwnersChanged extends PackageScoped {
  kind: 'owners.changed';
  change: 'owner.added' | 'owner.removed';
  owner: string;
}

export interface TrustedPublisherChanged extends PackageScoped {
  kind: 'trusted-publisher.added' | 'trusted-publisher.removed';
  publisher: { provider: string; ref: string };
}

export interface KeysRotated {
  kind: 'keys.rotated';
  at: number;
  /** Which registry key: the one signing versions, or the log's checkpoint key. */
  purpose: 'signing' | 'log';
  keyId: string;
  previousKeyId: string | null;
}

export type LogEntry = ReleasePublished | ReleaseUnpublished | ReleaseDeprecated | OwnersChanged | TrustedPublisherChanged | KeysRotated;
export type EntryKind = LogEntry['kind'];

// ---- shapes: one per kind, used by both encode and decode ----

type Check = (v: unknown) => boolean;
interface Field {
  check: Check;
  optional?: boolean;
}
type Shape = Record<string, Field>;

const req = (check: Check): Field => ({ check });
const opt = (check: Check): Field => ({ check, optional: true });
const text: Check = (v) => typeof v === 'string' && v.length > 0 && v.length <= 4096;
const textOrNull: Check = (v) => v === null || text(v);
const count: Check = (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const hex = (chars: number): Check => {
  const re = new RegExp(`^[0-9a-f]{${chars}}$`);
  return (v) => typeof v === 'string' && re.test(v);
};
const literal = (...values: string[]): Check => (v) => typeof v === 'string' && values.includes(v);
const object = (shape: Shape): Check => (v) => isObject(v) && fitsShape(v, shape);
const arrayOf = (item: Check, min: number): Check => (v) => Array.isArray(v) && v.length >= min && v.every(item);

const VERSION = req((v) => v === ENTRY_FORMAT_VERSION);
const PACKAGE: Shape = { v: VERSION, ecosystem: req(text), name: req(text), at: req(count) };
const ARTIFACT: Shape = { filename: req(text), sha512: req(hex(128)), sha1: opt(hex(40)), size: req(count) };
const TRUSTED_PUBLISHER = object({ provider: req(text), ref: req(text) });

const SHAPES: Record<EntryKind, Shape> = {
  'release.published': {
    ...PACKAGE, version: req(text), artifacts: req(arrayOf(object(ARTIFACT), 1)), provenance: req((v) => v === null || hex(64)(v)),
    publisher: req(object({ kind: req(literal('user', 'token', 'trusted-publisher')), ref: req(text) })),
  },
  'release.unpublished': { ...PACKAGE, version: req(text) },
  'release.deprecated': { ...PACKAGE, version: req(text), message: req(textOrNull) },
  'owners.changed': { ...PACKAGE, change: req(literal('owner.added', 'owner.removed')), owner: req(text) },
  'trusted-publisher.added': { ...PACKAGE, publisher: req(TRUSTED_PUBLISHER) },
  'trusted-publisher.removed': { ...PACKAGE, publisher: req(TRUSTED_PUBLISHER) },
  'keys.rotated': { v: VERSION, at: req(count), purpose: req(literal('signing', 'log')), keyId: req(text), previousKeyId: req(textOrNull) },
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fitsShape(v: Record<string, unknown>, shape: Shape): boolean {
  for (const key of Object.keys(v)) if (!(key in shape)) return false;
  return Object.entries(shape).every(([key, field]) => (key in v ? field.check(v[key]) : field.optional === true));
}

const isKind = (k: unknown): k is EntryKind => typeof k === 'string' && Object.hasOwn(SHAPES, k);

/** Validates a full wire object ({v, kind, …}); returns the entry without `v`. */
function checkEntry(wire: unknown): LogEntry {
  if (!isObject(wire)) throw invalid('tlog_entry_invalid', 'a log entry is a JSON object');
  if (wire.v !== ENTRY_FORMAT_VERSION) throw invalid('tlog_entry_version_unsupported', 'unsupported log entry format version', { v: wire.v });
  const { kind, ...fields } = wire;
  if (!isKind(kind)) throw invalid('tlog_entry_kind_unknown', 'unknown log entry kind', { kind });
  if (!fitsShape(fields, SHAPES[kind])) throw invalid('tlog_entry_invalid', `the fields of a ${kind} entry are missing, extra or malformed`, { kind });
  const { v: _version, ...entry } = fields;
  return { kind, ...entry } as unknown as LogEntry;
}

// ---- canonical JSON ----

/** RFC 8785 for the values entries use: safe integers only, well-formed strings, sorted keys. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw invalid('tlog_entry_invalid', 'log entries hold safe integers only', { value });
    return JSON.stringify(value);
  }
  if (typeof value === 'string') {
    // A lone surrogate has no UTF-8 encoding: the bytes would not round-trip.
    if (Buffer.from(value, 'utf8').toString('utf8') !== value) throw invalid('tlog_entry_invalid', 'log entry strings must be well-formed Unicode');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    // Keys are compared by UTF-16 code units, as JCS says (entries only use ASCII keys).
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  throw invalid('tlog_entry_invalid', 'a log entry holds JSON values only', { type: typeof value });
}

/** The canonical bytes of an entry; refuses one that does not fit its kind's shape. */
export function encodeEntry(entry: LogEntry): Buffer {
  const wire: Record<string, unknown> = { ...entry, v: ENTRY_FORMAT_VERSION };
  checkEntry(wire);
  const bytes = Buffer.from(canonicalJson(wire), 'utf8');
  if (bytes.length > MAX_ENTRY_BYTES) throw tooLarge('tlog_entry_too_large', 'a log entry is at most 65,535 bytes', { size: bytes.length });
  return bytes;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Parses entry bytes; refuses anything `encodeEntry` would not have produced byte for byte. */
export function decodeEntry(bytes: Uint8Array): LogEntry {
  if (bytes.length > MAX_ENTRY_BYTES) throw tooLarge('tlog_entry_too_large', 'a log entry is at most 65,535 bytes', { size: bytes.length });
  let parsed: unknown;
  try {
    parsed = JSON.parse(UTF8.decode(bytes));
  } catch {
    throw invalid('tlog_entry_invalid', 'a log entry is UTF-8 JSON');
  }
  const entry = checkEntry(parsed);
  if (!encodeEntry(entry).equals(bytes)) throw invalid('tlog_entry_not_canonical', 'the log entry is not in canonical form');
  return entry;
}

// ---- one constructor per kind (the fields, checked when encoded) ----

export const releasePublished = (e: Omit<ReleasePublished, 'kind'>): ReleasePublished => ({ kind: 'release.published', ...e });
export const releaseUnpublished = (e: Omit<ReleaseUnpublished, 'kind'>): ReleaseUnpublished => ({ kind: 'release.unpublished', ...e });
export const releaseDeprecated = (e: Omit<ReleaseDeprecated, 'kind'>): ReleaseDeprecated => ({ kind: 'release.deprecated', ...e });
export const ownersChanged = (e: Omit<OwnersChanged, 'kind'>): OwnersChanged => ({ kind: 'owners.changed', ...e });
export const trustedPublisherChanged = (change: 'added' | 'removed', e: Omit<TrustedPublisherChanged, 'kind'>): TrustedPublisherChanged =>
  ({ kind: change === 'added' ? 'trusted-publisher.added' : 'trusted-publisher.removed', ...e });
export const keysRotated = (e: Omit<KeysRotated, 'kind'>): KeysRotated => ({ kind: 'keys.rotated', ...e });
