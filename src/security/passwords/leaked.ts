// Known-leaked passwords (AUTHN-2.4) by k-anonymity: only the first 5 hex characters of the
// password's SHA-1 leave the process; the source answers with every leaked suffix in that range
// ("SUFFIX:COUNT" lines, the HIBP range format) and the match happens here. Sources: an HTTP range
// service configured by URL, or a directory of range files for air-gapped installs.
import { createHash, timingSafeEqual } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AttestryError, invalid } from '../../core/errors.ts';

export interface RangeSource {
  readonly name: string;
  range(prefix5: string): Promise<string>;
}

export interface LeakedCheckResult {
  leaked: boolean;
  count: number;
}

/** A real range is ~40 KB (~1,000 lines with padding); anything far larger is not a range. */
const MAX_RANGE_BYTES = 4 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 5000;
const PREFIX = /^[0-9A-F]{5}$/;
const LINE = /^([0-9A-Fa-f]{35}):([0-9]{1,15})$/;

const unavailable = (code: string, message: string): AttestryError => new AttestryError('unavailable', code, message);

/** Upper-case SHA-1 hex of the password's UTF-8 bytes (as typed: the leaked corpora are not normalised). */
export function sha1Range(password: string): { prefix: string; suffix: string } {
  if (typeof password !== 'string') throw invalid('LEAKED_PASSWORD_INVALID', 'A password must be a string');
  const hex = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase();
  return { prefix: hex.slice(0, 5), suffix: hex.slice(5) };
}

function checkPrefix(prefix: string): void {
  // Both sources put the prefix into a URL or a file path: nothing else may get there.
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) throw invalid('LEAKED_RANGE_PREFIX_INVALID', 'A range prefix is 5 upper-case hex characters');
}

async function readCapped(body: ReadableStream<Uint8Array> | null): Promise<Buffer> {
  if (body === null) return Buffer.alloc(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_RANGE_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw unavailable('LEAKED_SOURCE_TOO_LARGE', 'The leaked-password range is larger than any real range');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function decode(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw unavailable('LEAKED_SOURCE_MALFORMED', 'The leaked-password range is not text');
  }
}

/** GET <baseUrl>/<prefix> with `Add-Padding: true`, so response sizes do not hint at the prefix. */
export function httpRangeSource(baseUrl: string, options: { fetchImpl?: typeof fetch; timeoutMs?: number } = {}): RangeSource {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw invalid('LEAKED_SOURCE_URL_INVALID', 'The leaked-password range URL is not a URL');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw invalid('LEAKED_SOURCE_URL_INVALID', 'The leaked-password range URL must be http(s) without credentials, query or fragment');
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw invalid('LEAKED_SOURCE_TIMEOUT_INVALID', 'The range timeout must be a positive integer (ms)');
  const fetchImpl = options.fetchImpl ?? fetch;
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  return {
    name: base,
    async range(prefix: string): Promise<string> {
      checkPrefix(prefix);
      const signal = AbortSignal.timeout(timeoutMs);
      let response: Response;
      try {
        response = await fetchImpl(`${base}/${prefix}`, { headers: { 'add-padding': 'true', accept: 'text/plain' }, signal });
      } catch {
        throw unavailable(signal.aborted ? 'LEAKED_SOURCE_TIMEOUT' : 'LEAKED_SOURCE_UNREACHABLE', 'The leaked-password range service did not answer');
      }
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => undefined);
        throw unavailable('LEAKED_SOURCE_STATUS', `The leaked-password range service answered ${response.status}`);
      }
      let bytes: Buffer;
      try {
        bytes = await readCapped(response.body);
      } catch (e) {
        if (e instanceof AttestryError) throw e;
        throw unavailable(signal.aborted ? 'LEAKED_SOURCE_TIMEOUT' : 'LEAKED_SOURCE_UNREACHABLE', 'The leaked-password range service did not finish its answer');
      }
      return decode(bytes);
    },
  };
}

