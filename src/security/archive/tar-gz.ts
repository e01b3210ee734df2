// Inspects an uploaded npm tarball (gzip + tar) without unpacking it: lists its entries, returns
// the few files the caller asks for, and refuses anything unsafe or oversized. The tarball is
// inflated as a stream and parsed as it inflates, so a gzip bomb costs at most the uncompressed
// limit in CPU and never holds more than a few inflated chunks. Rules and error codes:
// docs/tarball-validation.md.
import { createGunzip, gunzipSync } from 'node:zlib';
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

// Each zlib output chunk is one trip through the thread pool. At the default 16 KiB, inflating
// the 256 MiB limit takes seconds; at 256 KiB, under half a second. Peak memory is about the same
// either way: every chunk is a fresh buffer, freed when V8 next collects (it lets roughly 64 MiB
// of dead buffers build up first), and never retained by us.
const INFLATE_CHUNK_BYTES = 256 * 1024;

/**
 * Most tarballs are small: inflating them in one synchronous call skips the stream machinery and
 * the thread-pool round trips. The output cap bounds what that call can cost (a few ms); an input
 * that inflates to more is inspected again by the stream, which enforces the real limits.
 */
const SYNC_INFLATE_MAX_INPUT = 1024 * 1024;
const SYNC_INFLATE_MAX_OUTPUT = 8 * 1024 * 1024;

/** Input slice size; zlib takes them one at a time and can be stopped between any two. */
const FEED_BYTES = 64 * 1024;

function limit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  return value;
}

const isZlibError = (e: unknown): e is Error & { code: string } => {
  const code: unknown = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('Z_');
};

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

  const newParser = () => new TarParser({
    maxEntries: limits.maxEntries,
    maxUncompressedBytes: limits.maxUncompressedBytes,
    extract: new Set(options.extract ?? []),
    maxExtractBytes,
  });
  if (data.length <= SYNC_INFLATE_MAX_INPUT) {
    const inflated = inflateSmall(data, Math.min(SYNC_INFLATE_MAX_OUTPUT, limits.maxUncompressedBytes));
    if (inflated) {
      const parser = newParser();
      parser.push(inflated);
      return parser.finish();
    }
  }
  return inspectStreaming(data, limits, newParser());
}

/** The whole inflated tar, or undefined when it would exceed `maxOutput` (the caller streams). */
function inflateSmall(data: Buffer, maxOutput: number): Buffer | undefined {
  try {
    return gunzipSync(data, { maxOutputLength: maxOutput });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') return undefined;
    if (isZlibError(e)) throw invalid('ARCHIVE_CORRUPT', `tarball is not a valid gzip stream: ${e.message}`, { zlib: e.code });
    throw e;
  }
}

function inspectStreaming(data: Buffer, limits: ArchiveLimits, parser: TarParser): Promise<InspectedArchive> {
  return new Promise<InspectedArchive>((resolve, reject) => {
    const gunzip = createGunzip({ chunkSize: INFLATE_CHUNK_BYTES });
    let inflated = 0;
    let settled = false;
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      // Destroying stops zlib between output chunks: nothing more is inflated.
      gunzip.destroy();
      if (isAttestryError(e) || !isZlibError(e)) reject(e);
      else reject(invalid('ARCHIVE_CORRUPT', `tarball is not a valid gzip stream: ${e.message}`, { zlib: e.code }));
    };
    // Parsing synchronously in 'data' means no inflated chunk is ever queued: memory stays at a
    // few chunks whatever the input inflates to.
    gunzip.on('data', (chunk: Buffer) => {
      if (settled) return;
      try {
        inflated += chunk.length;
        if (inflated > limits.maxUncompressedBytes) {
          const where = parser.current === '' ? '' : ` (while reading ${showPath(parser.current)})`;
          throw tooLarge('ARCHIVE_UNCOMPRESSED_TOO_LARGE', `tarball inflates to more than ${limits.maxUncompressedBytes} bytes${where}`, {
            limit: limits.maxUncompressedBytes,
            ...(parser.current === '' ? {} : { path: parser.current.slice(0, 200) }),
          });
        }
        parser.push(chunk);
      } catch (e) {
        fail(e);
      }
    });
    gunzip.on('error', fail);
    gunzip.on('end', () => {
      if (settled) return;
      try {
        const result = parser.finish();
        settled = true;
        resolve(result);
      } catch (e) {
        fail(e);
      }
    });
    // The input is already in memory, so queueing every slice costs no copies.
    for (let i = 0; i < data.length; i += FEED_BYTES) gunzip.write(data.subarray(i, i + FEED_BYTES));
    gunzip.end();
  });
}