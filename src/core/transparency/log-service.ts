// Reading the transparency log: checkpoints, C2SP tlog-tiles hash tiles and entry bundles,
// inclusion and consistency proofs, lookup of a version's entry, and the changes feed for mirrors.
// Everything is computed from the stored hashes and entries; full tiles never change, so they are
// kept in a bounded in-memory LRU.
import { AttestryError, invalid, notFound, isAttestryError } from '../errors.ts';
import type { Principal } from '../../security/authz/principal.ts';
import type { LogCheckpointRecord, MetadataStore } from '../../storage/metadata/store.ts';
import type { Ecosystem } from '../packages/ecosystem.ts';
import type { PackageService } from '../packages/package-service.ts';
import { consistencyProofFromReader, inclusionProofFromReader } from '../../security/transparency/merkle.ts';
import { encodeEntryBundle, readTileData, TILE_HEIGHT, TILE_WIDTH, type EntryBundle, type HashTile } from '../../security/transparency/tiles.ts';
import { decodeEntry, type LogEntry } from './entry.ts';
import { storeHashReader } from './checkpoints.ts';
import type { LogKey } from './log-key.ts';

export const MAX_CHANGES_LIMIT = 1000;
export const DEFAULT_CHANGES_LIMIT = 100;
/** Full tiles kept in memory: a hash tile is 8 KiB, an entry bundle up to 256 entries. */
const DEFAULT_CACHE_BYTES = 16 * 1024 * 1024;

const badRange = (message: string, detail?: Record<string, unknown>): AttestryError => invalid('TLOG_BAD_RANGE', message, detail);
const notInLog = (): AttestryError => notFound('TLOG_NOT_FOUND', 'No such entry in the transparency log (or you do not have access to the package)');

/** A byte-bounded LRU (Map iteration order is insertion order; a hit re-inserts). */
class TileCache {
  readonly #entries = new Map<string, Buffer>();
  #bytes = 0;
  readonly maxBytes: number;
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }
  get(key: string): Buffer | undefined {
    const v = this.#entries.get(key);
    if (v) {
      this.#entries.delete(key);
      this.#entries.set(key, v);
    }
    return v;
  }
  set(key: string, value: Buffer): void {
    if (value.length > this.maxBytes || this.#entries.has(key)) return;
    this.#entries.set(key, value);
    this.#bytes += value.length;
    for (const [k, v] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(k);
      this.#bytes -= v.length;
    }
  }
}

export interface LogServiceDeps {
  store: MetadataStore;
  packages: PackageService;
  ecosystems: readonly Ecosystem[];
  key: LogKey;
  cacheBytes?: number;
}

export interface TileAnswer {
  data: Buffer;
  /** Full tiles never change (cache them forever); partial ones grow into full ones. */
  full: boolean;
}

export interface ChangesPage {
  results: Array<{ index: number; entry: LogEntry }>;
  next: number;
  size: number;
}

/** A non-negative safe integer from a query or path parameter, or TLOG_BAD_RANGE. */
export function parseCount(text: string | null, what: string): number {
  if (text === null || !/^(0|[1-9][0-9]{0,15})$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw badRange(`${what} must be a non-negative integer`, { [what]: text?.slice(0, 40) ?? null });
  }
  return Number(text);
}

export class LogService {
  readonly #cache: TileCache;
  private readonly d: LogServiceDeps;
  constructor(d: LogServiceDeps) {
    this.d = d;
    this.#cache = new TileCache(d.cacheBytes ?? DEFAULT_CACHE_BYTES);
  }

  get verifierKey(): string {
    return this.d.key.verifierKey;
  }

  size(): Promise<number> {
    return this.d.store.logSize();
  }

  async checkpoint(): Promise<LogCheckpointRecord> {
    const c = await this.d.store.latestLogCheckpoint();
    // Start-up signs one before serving, so this is only a store that lost its checkpoints.
    if (!c) throw new AttestryError('unavailable', 'TLOG_NO_CHECKPOINT', 'The transparency log has no checkpoint yet; retry shortly');
    return c;
  }

