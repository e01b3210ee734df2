// The transparency log's storage and sequencer on a real store: SQLite in memory always, PostgreSQL
// too when ATTESTRY_TEST_POSTGRES_URL names a server. Pinned here: the stored hashes make the same
// tree as the reference in-memory tree, concurrent appends get dense distinct indexes, and a
// rolled-back transaction leaves neither an entry nor a hash behind.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { storesUnderTest } from '../support/postgres.ts';
import { openTestStore, type TestStore } from '../support/test-store.ts';
import type { SqlMetadataStore } from '../../src/storage/metadata/sql/sql-store.ts';
import type { NewLogEntry } from '../../src/storage/metadata/store.ts';
import { InMemoryTree, leafHash, storedHashCount, treeHash } from '../../src/security/transparency/merkle.ts';

const NOW = Date.UTC(2026, 5, 1);

const entry = (i: number, over: Partial<NewLogEntry> = {}): NewLogEntry => ({
  at: NOW + i, kind: 'release.published', ecosystem: 'npm', packageName: `pkg-${i % 7}`, version: `1.0.${i}`,
  entry: Buffer.from(`{"entry":${i}}`), ...over,
});

const reader = (store: SqlMetadataStore) => ({ readHashes: (ids: readonly number[]) => store.readLogHashes(ids) });

