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

/** A NUL-terminated field, decoded the way node-tar does (UTF-8 up to the first NUL). */
export function cString(buf: Buffer, start: number, length: number): string {
  const end = start + length;
  let stop = start;
  while (stop < end && buf[stop] !== 0) stop++;
  return buf.toString('utf8', start, stop);
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
  const text = cString(block, start, length).replace(/^ +| +$/g, '');
  if (!/^[0-7]+$/.test(text)) throw corrupt(`tar header of ${showPath(entry)} has an invalid ${field} field`);
  const value = parseInt(text, 8);
  if (!Number.isSafeInteger(value)) throw corrupt(`tar header of ${showPath(entry)} has an out-of-range ${field}`);
  return value;
}

/** Parses a non-zero header block; throws ARCHIVE_CORRUPT on a bad checksum or malformed field. */
export function parseHeader(block: Buffer, offset: number): TarHeader {
  let name = cString(block, 0, 100);
  // POSIX ustar only; GNU's `ustar  \0` reuses the prefix area for other fields.
  if (block.toString('latin1', 257, 265) === 'ustar\u000000') {
    const prefix = cString(block, 345, 155);
    if (prefix !== '') name = `${prefix}/${name}`;
  }

  // The checksum is computed with its own field counted as spaces. Only the unsigned sum is
  // accepted (node-tar ignores the historic signed variant, and skips such headers).
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += block[i] ?? 0;
  for (let i = 156; i < BLOCK_SIZE; i++) sum += block[i] ?? 0;
  const stored = numeric(block, 148, 8, 'checksum', name);
  if (stored !== sum) throw corrupt(`tar header checksum mismatch for ${showPath(name)} at byte ${offset}`, { path: showPath(name), offset });

  const flag = block[156] ?? 0;
  return {
    name,
    mode: numeric(block, 100, 8, 'mode', name) & 0o7777,
    size: numeric(block, 124, 12, 'size', name),
    typeflag: flag === 0 ? '0' : String.fromCharCode(flag),
    linkname: cString(block, 157, 100),
  };
}

/** PAX keys that change where an entry lands or how much data belongs to it. */
export const STRUCTURAL_KEYS: ReadonlySet<string> = new Set(['path', 'linkpath', 'size', 'type']);

/**
 * Parses PAX `<length> <key>=<value>\n` records. A record whose length is wrong, or whose value
 * contains a newline or NUL, is refused rather than skipped: node-tar splits on newlines and
 * truncates at NUL, so accepting either would let the two readers disagree about a path.
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
