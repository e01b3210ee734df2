// One sequencer across server processes (issue 7, BT-2): two registry processes on one PostgreSQL
// database and one data directory take publishes at the same time; the log must come out dense
// (every index once), one entry per version with the version's own index, and its stored hashes
// must give the same root as the entries' leaves hashed from scratch. PostgreSQL only: it is the
// multi-node store (SQLite serialises writers inside one file by design).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createUser, type TestUser } from '../support/accounts.ts';
import { POSTGRES_URL, createDatabase } from '../support/postgres.ts';
import { publishBody, putPublish } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { loadConfig } from '../../src/config/config.ts';
import { openStorage } from '../../src/app.ts';
import { InMemoryTree, treeHash } from '../../src/security/transparency/merkle.ts';

const PER_PROCESS = 24;
const CONCURRENCY = 6;

describe('the transparency log with two server processes on one PostgreSQL', { skip: POSTGRES_URL === undefined && 'ATTESTRY_TEST_POSTGRES_URL not set', timeout: 180_000 }, () => {
  let a: TestRegistry;
  let b: TestRegistry;
  let user: TestUser;

  before(async () => {
    const db = await createDatabase();
    a = await startRegistry({ store: 'postgres', databaseUrl: db.url, dropDatabase: db.drop });
    b = await startRegistry({ store: 'postgres', databaseUrl: db.url, dataDir: a.dataDir });
    user = await createUser(a.url, 'seq');
  });
  after(async () => {
    await b?.stop();
    await a?.destroy();
  });

  it('interleaved publishes through both processes get dense, distinct indexes and one consistent tree', async () => {
    const jobs = Array.from({ length: PER_PROCESS * 2 }, (_, i) => ({ url: i % 2 === 0 ? a.url : b.url, name: `seq-${i % 4}`, version: `1.0.${i}` }));
    const queue = [...jobs];
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        const r = await putPublish(job.url, user.token, publishBody({ name: job.name, version: job.version, registry: job.url }));
        assert.ok(r.status === 200 || r.status === 201, `${job.name}@${job.version}: ${r.status} ${JSON.stringify(r.body)}`);
      }
    }));

    const { store } = await openStorage(loadConfig({ ...a.env }));
    try {
      const size = await store.logSize();
      assert.equal(size, jobs.length, 'one entry per publish');
      const entries = await store.readLogEntries(0, size);
      assert.deepEqual(entries.map((e) => e.index), Array.from({ length: size }, (_, i) => i), 'dense: every index once, in order');
      // Each version points at its own entry, and that entry names it.
      const byIndex = new Map(entries.map((e) => [e.index, e]));
      for (const name of ['seq-0', 'seq-1', 'seq-2', 'seq-3']) {
        const pkg = await store.findPackage('npm', name);
        assert.ok(pkg);
        for (const r of await store.listReleases(pkg.id)) {
          const e = r.logIndex === undefined || r.logIndex === null ? undefined : byIndex.get(r.logIndex);
          assert.deepEqual(e && [e.kind, e.packageName, e.version], ['release.published', name, r.version], `${name}@${r.version}`);
        }
      }
      // The stored hashes (what tiles are served from) agree with the leaves recomputed from the entries.
      const fresh = new InMemoryTree();
      for (const e of entries) fresh.append(e.entry);
      assert.deepEqual(Buffer.from(await treeHash(size, { readHashes: (ids) => store.readLogHashes(ids) })), Buffer.from(fresh.root()));
    } finally {
      await store.close();
    }
  });
});
