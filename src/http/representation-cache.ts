// Serving cache for documents whose bytes and ETag were fixed at write time. Entries are keyed
// by (document, ETag), so a cached entry can never be stale: the caller looks up the current
// ETag first (one indexed read) and only uses bytes cached under exactly that ETag. Compressed
// forms are produced once per ETag per process and reused, so a gzip or brotli response costs
// the same as a plain one.
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/** Below this size compression costs more than it saves. */
const MIN_COMPRESS_BYTES = 1024;

export type Encoding = 'br' | 'gzip' | 'identity';

export interface Representation {
  etag: string;
  lastModified: string;
  identity: Buffer;
  /** Anything the caller needs to decide whether it may serve this (e.g. access rules). */
  meta: unknown;
  gzip?: Buffer;
  br?: Buffer;
  pending?: Promise<void>;
}

export function chooseEncoding(acceptEncoding: string | undefined): Encoding {
  if (!acceptEncoding) return 'identity';
  const a = acceptEncoding.toLowerCase();
  if (a.includes('br')) return 'br';
  if (a.includes('gzip')) return 'gzip';
  return 'identity';
}

export class RepresentationCache {
  private readonly entries = new Map<string, Representation>();
  private bytes = 0;
  private readonly maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get(key: string, etag: string): Representation | undefined {
    const e = this.entries.get(key);
    if (!e || e.etag !== etag) return undefined;
    // Refresh recency (Map preserves insertion order: oldest first).
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  put(key: string, rep: Representation): Representation {
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= size(old);
      this.entries.delete(key);
    }
    this.entries.set(key, rep);
    this.bytes += size(rep);
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes || k === key) break;
      this.entries.delete(k);
      this.bytes -= size(v);
    }
    return rep;
  }

  /** The body in the requested encoding when it needs no compressing now; else undefined. */
  encodedIfReady(rep: Representation, enc: Encoding): { body: Buffer; encoding: Encoding } | undefined {
    if (enc === 'identity' || rep.identity.length < MIN_COMPRESS_BYTES) return { body: rep.identity, encoding: 'identity' };
    const body = enc === 'br' ? rep.br : rep.gzip;
    return body ? { body, encoding: enc } : undefined;
  }

  /** The body in the requested encoding, compressing at most once per representation. */
  async encoded(key: string, rep: Representation, enc: Encoding): Promise<{ body: Buffer; encoding: Encoding }> {
    if (enc === 'identity' || rep.identity.length < MIN_COMPRESS_BYTES) return { body: rep.identity, encoding: 'identity' };
    if (!rep.gzip || !rep.br) {
      rep.pending ??= (async () => {
        const [gz, br] = await Promise.all([
          gzipAsync(rep.identity, { level: 6 }),
          brotliAsync(rep.identity, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: rep.identity.length } }),
        ]);
        const before = size(rep);
        rep.gzip = gz;
        rep.br = br;
        if (this.entries.get(key) === rep) this.bytes += size(rep) - before;
      })();
      await rep.pending;
    }
    const body = enc === 'br' ? rep.br : rep.gzip;
    return body ? { body, encoding: enc } : { body: rep.identity, encoding: 'identity' };
  }
}

function size(r: Representation): number {
  return r.identity.length + (r.gzip?.length ?? 0) + (r.br?.length ?? 0);
}
