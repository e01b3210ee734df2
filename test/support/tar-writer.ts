// A small tar writer for tests: builds npm-style tarballs (ustar headers, PAX headers for long or
// non-ASCII names) in memory, plus the odd malformed one. Not for production use: it trusts its input.
import { gzipSync } from 'node:zlib';

export interface TarEntrySpec {
  path: string;
  content?: string | Buffer;
  /** Default 'file'. */
  type?: 'file' | 'directory' | 'symlink' | 'hardlink' | 'fifo';
  linkTarget?: string;
  /** Extra PAX records written in an `x` header before the entry (they override what the writer computes). */
  pax?: Record<string, string>;
  /** Raw typeflag, overriding `type` (e.g. '3' for a character device). */
  typeflag?: string;
  /** Default 0o644 for files, 0o755 otherwise. */
  mode?: number;
}

export interface TarOptions {
  /** Use GNU `L`/`K` headers instead of PAX for names and link targets over 100 bytes. */
  gnuLongName?: boolean;
  /** Write the two zero blocks that end the archive. Default true. */
  endOfArchive?: boolean;
}

export interface HeaderFields {
  name: string;
  typeflag: string;
  size?: number;
  mode?: number;
  linkname?: string;
  /** POSIX ustar prefix (up to 155 bytes), joined to `name` with a '/'. */
  prefix?: string;
  /** Encode the size in GNU base-256 even when it would fit in octal. */
  base256Size?: boolean;
}

const BLOCK = 512;
const TYPEFLAGS = { file: '0', directory: '5', symlink: '2', hardlink: '1', fifo: '6' } as const;

function writeString(block: Buffer, offset: number, length: number, value: string): void {
  // Buffer#write never writes a partial UTF-8 character, so truncation stays valid UTF-8.
  block.write(value, offset, length, 'utf8');
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'latin1');
}

function writeBase256(block: Buffer, offset: number, length: number, value: number): void {
  block[offset] = 0x80;
  let rest = value;
  for (let i = offset + length - 1; i > offset; i--) {
    block[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
}

/** Recomputes and stores the header checksum; use after editing a header in place. */
export function setChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i] ?? 0;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
}

/** One 512-byte ustar header block. */
export function tarHeader(fields: HeaderFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  const size = fields.size ?? 0;
  writeString(block, 0, 100, fields.name);
  writeOctal(block, 100, 8, fields.mode ?? 0o644);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  if (fields.base256Size === true || size > 0o77777777777) writeBase256(block, 124, 12, size);
  else writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, 1_700_000_000);
  block.write(fields.typeflag, 156, 1, 'latin1');
  writeString(block, 157, 100, fields.linkname ?? '');
  block.write('ustar\u000000', 257, 8, 'latin1');
  writeString(block, 265, 32, 'attestry');
  writeString(block, 297, 32, 'attestry');
  writeString(block, 345, 155, fields.prefix ?? '');
  setChecksum(block);
  return block;
}

/** Data followed by zero padding to the next block boundary. */
export function padded(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

/** One `<length> <key>=<value>\n` record; the length counts its own digits. */
export function paxRecord(key: string, value: string): string {
  const bodyLength = Buffer.byteLength(` ${key}=${value}\n`);
  let length = bodyLength + 1;
  while (String(length).length + bodyLength !== length) length = String(length).length + bodyLength;
  return `${length} ${key}=${value}\n`;
}

/** A PAX `x` (per-entry) or `g` (global) header with its data. */
export function paxHeader(records: Record<string, string>, typeflag: 'x' | 'g' = 'x', name = 'PaxHeader'): Buffer {
  const data = Buffer.from(Object.entries(records).map(([k, v]) => paxRecord(k, v)).join(''));
  return Buffer.concat([tarHeader({ name, typeflag, size: data.length }), padded(data)]);
}

function gnuLong(typeflag: 'L' | 'K', value: string): Buffer {
  const data = Buffer.from(`${value}\0`);
  return Buffer.concat([tarHeader({ name: '././@LongLink', typeflag, size: data.length }), padded(data)]);
}

const needsExtension = (value: string): boolean => Buffer.byteLength(value) > 100 || /[^\x20-\x7e]/.test(value);

/** An uncompressed tar archive. */
export function makeTar(entries: readonly TarEntrySpec[], opts: TarOptions = {}): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const typeflag = entry.typeflag ?? TYPEFLAGS[type];
    const data = entry.content === undefined ? Buffer.alloc(0) : Buffer.from(entry.content);
    const link = entry.linkTarget ?? '';
    const pax: Record<string, string> = {};
    if (needsExtension(entry.path)) {
      if (opts.gnuLongName === true) parts.push(gnuLong('L', entry.path));
      else pax.path = entry.path;
    }
    if (needsExtension(link)) {
      if (opts.gnuLongName === true) parts.push(gnuLong('K', link));
      else pax.linkpath = link;
    }
    Object.assign(pax, entry.pax);
    if (Object.keys(pax).length > 0) parts.push(paxHeader(pax, 'x', `PaxHeader/${entry.path.split('/').pop()?.slice(0, 80) ?? ''}`));
    parts.push(
      tarHeader({
        name: entry.path,
        typeflag,
        size: data.length,
        mode: entry.mode ?? (type === 'file' ? 0o644 : 0o755),
        linkname: link,
      }),
      padded(data),
    );
  }
  if (opts.endOfArchive !== false) parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

/** A gzip-compressed tar archive, as `npm pack` would produce. */
export function makeTarGz(entries: readonly TarEntrySpec[], opts: TarOptions = {}): Buffer {
  return gzipSync(makeTar(entries, opts));
}

/**
 * A gzip file that inflates to `prefix` (raw tar bytes) followed by `zeroBytes` zeros: one gzip
 * member for the prefix, then the same small member of 1 MiB of zeros repeated (gunzip reads
 * concatenated members as one stream). The inflated data never exists in memory, so a test can
 * build a gzip bomb of any size for the price of 1 MiB.
 */
export function gzipWithZeros(prefix: Buffer, zeroBytes: number): Buffer {
  const MiB = 1024 * 1024;
  const full = gzipSync(Buffer.alloc(MiB), { level: 9 });
  const members = [gzipSync(prefix)];
  for (let left = zeroBytes; left > 0; left -= MiB) members.push(left >= MiB ? full : gzipSync(Buffer.alloc(left), { level: 9 }));
  return Buffer.concat(members);
}