/** ENOTDIR: the configured "directory" is a file; reported below as a missing directory. */
const isMissing = (e: unknown): boolean => ['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException | null)?.code ?? '');

/** <dir>/<PREFIX>.txt, else <dir>/<PREFIX> (the layouts range downloaders write); neither = empty range. */
export function directoryRangeSource(dir: string): RangeSource {
  if (typeof dir !== 'string' || dir === '') throw invalid('LEAKED_SOURCE_DIRECTORY_INVALID', 'The leaked-password range directory is not set');
  return {
    name: `directory:${dir}`,
    async range(prefix: string): Promise<string> {
      checkPrefix(prefix);
      for (const file of [`${prefix}.txt`, prefix]) {
        let handle: FileHandle;
        try {
          handle = await open(join(dir, file), 'r');
        } catch (e) {
          if (isMissing(e)) continue;
          throw unavailable('LEAKED_SOURCE_UNREADABLE', 'A leaked-password range file cannot be read');
        }
        try {
          const info = await handle.stat();
          if (!info.isFile()) throw unavailable('LEAKED_SOURCE_UNREADABLE', 'A leaked-password range file is not a file');
          if (info.size > MAX_RANGE_BYTES) throw unavailable('LEAKED_SOURCE_TOO_LARGE', 'A leaked-password range file is larger than any real range');
          return decode(await handle.readFile());
        } catch (e) {
          if (e instanceof AttestryError) throw e;
          throw unavailable('LEAKED_SOURCE_UNREADABLE', 'A leaked-password range file cannot be read');
        } finally {
          await handle.close();
        }
      }
      // No file is an empty range only if the directory itself is there: a missing or mistyped
      // directory must not quietly declare every password clean.
      const info = await stat(dir).catch(() => null);
      if (info === null || !info.isDirectory()) throw unavailable('LEAKED_SOURCE_MISSING', 'The leaked-password range directory does not exist');
      return '';
    },
  };
}

/**
 * The count for `suffix` in a range body. Every line is parsed before anything is concluded: a body
 * that is not a range (an HTML error page answered with 200, a truncated file) is an error, never
 * "not leaked". Padding lines (count 0) count as absent.
 */
export function countInRange(body: string, suffix: string): number {
  if (typeof body !== 'string') throw unavailable('LEAKED_SOURCE_MALFORMED', 'The leaked-password range is not text');
  const wanted = Buffer.from(suffix, 'ascii');
  let count = 0;
  for (const raw of body.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = LINE.exec(line);
    if (!m) throw unavailable('LEAKED_SOURCE_MALFORMED', 'The leaked-password range has a line that is not SUFFIX:COUNT');
    const equal = timingSafeEqual(Buffer.from((m[1] as string).toUpperCase(), 'ascii'), wanted);
    if (equal) count = Math.max(count, Number(m[2]));
  }
  return count;
}

export class LeakedPasswordChecker {
  readonly #source: RangeSource | null;
  readonly #minCount: number;

  /** `minCount`: how many sightings make a password leaked (default 1). A null source checks nothing. */
  constructor(source: RangeSource | null, options: { minCount?: number } = {}) {
    const minCount = options.minCount ?? 1;
    if (!Number.isSafeInteger(minCount) || minCount < 1) throw invalid('LEAKED_MIN_COUNT_INVALID', 'minCount must be a positive integer');
    this.#source = source;
    this.#minCount = minCount;
  }

  get sourceName(): string | null {
    return this.#source?.name ?? null;
  }

  /** 'unavailable' when the source fails or answers nonsense: the caller decides whether to fail open. */
  async check(password: string): Promise<LeakedCheckResult | 'unavailable'> {
    const { prefix, suffix } = sha1Range(password);
    if (this.#source === null) return { leaked: false, count: 0 };
    try {
      const count = countInRange(await this.#source.range(prefix), suffix);
      return { leaked: count >= this.#minCount, count };
    } catch {
      return 'unavailable';
    }
  }
}