for (const kind of storesUnderTest()) {
  describe(`transparency log storage (${kind})`, () => {
    let opened: TestStore;
    let store: SqlMetadataStore;
    const mirror = new InMemoryTree();

    before(async () => {
      opened = await openTestStore(kind);
      ({ store } = opened);
    });
    after(() => opened.close());

    it('starts empty', async () => {
      assert.equal(await store.logSize(), 0);
      assert.deepEqual(await store.readLogEntries(0, 10), []);
      assert.deepEqual(Buffer.from(await treeHash(0, reader(store))), Buffer.from(mirror.root()));
    });

    it('after each of 70 appends, the stored tree equals the in-memory reference tree', async () => {
      for (let i = 0; i < 70; i++) {
        const e = entry(i);
        // Inside a caller's transaction (how the publish commit calls it) and outside one, alternately.
        const index = i % 2 === 0 ? await store.transaction((tx) => tx.appendLogEntry(e)) : await store.appendLogEntry(e);
        assert.equal(index, i);
        assert.equal(mirror.append(e.entry), i);
        assert.equal(await store.logSize(), i + 1);
        assert.deepEqual(Buffer.from(await treeHash(i + 1, reader(store))), Buffer.from(mirror.root()), `root at size ${i + 1}`);
      }
      // Every stored hash, not only those a root needs.
      const all = Array.from({ length: storedHashCount(70) }, (_, i) => i);
      assert.deepEqual((await store.readLogHashes(all)).map((h) => Buffer.from(h).toString('hex')), mirror.storedHashes().map((h) => Buffer.from(h).toString('hex')));
    });

    it('reads entries back byte for byte with their leaf hashes and index columns', async () => {
      const got = await store.readLogEntries(5, 3);
      assert.deepEqual(got.map((e) => e.index), [5, 6, 7]);
      const first = got[0] ?? assert.fail('no entry');
      assert.deepEqual(Buffer.from(first.entry), Buffer.from('{"entry":5}'));
      assert.deepEqual(Buffer.from(first.leafHash), leafHash(Buffer.from('{"entry":5}')));
      assert.deepEqual([first.at, first.kind, first.ecosystem, first.packageName, first.version], [NOW + 5, 'release.published', 'npm', 'pkg-5', '1.0.5']);
      assert.equal((await store.readLogEntries(68, 10)).length, 2, 'a read past the end stops at the end');
    });

    it('stores entries without a package (a key rotation)', async () => {
      const index = await store.appendLogEntry(entry(70, { kind: 'keys.rotated', ecosystem: null, packageName: null, version: null }));
      mirror.append(entry(70).entry);
      const [got] = await store.readLogEntries(index, 1);
      assert.deepEqual([got?.kind, got?.ecosystem, got?.packageName, got?.version], ['keys.rotated', null, null, null]);
    });

    it('a rolled-back transaction leaves no entry, no hash and the same size', async () => {
      const size = await store.logSize();
      await assert.rejects(store.transaction(async (tx) => {
        assert.equal(await tx.appendLogEntry(entry(1000)), size);
        assert.equal(await tx.logSize(), size + 1, 'the transaction sees its own append');
        throw new Error('abort');
      }), /abort/);
      assert.equal(await store.logSize(), size);
      assert.deepEqual(await store.readLogEntries(size, 5), []);
      await assert.rejects(store.readLogHashes([storedHashCount(size)]), /no stored log hash/);
      // The next append takes the index the rolled-back one had, and the tree stays right.
      assert.equal(await store.appendLogEntry(entry(1001)), size);
      mirror.append(entry(1001).entry);
      assert.deepEqual(Buffer.from(await treeHash(size + 1, reader(store))), Buffer.from(mirror.root()));
    });

    it('refuses to read a hash the log does not have', async () => {
      await assert.rejects(store.readLogHashes([storedHashCount(await store.logSize()) + 5]), /no stored log hash/);
    });

    it('concurrent appends from many transactions get distinct consecutive indexes and one consistent tree', async () => {
      const size = await store.logSize();
      const n = 24;
      // Each transaction does other work first, so on PostgreSQL they truly overlap on the lock.
      const indexes = await Promise.all(Array.from({ length: n }, (_, i) => store.transaction(async (tx) => {
        await tx.logSize();
        return tx.appendLogEntry(entry(2000 + i));
      })));
      assert.deepEqual([...indexes].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => size + i));
      assert.equal(await store.logSize(), size + n);
      // Replay in the order the sequencer chose: the same root as the database's.
      const appended = await store.readLogEntries(size, n);
      for (const e of appended) mirror.append(e.entry);
      assert.deepEqual(Buffer.from(await treeHash(size + n, reader(store))), Buffer.from(mirror.root()));
    });
  });

  describe(`transparency log consistency for attestry check (${kind})`, () => {
    let opened: TestStore;
    let store: SqlMetadataStore;
    before(async () => {
      opened = await openTestStore(kind);
      ({ store } = opened);
    });
    after(() => opened.close());

    const release = async (name: string, version: string) => {
      const pkg = (await store.findPackage('npm', name)) ?? await store.insertPackage({
        ecosystem: 'npm', name, createdAt: NOW, modifiedAt: NOW, rev: 0, access: 'public', description: '', keywords: '', latestVersion: null, deletedAt: null,
      });
      return store.insertRelease({ packageId: pkg.id, version, state: 'published', createdAt: NOW, unpublishedAt: null, publisherId: null, metadata: '{}',
        deprecated: null, fragmentFull: '{}', fragmentAbbrev: '{}', publishedVia: null });
    };
    const logged = (name: string, version: string, i: number) => entry(i, { packageName: name, version });

    it('is clean when every release.published entry and its version point at each other', async () => {
      const a = await release('a', '1.0.0');
      await store.updateRelease(a.id, { logIndex: await store.appendLogEntry(logged('a', '1.0.0', 0)) });
      await store.appendLogEntry({ ...logged('a', '1.0.0', 1), kind: 'release.unpublished' });
      await release('legacy', '0.1.0'); // published before the log: no index, not a problem
      assert.deepEqual(await store.logConsistency(), { size: 2, entries: 2, maxIndex: 1, mismatches: [] });
      assert.equal((await store.findRelease(a.packageId, '1.0.0'))?.logIndex, 0);
    });

    it('reports an entry with no version and a version whose index is not its entry', async () => {
      await store.appendLogEntry(logged('ghost', '9.9.9', 2));
      const b = await release('b', '1.0.0');
      await store.updateRelease(b.id, { logIndex: 1 }); // index 1 is a.1.0.0's unpublish entry
      const c = await release('c', '1.0.0');
      await store.updateRelease(c.id, { logIndex: 99 }); // no such entry
      const report = await store.logConsistency();
      assert.deepEqual([report.size, report.entries, report.maxIndex], [3, 3, 2]);
      assert.deepEqual(report.mismatches, [
        { problem: 'entry-without-release', index: 2, ecosystem: 'npm', name: 'ghost', version: '9.9.9' },
        { problem: 'release-without-entry', index: 1, ecosystem: 'npm', name: 'b', version: '1.0.0' },
        { problem: 'release-without-entry', index: 99, ecosystem: 'npm', name: 'c', version: '1.0.0' },
      ]);
    });
  });
}
