// Inspects an uploaded npm tarball (gzip + tar) without unpacking it: lists its entries, returns
// the few files the caller asks for, and refuses anything unsafe or oversized. The tarball is
// inflated as a stream and parsed as it inflates, so a gzip bomb costs at most the uncompressed
// limit in CPU and a few chunks of memory. Rules and error codes: docs/tarball-validation.md.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { invalid, isAttestryError, tooLarge } from '../../core/errors.ts';
import { TarParser } from './tar-stream.ts';
import { showPath } from './tar-paths.ts';

export interface ArchiveLimits {
  /** Size of the gzip file itself. Default 64 MiB. */
  maxCompressedBytes: number;
  /** Bytes of tar stream after inflating, headers and padding included. Default 256 MiB. */
  maxUncompressedBytes: number;
  /** Entries, counting PAX global headers but not the headers that describe the next entry. Default 20 000. */
  maxEntries: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = Object.freeze({
  maxCompressedBytes: 64 * 1024 * 1024,
  maxUncompressedBytes: 256 * 1024 * 1024,
  maxEntries: 20_000,
});

const DEFAULT_MAX_EXTRACT_BYTES = 1024 * 1024;

export interface ArchiveEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink';
  /** Data size for files; 0 for every other type. */
  size: number;
  mode: number;
  /** Symlinks: the target as stored (relative to the link). Hardlinks: the normalised archive path. */
  linkTarget?: string;
}

export interface InspectOptions {
  limits?: Partial<ArchiveLimits>;
  /** Paths (exact, e.g. 'package/package.json') whose contents the caller wants back. */
  extract?: readonly string[];
  /** Cap on each extracted file; default 1 MiB. */
  maxExtractBytes?: number;
}

export interface InspectedArchive {
  /** In archive order, paths normalised (no leading './', no trailing '/'). */
  entries: ArchiveEntry[];
  /** Contents of the requested `extract` paths that exist as regular files (the last one wins). */
  files: Map<string, Buffer>;
  /** Regular files. */
  fileCount: number;
  /** Sum of regular file sizes (npm's dist.unpackedSize). */
  unpackedSize: number;
}

// Node hands each output chunk of zlib across the thread pool; 16 KiB chunks make inflating
// 256 MiB take seconds, 256 KiB chunks a few hundred milliseconds, for the same peak memory.
const INFLATE_CHUNK_BYTES = Number(process.env.ICB ?? 256 * 1024);

/** Input is fed to zlib in slices so that inflating can be abandoned between them. */
const FEED_BYTES = 64 * 1024;

function limit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  return value;
}

function* slices(data: Buffer): Generator<Buffer> {
  for (let i = 0; i < data.length; i += FEED_BYTES) yield data.subarray(i, i + FEED_BYTES);
}

const isZlibError = (e: unknown): e is Error & { code: string } =>
  e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && /^Z_/.test((e as { code: string }).code);

export async function inspectTarGz(data: Buffer, options: InspectOptions = {}): Promise<InspectedArchive> {
  const limits: ArchiveLimits = {
    maxCompressedBytes: limit('maxCompressedBytes', options.limits?.maxCompressedBytes, DEFAULT_ARCHIVE_LIMITS.maxCompressedBytes),
    maxUncompressedBytes: limit('maxUncompressedBytes', options.limits?.maxUncompressedBytes, DEFAULT_ARCHIVE_LIMITS.maxUncompressedBytes),
    maxEntries: limit('maxEntries', options.limits?.maxEntries, DEFAULT_ARCHIVE_LIMITS.maxEntries),
  };
  const maxExtractBytes = limit('maxExtractBytes', options.maxExtractBytes, DEFAULT_MAX_EXTRACT_BYTES);

  if (data.length > limits.maxCompressedBytes) {
    throw tooLarge('ARCHIVE_COMPRESSED_TOO_LARGE', `tarball is ${data.length} bytes; at most ${limits.maxCompressedBytes} are accepted`, {
      size: data.length,
      limit: limits.maxCompressedBytes,
    });
  }
  if (data.length < 2 || data[0] !== 0x1f || data[1] !== 0x8b) {
    throw invalid('ARCHIVE_NOT_GZIP', 'tarball is not gzip-compressed (it does not start with the gzip magic bytes 1f 8b)');
  }

  const parser = new TarParser({
    maxEntries: limits.maxEntries,
    maxUncompressedBytes: limits.maxUncompressedBytes,
    extract: new Set(options.extract ?? []),
    maxExtractBytes,
  });
  let inflated = 0;
  try {
    // pipeline() applies backpressure from the parser back to zlib, and destroys the gunzip
    // stream (stopping inflation mid-input) as soon as the parser throws.
    await pipeline(Readable.from(slices(data)), createGunzip({ chunkSize: INFLATE_CHUNK_BYTES }), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        inflated += chunk.length;
        if (inflated > limits.maxUncompressedBytes) {
          const where = parser.current === '' ? '' : ` (while reading ${showPath(parser.current)})`;
          throw tooLarge('ARCHIVE_UNCOMPRESSED_TOO_LARGE', `tarball inflates to more than ${limits.maxUncompressedBytes} bytes${where}`, {
            limit: limits.maxUncompressedBytes,
            ...(parser.current === '' ? {} : { path: parser.current.slice(0, 200) }),
          });
        }
        parser.push(chunk);
      }
    });
  } catch (e) {
    if (isAttestryError(e)) throw e;
    if (isZlibError(e)) throw invalid('ARCHIVE_CORRUPT', `tarball is not a valid gzip stream: ${e.message}`, { zlib: e.code });
    throw e;
  }
  return parser.finish();
}