  async hashTile(tile: HashTile): Promise<TileAnswer> {
    const full = tile.width === TILE_WIDTH;
    const key = `h/${tile.level}/${tile.index}`;
    const cached = full ? this.#cache.get(key) : undefined;
    if (cached) return { data: cached, full };
    // Complete subtrees at tree level 8·L in the current tree; the tile needs index·256 + width of them.
    const available = Math.floor((await this.size()) / 2 ** (TILE_HEIGHT * tile.level));
    if (tile.index * TILE_WIDTH + tile.width > available) throw notFound('TLOG_TILE_NOT_FOUND', 'That tile is beyond the current tree');
    const data = await readTileData(tile, storeHashReader(this.d.store));
    if (full) this.#cache.set(key, data);
    return { data, full };
  }

  async entryBundle(bundle: EntryBundle): Promise<TileAnswer> {
    const full = bundle.width === TILE_WIDTH;
    const key = `e/${bundle.index}`;
    const cached = full ? this.#cache.get(key) : undefined;
    if (cached) return { data: cached, full };
    const from = bundle.index * TILE_WIDTH;
    if (from + bundle.width > (await this.size())) throw notFound('TLOG_TILE_NOT_FOUND', 'That entry bundle is beyond the current tree');
    const entries = await this.d.store.readLogEntries(from, bundle.width);
    if (entries.length !== bundle.width) throw new Error(`transparency log: expected ${bundle.width} entries from ${from}, read ${entries.length}`);
    const data = encodeEntryBundle(entries.map((e) => e.entry));
    if (full) this.#cache.set(key, data);
    return { data, full };
  }

  async inclusionProof(index: number, size: number): Promise<{ index: number; size: number; leafHash: Uint8Array; proof: Uint8Array[] }> {
    const current = await this.size();
    if (index >= size || size > current) throw badRange('need index < size ≤ the log size', { index, size, logSize: current });
    const [entry] = await this.d.store.readLogEntries(index, 1);
    if (!entry) throw new Error(`transparency log: entry ${index} missing below size ${current}`);
    const proof = await inclusionProofFromReader(index, size, storeHashReader(this.d.store));
    return { index, size, leafHash: entry.leafHash, proof };
  }

  async consistencyProof(from: number, to: number): Promise<{ from: number; to: number; proof: Uint8Array[] }> {
    const current = await this.size();
    if (from > to || to > current) throw badRange('need from ≤ to ≤ the log size', { from, to, logSize: current });
    return { from, to, proof: await consistencyProofFromReader(from, to, storeHashReader(this.d.store)) };
  }

  /**
   * The index and bytes of a version's `release.published` entry. Reading the package is
   * authorized like any package read: a restricted package the caller may not read answers
   * exactly like one that does not exist.
   */
  async lookup(principal: Principal, ecosystem: string, name: string, version: string): Promise<{ index: number; entry: Uint8Array }> {
    const eco = this.d.ecosystems.find((e) => e.id === ecosystem);
    if (!eco) throw notInLog();
    let pkgId: number;
    try {
      pkgId = (await this.d.packages.snapshot(principal, eco, name)).pkg.id;
    } catch (e) {
      if (isAttestryError(e) && (e.kind === 'not_found' || e.kind === 'forbidden' || e.kind === 'unauthenticated')) throw notInLog();
      throw e;
    }
    const release = await this.d.store.findRelease(pkgId, version);
    if (!release || release.logIndex === null || release.logIndex === undefined) throw notInLog();
    const [entry] = await this.d.store.readLogEntries(release.logIndex, 1);
    if (!entry) throw notInLog();
    return { index: entry.index, entry: entry.entry };
  }

  async changes(since: number, limit: number): Promise<ChangesPage> {
    if (limit < 1 || limit > MAX_CHANGES_LIMIT) throw badRange(`limit must be 1..${MAX_CHANGES_LIMIT}`, { limit });
    const size = await this.size();
    // Asking beyond the end means the caller saw a longer log than this one: say so, do not answer "nothing new".
    if (since > size) throw badRange('since is beyond the log size', { since, logSize: size });
    const entries = await this.d.store.readLogEntries(since, Math.min(limit, size - since));
    return { results: entries.map((e) => ({ index: e.index, entry: decodeEntry(e.entry) })), next: since + entries.length, size };
  }
}
