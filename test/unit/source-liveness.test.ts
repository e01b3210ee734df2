// BP-8: recorded source repositories are re-checked and a vanished one is marked. The job runs on
// a real (in-memory SQLite) store; the checker is the pluggable part, so the HTTP checker is tested
// against a real local server and the job with a checker that answers from a table.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Logger } from '../../src/core/logger.ts';
import { checkSources, httpSourceChecker, noSourceChecker, type SourceChecker, type SourceState } from '../../src/core/maintenance/source-liveness.ts';
import { migrate } from '../../src/storage/metadata/sql/migrations.ts';
import { SqlMetadataStore } from '../../src/storage/metadata/sql/sql-store.ts';
import { SqliteDatabase } from '../../src/storage/metadata/sqlite/sqlite-database.ts';

const HOUR = 3_600_000;
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, debugEnabled: false };

let now: number;
let store: SqlMetadataStore;

async function versionWithProvenance(name: string, sourceRepository: string | null): Promise<void> {
  const pkg = await store.insertPackage({ ecosystem: 'npm', name, createdAt: now, modifiedAt: now, rev: 0, access: 'public', description: '', keywords: '', latestVersion: '1.0.0', deletedAt: null });
  const release = await store.insertRelease({ packageId: pkg.id, version: '1.0.0', state: 'published', createdAt: now, unpublishedAt: null, publisherId: null, metadata: '{}', deprecated: null, fragmentFull: '{}', fragmentAbbrev: '{}', publishedVia: null });
  await store.insertAttestation({ releaseId: release.id, kind: 'provenance', predicateType: 'https://slsa.dev/provenance/v1', mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', bundle: '{}', summary: JSON.stringify({ sourceRepository }), createdAt: now });
}

const table = (answers: Record<string, SourceState>): SourceChecker & { asked: string[] } => {
  const asked: string[] = [];
  return { name: 'table', asked, check: async (uri) => (asked.push(uri), answers[uri] ?? 'unknown') };
};

const status = async (name: string) => {
  const pkg = await store.findPackage('npm', name);
  const release = pkg && (await store.findRelease(pkg.id, '1.0.0'));
  return release && (await store.listAttestations(release.id))[0]?.sourceStatus;
};

beforeEach(async () => {
  now = Date.UTC(2026, 11, 1);
  const db = new SqliteDatabase(':memory:');
  await migrate(db);
  store = new SqlMetadataStore(db);
});

describe('checkSources', () => {
  it('marks a vanished repository gone (once, with an event), a present one live, and leaves doubt alone', async () => {
    await versionWithProvenance('a', 'https://github.com/acme/a');
    await versionWithProvenance('b', 'https://github.com/acme/b');
    await versionWithProvenance('c', 'https://github.com/acme/c');
    const checker = table({ 'https://github.com/acme/a': 'gone', 'https://github.com/acme/b': 'live' });
    const r = await checkSources(store, checker, () => now, silent, { recheckAfterMs: 24 * HOUR, batch: 10 });
    assert.deepEqual(r, { checked: 3, gone: 1 });
    assert.equal(await status('a'), 'gone');
    assert.equal(await status('b'), 'live');
    assert.equal(await status('c'), null, '"unknown" never marks anything');

    // Not due again until the re-check interval has passed.
    assert.deepEqual(await checkSources(store, checker, () => now + HOUR, silent, { recheckAfterMs: 24 * HOUR, batch: 10 }), { checked: 0, gone: 0 });
    // A later unknown answer does not clear an earlier finding; a second "gone" is not a new event.
    now += 25 * HOUR;
    const again = await checkSources(store, table({ 'https://github.com/acme/a': 'gone' }), () => now, silent, { recheckAfterMs: 24 * HOUR, batch: 10 });
    assert.deepEqual(again, { checked: 3, gone: 0 });
    assert.equal(await status('b'), 'live');
  });

  it('checks the least recently checked first, a batch at a time', async () => {
    for (const n of ['p1', 'p2', 'p3']) await versionWithProvenance(n, `https://github.com/acme/${n}`);
    const checker = table({});
    await checkSources(store, checker, () => now, silent, { recheckAfterMs: HOUR, batch: 2 });
    assert.deepEqual(checker.asked, ['https://github.com/acme/p1', 'https://github.com/acme/p2']);
    await checkSources(store, checker, () => now, silent, { recheckAfterMs: HOUR, batch: 2 });
    assert.deepEqual(checker.asked.slice(2), ['https://github.com/acme/p3']);
  });

  it('the default checker makes no calls and marks nothing', async () => {
    await versionWithProvenance('d', 'https://github.com/acme/d');
    assert.deepEqual(await checkSources(store, noSourceChecker, () => now, silent, { recheckAfterMs: HOUR, batch: 10 }), { checked: 1, gone: 0 });
    assert.equal(await status('d'), null);
  });

  it('skips provenance that names no repository', async () => {
    await versionWithProvenance('e', null);
    const checker = table({});
    await checkSources(store, checker, () => now, silent, { recheckAfterMs: HOUR, batch: 10 });
    assert.deepEqual(checker.asked, []);
  });
});

describe('httpSourceChecker', () => {
  let server: http.Server;
  let base: string;
  before(async () => {
    server = http.createServer((req, res) => {
      const code = Number((req.url ?? '').split('/')[1]);
      res.writeHead(Number.isInteger(code) && code >= 200 ? code : 500, code === 301 ? { location: '/200' } : {}).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('404 and 410 are gone, 2xx and redirects live, anything else unknown', async () => {
    const c = httpSourceChecker({ timeoutMs: 2000 });
    assert.equal(await c.check(`${base}/404`), 'gone');
    assert.equal(await c.check(`${base}/410`), 'gone');
    assert.equal(await c.check(`${base}/200`), 'live');
    assert.equal(await c.check(`${base}/301`), 'live');
    assert.equal(await c.check(`${base}/401`), 'unknown', 'a private repository is not a deleted one');
    assert.equal(await c.check(`${base}/429`), 'unknown');
    assert.equal(await c.check(`${base}/503`), 'unknown');
    assert.equal(await c.check('git+ssh://example/x'), 'unknown');
    assert.equal(await c.check('http://127.0.0.1:1/nothing-listens'), 'unknown');
  });
});
