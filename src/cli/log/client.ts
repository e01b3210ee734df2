// A client for a registry's transparency log (the HTTP contract in docs/transparency.md): the
// checkpoint and key, hash tiles, entry bundles and the lookup by name@version. It trusts nothing
// it fetches: callers check every root and proof they compute from tiles against a checkpoint
// signed by the pinned key. Full tiles are immutable, so they are cached on disk when a cache
// directory is given; partial tiles and checkpoints are always fetched.
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AttestryError } from '../../core/errors.ts';
import { decodeEntryBundle, entryBundlePath, hashTilePath, TILE_WIDTH, type EntryBundle, type HashTile } from '../../security/transparency/tiles.ts';
import type { Fetcher } from '../verify-command.ts';

export const LOG_PREFIX = '/-/tlog';

export const logFailure = (code: string, message: string, detail?: Record<string, unknown>): AttestryError =>
  new AttestryError('conflict', code, message, detail);
const unavailable = (code: string, message: string, detail?: Record<string, unknown>): AttestryError =>
  new AttestryError('unavailable', code, message, detail);

/** The origin a registry's log is expected to use: its URL without scheme, plus /-/tlog. */
const FETCH_ATTEMPTS = 3;

export function originFor(registry: string): string {
  const u = new URL(registry);
  return `${u.host}${u.pathname.replace(/\/+$/, '')}${LOG_PREFIX}`;
}

export interface LookupResult {
  index: number;
  entry: Buffer;
}

export class LogClient {
  readonly stats = { tiles: 0, tileCacheHits: 0, bundles: 0 };
  private readonly http: Fetcher;
  private readonly cacheDir: string | undefined;

  constructor(http: Fetcher, cacheDir?: string) {
    this.http = http;
    this.cacheDir = cacheDir;
  }

  private async get(path: string, what: string): Promise<Response> {
    let res: Response | undefined;
    // A dropped connection among the thousands of requests of an audit is retried (reads are
    // idempotent); an answer, whatever its status, is not.
    for (let attempt = 1; res === undefined; attempt++) {
      try {
        res = await this.http.get(`${LOG_PREFIX}${path}`, '*/*');
      } catch (e) {
        if (attempt >= FETCH_ATTEMPTS) throw unavailable('tlog_unreachable', `cannot fetch the log's ${what}: ${(e as Error).message}`);
        await sleep(100 * attempt);
      }
    }
    if (res.status === 401 || res.status === 403) throw unavailable('tlog_unauthorized', `the registry serves its log to logged-in users only (${what} answered ${res.status}); pass --token`);
    return res;
  }

  private async bytes(path: string, what: string): Promise<Buffer> {
    const res = await this.get(path, what);
    if (res.status !== 200) {
      await res.body?.cancel(); // frees the connection
      throw unavailable(res.status === 404 ? 'tlog_not_served' : 'tlog_fetch_failed', `GET ${LOG_PREFIX}${path} answered ${res.status}`, { path, status: res.status });
    }
    return Buffer.from(await res.arrayBuffer());
  }

  async key(): Promise<string> {
    return (await this.bytes('/key', 'key')).toString('utf8').trim();
  }

  async checkpointNote(): Promise<string> {
    return (await this.bytes('/checkpoint', 'checkpoint')).toString('utf8');
  }

  /** A TileFetcher for TileHashReader; full tiles go through the disk cache. */
  readonly fetchTile = async (tile: HashTile): Promise<Uint8Array> => {
    const path = hashTilePath(tile);
    const cached = tile.width === TILE_WIDTH ? this.readCache(path) : undefined;
    if (cached) {
      this.stats.tileCacheHits++;
      return cached;
    }
    const data = await this.bytes(`/${path}`, 'tile');
    this.stats.tiles++;
    if (data.length !== tile.width * 32) throw logFailure('tlog_tile_malformed', `${path} has ${data.length} bytes, not ${tile.width * 32}`, { path });
    if (tile.width === TILE_WIDTH) this.writeCache(path, data);
    return data;
  };

  /** An entry bundle's entries; a bundle with another number of entries than its path says is refused. */
  async entryBundle(bundle: EntryBundle): Promise<Uint8Array[]> {
    const path = entryBundlePath(bundle);
    const data = await this.bytes(`/${path}`, 'entry bundle');
    this.stats.bundles++;
    try {
      return decodeEntryBundle(data, bundle.width);
    } catch (e) {
      throw logFailure('tlog_bundle_malformed', `${path}: ${(e as Error).message}`, { path });
    }
  }

  /** The version's release.published entry, or undefined when the version is not in the log. */
  async lookup(ecosystem: string, name: string, version: string): Promise<LookupResult | undefined> {
    const res = await this.get(`/lookup/${ecosystem}/${encodeURIComponent(`${name}@${version}`)}`, 'lookup');
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw unavailable('tlog_fetch_failed', `the log lookup for ${name}@${version} answered ${res.status}`);
    const body = (await res.json()) as { index?: unknown; entry?: unknown };
    if (!Number.isSafeInteger(body.index) || (body.index as number) < 0 || typeof body.entry !== 'string') {
      throw logFailure('tlog_lookup_malformed', `the log lookup for ${name}@${version} is malformed`);
    }
    return { index: body.index as number, entry: Buffer.from(body.entry, 'base64') };
  }

  private readCache(path: string): Buffer | undefined {
    if (!this.cacheDir) return undefined;
    try {
      const data = readFileSync(join(this.cacheDir, path));
      return data.length === TILE_WIDTH * 32 ? data : undefined;
    } catch {
      return undefined;
    }
  }

  private writeCache(path: string, data: Buffer): void {
    if (!this.cacheDir) return;
    const file = join(this.cacheDir, path);
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  }
}
