// A minimal ustar writer plus gzip (node:zlib): enough to build npm tarballs whose bytes depend
// only on their contents, so a seeded corpus is byte-for-byte reproducible.
import { gzipSync } from 'node:zlib';

export interface TarEntry {
  /** Path inside the archive, e.g. `package/package.json` (at most 100 bytes: no prefix field). */
  path: string;
  data: Buffer | string;
  mode?: number;
}

/** npm's own fixed mtime for packed files (1985-10-26T08:15:00Z), so archives are reproducible. */
const FIXED_MTIME = 499162500;
const BLOCK = 512;

function octal(value: number, width: number): string {
  // width includes the terminating NUL.
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(path: string, size: number, mode: number): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  const name = Buffer.from(path, 'utf8');
  if (name.length > 100) throw new Error(`tar path too long for this writer: ${path}`);
  name.copy(h, 0);
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(FIXED_MTIME, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum placeholder: eight spaces
  h.write('0', 156, 'ascii'); // typeflag: regular file
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** An uncompressed ustar archive of the entries, in order. */
export function tar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : e.data;
    parts.push(header(e.path, data.length, e.mode ?? 0o644), data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}

/** A gzip-compressed ustar archive (`.tgz`). */
export function tgz(entries: TarEntry[]): Buffer {
  return gzipSync(tar(entries), { level: 9 });
}
