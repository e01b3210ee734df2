// Decoding of single tar header blocks and PAX records. Everything here is deliberately stricter
// than the formats allow: anything that another tar reader (npm's node-tar above all) could read
// differently from us is refused, because a registry that inspects one view of a tarball while
// clients install another is exactly what a smuggling attack needs.
import { invalid } from '../../core/errors.ts';
import type { AttestryError } from '../../core/errors.ts';
import { showPath } from './tar-paths.ts';

export const BLOCK_SIZE = 512;

export interface TarHeader {
  /** `prefix/name` for POSIX ustar headers, else `name`; not yet normalised or checked. */
  name: string;
  mode: number;
  size: number;
  typeflag: string;
  /** The raw 100-byte linkname field (a PAX `linkpath` or GNU `K` header may replace it). */
  linkname: string;
}

export const corrupt = (message: string, detail?: Record<string, unknown>): AttestryError =>
  invalid('ARCHIVE_CORRUPT', message, detail);

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK_SIZE; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * A NUL-terminated string field, decoded as UTF-8 like node-tar does. node-tar cuts the field at
 * its first NUL with a regex whose `.` stops at a line break, so it reads `a<NUL><LF>b` as
 * `a<LF>b`; such fields are refused rather than read differently.
 */
export function cString(buf: Buffer, start: number, length: number, what: string): string {
  const end = Math.min(start + length, buf.length);
  let stop = start;
  while (stop < end && buf[stop] !== 0) stop++;
  const value = buf.toString('utf8', start, stop);
  if (stop < end && buf.toString('utf8', start, end).replace(/\0.*/, '') !== value) {
    throw corrupt(`${what} ${showPath(value)} has a line break after its terminating NUL`);
  }
  return value;
}

/**
 * Octal ASCII, or GNU base-256 for values too big for octal. Only forms every common reader
 * agrees on are accepted: node-tar's parseInt would read `12x` as 10, so we refuse it instead.
 */
function numeric(block: Buffer, start: number, length: number, field: string, entry: string): number {
  const first = block[start] ?? 0;
  if (first & 0x80) {
    // 0xff marks a negative number, never valid for the fields we read; other lead bytes with
    // the high bit set are read differently by different tools.
    if (first !== 0x80) throw corrupt(`tar header of ${showPath(entry)} has an invalid binary ${field} field`);
    let value = 0;
    for (let i = start + 1; i < start + length; i++) {
      value = value * 256 + (block[i] ?? 0);
      if (!Number.isSafeInteger(value)) throw corrupt(`tar header of ${showPath(entry)} has an out-of-range ${field}`);
    }
    return value;
  }
  let stop = start;
  while (stop < start + length && block[stop] !== 0) stop++;
  const text = block.toString('latin1', start, stop).replace(/^ +| +$/g, '');
  if (!/^[0-7]+$/.test(text)) throw corrupt(`tar header of ${showPath(entry)} has an invalid ${field} field`);
  const value = parseInt(text, 8);
  if (!Number.isSafeInteger(value)) throw corrupt(`tar header of ${showPath(entry)} has an out-of-range ${field}`);
  return value;
}

/**
 * node-tar reads the checksum from 12 bytes, running into the typeflag and linkname: digits that
 * fill all 8 bytes of the field would be read on into a digit typeflag. Require a terminator.
 */
function checksumField(block: Buffer, entry: string): number {
  let digits = 148;
  while (digits < 156 && block[digits] === 0x20) digits++;
  let end = digits;
  while (end < 156 && (block[end] ?? 0) >= 0x30 && (block[end] ?? 0) <= 0x37) end++;
  if (end === digits || end === 156) throw corrupt(`tar header of ${showPath(entry)} has an invalid checksum field`);
  return numeric(block, 148, 8, 'checksum', entry);
}

/** Parses a non-zero header block; throws ARCHIVE_CORRUPT on a bad checksum or malformed field. */
export function parseHeader(block: Buffer, offset: number): TarHeader {
  // Verified before any field is decoded, so a damaged block is reported as such.
  const nul = block.indexOf(0);
  const label = block.toString('utf8', 0, nul === -1 || nul > 100 ? 100 : nul);
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += block[i] ?? 0;
  for (let i = 156; i < BLOCK_SIZE; i++) sum += block[i] ?? 0;
  // Only the unsigned sum counts: node-tar skips headers with the historic signed variant.
  if (checksumField(block, label) !== sum) {
    throw corrupt(`tar header checksum mismatch for ${showPath(label)} at byte ${offset}`, { path: label.slice(0, 200), offset });
  }

  let name = cString(block, 0, 100, 'entry name');
  // POSIX ustar only; GNU's `ustar  \0` reuses the prefix area for other fields. The prefix is
  // read exactly as node-tar reads it: 155 bytes joined even when empty (making `/name`) if the
  // last one is set, else the 130 bytes star leaves before its timestamps, joined if non-empty.
  if (block.toString('latin1', 257, 265) === 'ustar\u000000') {
    if (block[475] !== 0) {
      name = `${cString(block, 345, 155, 'entry name prefix')}/${name}`;
    } else {
      const prefix = cString(block, 345, 130, 'entry name prefix');
      if (prefix !== '') name = `${prefix}/${name}`;
    }
  }
  const flag = block[156] ?? 0;
  return {
    name,
    mode: numeric(block, 100, 8, 'mode', name) & 0o7777,
    size: numeric(block, 124, 12, 'size', name),
    typeflag: flag === 0 ? '0' : String.fromCharCode(flag),
    linkname: cString(block, 157, 100, 'link target'),
  };
}

/** PAX keys that change where an entry lands or how much data belongs to it. */
export const STRUCTURAL_KEYS: ReadonlySet<string> = new Set(['path', 'linkpath', 'size', 'type']);

/**
 * Parses PAX `<length> <key>=<value>\n` records. A record whose length is wrong or that contains
 * a newline, or a structural value with a NUL, is refused rather than skipped: node-tar splits on
 * newlines and cuts at NUL, so accepting either would let the two readers disagree about a path.
 */
export function parsePaxRecords(body: Buffer, entry: string): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) {
      // Some writers pad the record area with NULs; nothing may follow the padding.
      for (let i = pos; i < body.length; i++) if (body[i] !== 0) throw corrupt(`malformed PAX header before ${showPath(entry)}`);
      break;
    }
    const space = body.indexOf(0x20, pos);
    const lengthText = space === -1 ? '' : body.toString('latin1', pos, space);
    if (!/^[1-9][0-9]{0,7}$/.test(lengthText)) throw corrupt(`malformed PAX record length before ${showPath(entry)}`);
    const end = pos + Number(lengthText);
    if (end > body.length || body[end - 1] !== 0x0a) throw corrupt(`malformed PAX record before ${showPath(entry)}`);
    const record = body.subarray(space + 1, end - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0 || record.includes(0x0a)) throw corrupt(`malformed PAX record before ${showPath(entry)}`);
    const key = record.toString('utf8', 0, eq);
    // Binary xattr values may hold NULs; only the keys that steer parsing must not.
    if (STRUCTURAL_KEYS.has(key) && record.includes(0)) throw corrupt(`PAX ${key} before ${showPath(entry)} contains a NUL byte`);
    records.set(key, record.toString('utf8', eq + 1));
    pos = end;
  }
  return records;
}
