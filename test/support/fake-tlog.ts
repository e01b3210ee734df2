// An in-test registry that serves only what the log client reads: a transparency log built with
// the pure modules (tlog-tiles paths, signed checkpoints, lookup) plus the npm document and tarball
// of each published version. Hooks let a test tamper with what is served (entry bundles, tiles,
// checkpoints) to play a dishonest registry. Used by the CLI tests and the audit benchmark.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodeEntry, releasePublished, type LogEntry } from '../../src/core/transparency/entry.ts';
import { InMemoryTree } from '../../src/security/transparency/merkle.ts';
import { signCheckpoint } from '../../src/security/transparency/checkpoint.ts';
import { generateSignerKey, parseSignerKey } from '../../src/security/transparency/signed-note.ts';
import { encodeEntryBundle, parseTilePath, readTileData, TILE_WIDTH } from '../../src/security/transparency/tiles.ts';

export interface Tamper {
  /** Rewrites an entry bundle's entries before it is served. */
  bundle?: (index: number, entries: Uint8Array[]) => Uint8Array[];
  /** Rewrites a hash tile's bytes before it is served. */
  tile?: (level: number, index: number, data: Buffer) => Buffer;
  /** Replaces the checkpoint note served on the n-th request (0-based). */
  checkpoint?: (n: number, note: string) => string;
}

export class FakeLog {
  tree = new InMemoryTree();
  entries: Buffer[] = [];
  readonly tarballs = new Map<string, Buffer>();
  readonly indexOf = new Map<string, number>();
  tamper: Tamper = {};
  checkpointRequests = 0;
  /** Leaves the checkpoint behind at this size (a log that has not signed its newest entries yet). */
  signedSize: number | undefined;
  private server: Server | undefined;
  url = '';
  origin = '';
  signerKey = '';
  verifierKey = '';

  append(entry: LogEntry | Buffer): number {
    const bytes = Buffer.isBuffer(entry) ? entry : encodeEntry(entry);
    this.entries.push(bytes);
    return this.tree.append(bytes);
  }

  /** A published version: its tarball (any bytes) and its release.published entry. */
  publish(name: string, version: string, publisher = 'alice', tarball = Buffer.from(`${name}@${version} tarball`)): number {
    const sha512 = createHash('sha512').update(tarball).digest('hex');
    this.tarballs.set(`${name}@${version}`, tarball);
    const index = this.append(releasePublished({ ecosystem: 'npm', name, version, at: 1_780_000_000_000 + this.entries.length, artifacts: [{ filename: `${name.replace('/', '-')}-${version}.tgz`, sha512, size: tarball.length }], provenance: null, publisher: { kind: 'user', ref: publisher } }));
    this.indexOf.set(`${name}@${version}`, index);
    return index;
  }

  /** Rewrites history: keeps the first `keep` entries and drops the rest (a registry forking its log). */
  rewrite(keep: number): void {
    const kept = this.entries.slice(0, keep);
    this.tree = new InMemoryTree();
    this.entries = [];
    for (const [spec, index] of this.indexOf) if (index >= keep) this.indexOf.delete(spec);
    for (const e of kept) this.append(e);
  }

  checkpointFor(size: number, signerKey = this.signerKey): string {
    return signCheckpoint({ origin: this.origin, size, rootHash: this.tree.root(size), extensions: [] }, parseSignerKey(signerKey));
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req.url ?? '/').then(({ status, body, type }) => {
        res.writeHead(status, { 'content-type': type });
        res.end(body);
      }, (e: unknown) => {
        res.writeHead(500);
        res.end(String(e));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${port}`;
    this.origin = `127.0.0.1:${port}/-/tlog`;
    ({ signerKey: this.signerKey, verifierKey: this.verifierKey } = generateSignerKey(this.origin));
    return this;
  }

  close(): Promise<void> {
    // Keep-alive connections from the client's fetch would hold close() for seconds.
    this.server?.closeAllConnections();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(url: string): Promise<{ status: number; body: Buffer | string; type: string }> {
    const path = decodeURIComponent(new URL(url, 'http://x').pathname);
    const json = (status: number, v: unknown) => ({ status, body: JSON.stringify(v), type: 'application/json' });
    const bytes = (body: Buffer) => ({ status: 200, body, type: 'application/octet-stream' });
    const size = this.signedSize ?? this.tree.size;
    if (path === '/-/tlog/key') return { status: 200, body: `${this.verifierKey}\n`, type: 'text/plain' };
    if (path === '/-/tlog/checkpoint') {
      const note = this.checkpointFor(size);
      const n = this.checkpointRequests++;
      return { status: 200, body: this.tamper.checkpoint ? this.tamper.checkpoint(n, note) : note, type: 'text/plain; charset=utf-8' };
    }
    if (path.startsWith('/-/tlog/lookup/npm/')) {
      const spec = path.slice('/-/tlog/lookup/npm/'.length);
      const index = this.indexOf.get(spec);
      if (index === undefined) return json(404, { error: 'TLOG_NOT_FOUND' });
      return json(200, { index, entry: (this.entries[index] as Buffer).toString('base64') });
    }
    if (path.startsWith('/-/tlog/tile/')) {
      let tile;
      try {
        tile = parseTilePath(path.slice('/-/tlog/'.length));
      } catch {
        return json(400, { error: 'bad tile path' });
      }
      // The tree the latest checkpoint covers; a full tile of a larger tree is the same bytes.
      const covered = this.tree.size;
      if (tile.kind === 'entries') {
        const first = tile.index * TILE_WIDTH;
        if (first + tile.width > covered) return json(404, {});
        let list: Uint8Array[] = this.entries.slice(first, first + tile.width);
        if (this.tamper.bundle) list = this.tamper.bundle(tile.index, list);
        return bytes(list.length === 0 ? Buffer.alloc(0) : encodeEntryBundle(list));
      }
      if ((tile.index * TILE_WIDTH + tile.width) * TILE_WIDTH ** tile.level > covered) return json(404, {});
      let data = await readTileData(tile, this.tree);
      if (this.tamper.tile) data = this.tamper.tile(tile.level, tile.index, data);
      return bytes(data);
    }
    // The npm side: a document per package and its tarballs.
    const tgz = /^\/(.+)\/-\/[^/]+-(\d[^/]*)\.tgz$/.exec(path);
    if (tgz) {
      const t = this.tarballs.get(`${tgz[1]}@${tgz[2]}`);
      return t ? bytes(t) : json(404, {});
    }
    const name = path.slice(1);
    const versions: Record<string, unknown> = {};
    for (const [spec, t] of this.tarballs) {
      const at = spec.lastIndexOf('@');
      if (spec.slice(0, at) !== name) continue;
      const version = spec.slice(at + 1);
      versions[version] = { name, version, dist: { tarball: `${this.url}/${name}/-/${name.split('/').pop()}-${version}.tgz`, integrity: `sha512-${createHash('sha512').update(t).digest('base64')}`, logIndex: this.indexOf.get(spec) } };
    }
    return Object.keys(versions).length ? json(200, { name, versions }) : json(404, { error: 'not found' });
  }
}

export const freshSigner = (origin: string): string => generateSignerKey(origin).signerKey;
