// AUTHN-3.3 "critical by downloads": the pure ranking, the store operations behind it (SQLite in
// memory always, PostgreSQL too when ATTESTRY_TEST_POSTGRES_URL names a server), the job that moves
// the marks and records events, and the in-memory download counter's flush (one transaction,
// increments that add up, nothing lost or double-counted when a flush fails).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Logger } from '../../src/core/logger.ts';
import { recomputeCriticalPackages, selectCritical, type CriticalPolicy, type DownloadTotal } from '../../src/core/maintenance/critical-packages.ts';
import { resourceFor } from '../../src/core/packages/access.ts';
import { DAY_MS, dayOf, DownloadCounter } from '../../src/core/packages/download-counter.ts';
import { NpmEcosystem } from '../../src/ecosystems/npm/npm-ecosystem.ts';
import type { SqlDatabase } from '../../src/storage/metadata/sql/driver.ts';
import { migrate } from '../../src/storage/metadata/sql/migrations.ts';
import { SqlMetadataStore } from '../../src/storage/metadata/sql/sql-store.ts';
import { SqliteDatabase } from '../../src/storage/metadata/sqlite/sqlite-database.ts';
import type { EventRecord, MetadataOps, PackageRecord } from '../../src/storage/metadata/store.ts';
import { storesUnderTest } from '../support/postgres.ts';
import { openTestStore, type TestStore } from '../support/test-store.ts';

const NOW = Date.UTC(2026, 5, 15, 12);
const TODAY = dayOf(NOW);
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, debugEnabled: false };
const eco = new NpmEcosystem({ publicUrl: 'http://registry.test', archiveLimits: { maxCompressedBytes: 1, maxUncompressedBytes: 1, maxEntries: 1 }, maxManifestBytes: 1 });

const totals = (...pairs: Array<[number, number]>): DownloadTotal[] => pairs.map(([packageId, total]) => ({ packageId, total }));
const sorted = (s: Set<number>): number[] => [...s].sort((a, b) => a - b);

describe('selectCritical (the ranking)', () => {
  const policy = (topPercent: number, minDownloads = 0): CriticalPolicy => ({ topPercent, minDownloads });

  it('marks the top N percent of live packages, counting packages without downloads in the whole', () => {
    const t = totals([1, 5000], [2, 9000], [3, 7000], [4, 100], [5, 3000]);
    // 200 live packages, 1 % = 2 slots: the two most downloaded.
    assert.deepEqual(sorted(selectCritical(t, 200, policy(1))), [2, 3]);
    // 2 % of 200 = 4 slots.
    assert.deepEqual(sorted(selectCritical(t, 200, policy(2))), [1, 2, 3, 5]);
    // Only 5 of 1000 packages have downloads: all of them fit in 1 % (10 slots).
    assert.deepEqual(sorted(selectCritical(t, 1000, policy(1))), [1, 2, 3, 4, 5]);
  });

  it('rounds the slots up, so the busiest package of a small registry can be critical', () => {
    assert.deepEqual(sorted(selectCritical(totals([1, 5000], [2, 4000]), 50, policy(1))), [1]);
  });

  it('never marks a package below the minimum, however high it ranks', () => {
    const t = totals([1, 999], [2, 1000], [3, 50]);
    assert.deepEqual(sorted(selectCritical(t, 10, policy(50, 1000))), [2]);
    assert.deepEqual(sorted(selectCritical(totals([1, 999], [3, 50]), 10, policy(50, 1000))), [], 'a tiny registry marks nothing');
    assert.deepEqual(sorted(selectCritical(totals([1, 0], [2, 0]), 2, policy(50, 0))), [], 'no downloads is never critical, even with no minimum');
  });

  it('takes every package tied at the boundary, whatever the row order', () => {
    const t = totals([1, 900], [2, 500], [3, 500], [4, 500], [5, 100]);
    for (const order of [t, [...t].reverse(), [t[2], t[4], t[0], t[3], t[1]].filter((x): x is DownloadTotal => x !== undefined)]) {
      // 2 slots: 1 is first, 2/3/4 share the second place.
      assert.deepEqual(sorted(selectCritical(order, 100, policy(2))), [1, 2, 3, 4]);
    }
    // A tie above the boundary takes no extra slot away from anyone it outranks.
    assert.deepEqual(sorted(selectCritical(totals([1, 900], [2, 900], [3, 100]), 100, policy(2))), [1, 2]);
  });

  it('0 percent turns the ranking off; more than 50 counts as 50; no live packages marks nothing', () => {
    const t = totals([1, 1e9], [2, 1e8], [3, 1e7], [4, 1e6]);
    assert.deepEqual(sorted(selectCritical(t, 4, policy(0))), []);
    assert.deepEqual(sorted(selectCritical(t, 4, policy(100))), [1, 2]);
    assert.deepEqual(sorted(selectCritical(t, 0, policy(50))), []);
    assert.deepEqual(sorted(selectCritical(t, 4, policy(Number.NaN))), []);
  });
});

for (const kind of storesUnderTest()) {
  describe(`download counts and critical marks on a real store (${kind})`, () => {
    let db: SqlDatabase;
    let store: SqlMetadataStore;
    let opened: TestStore;
    let seq = 0;

    const pkg = (over: Partial<PackageRecord> = {}): Promise<PackageRecord> =>
      store.insertPackage({ ecosystem: 'npm', name: `pkg-${kind}-${++seq}`, createdAt: NOW, modifiedAt: NOW, rev: 0, access: 'public', description: '', keywords: '', latestVersion: '1.0.0', deletedAt: null, ...over });
    const totalOf = async (id: number, sinceDay = TODAY - 29): Promise<number | undefined> =>
      (await store.listDownloadTotals(sinceDay)).find((t) => t.packageId === id)?.total;
    const criticalEvents = async (since: number): Promise<EventRecord[]> => {
      // Events have no listing by type in the store; read them back through SQL.
      const rows = await db.all<Record<string, unknown>>("SELECT * FROM events WHERE type = 'package.critical-auto' AND id > ? ORDER BY id", [since]);
      return rows.map((r) => ({ id: Number(r.id), at: Number(r.at), type: String(r.type), actorId: r.actor_id === null ? null : Number(r.actor_id), ecosystem: String(r.ecosystem),
        packageName: String(r.package_name), version: r.version === null ? null : String(r.version), data: JSON.parse(String(r.data)) as Record<string, unknown>, subjectId: null, orgId: null }));
    };
    const lastEventId = async (): Promise<number> => Number((await db.get<{ n: unknown }>('SELECT COALESCE(MAX(id), 0) AS n FROM events'))?.n ?? 0);
    /** Marks every package the tests made so far as deleted, so each ranking test starts from its own packages. */
    const retireAll = async (): Promise<void> => {
      await db.run('UPDATE packages SET deleted_at = ? WHERE deleted_at IS NULL', [NOW]);
      await recomputeCriticalPackages(store, { topPercent: 50, minDownloads: 1 }, () => NOW, silent);
    };

    before(async () => {
      opened = await openTestStore(kind);
      ({ db, store } = opened);
    });
    after(async () => {
      await opened.close();
    });

    describe('store operations', () => {
      it('a new package is not critical by downloads; the mark reads back and is separate from the administrator\'s', async () => {
        const p = await pkg();
        assert.equal(p.criticalAuto, false);
        assert.equal(p.critical, false);
        const changed = await store.setCriticalAuto([p.id], true);
        assert.deepEqual(changed, [{ id: p.id, ecosystem: 'npm', name: p.name }]);
        const back = await store.findPackage('npm', p.name);
        assert.equal(back?.criticalAuto, true);
        assert.equal(back?.critical, false, 'the administrator\'s mark is untouched');
        assert.deepEqual(await store.setCriticalAuto([p.id, p.id], true), [], 'no change, nothing reported');
        assert.ok((await store.listCriticalAuto()).includes(p.id));
        assert.deepEqual(await store.setCriticalAuto([p.id], false), [{ id: p.id, ecosystem: 'npm', name: p.name }]);
        assert.equal((await store.findPackage('npm', p.name))?.criticalAuto, false);
        assert.ok(!(await store.listCriticalAuto()).includes(p.id));
        assert.deepEqual(await store.setCriticalAuto([], true), []);
      });

      it('addDownloads adds to what is stored, sums repeated keys, and ignores empty counts', async () => {
        const a = await pkg();
        const b = await pkg();
        await store.addDownloads([{ packageId: a.id, day: TODAY, count: 3 }, { packageId: b.id, day: TODAY, count: 1 }]);
        await store.addDownloads([{ packageId: a.id, day: TODAY, count: 4 }, { packageId: a.id, day: TODAY, count: 2 }, { packageId: b.id, day: TODAY - 1, count: 0 }]);
        await store.addDownloads([]);
        assert.equal(await totalOf(a.id), 9);
        assert.equal(await totalOf(b.id), 1);
        const rows = await db.all<{ day: unknown; count: unknown }>('SELECT day, count FROM package_downloads WHERE package_id = ? ORDER BY day', [b.id]);
        assert.deepEqual(rows.map((r) => [Number(r.day), Number(r.count)]), [[TODAY, 1]], 'a zero count writes no row');
      });

      it('concurrent flushes of overlapping keys add up (no lost update, no deadlock)', async () => {
        const ids = [(await pkg()).id, (await pkg()).id, (await pkg()).id];
        const flushes = Array.from({ length: 12 }, (_, i) => {
          const order = i % 2 === 0 ? ids : [...ids].reverse();
          return store.addDownloads(order.flatMap((id) => [{ packageId: id, day: TODAY, count: 1 }, { packageId: id, day: TODAY - 1, count: 2 }]));
        });
        await Promise.all(flushes);
        for (const id of ids) assert.equal(await totalOf(id), 36);
      });

      it('a flush larger than one statement is stored whole', async () => {
        const p = await pkg();
        const days = Array.from({ length: 700 }, (_, i) => ({ packageId: p.id, day: TODAY - i, count: 1 }));
        await store.addDownloads(days);
        assert.equal(await totalOf(p.id, 0), 700);
        assert.equal(await totalOf(p.id), 30, 'the window counts its 30 days only');
      });

      it('totals cover the window only and only live packages; countLivePackages ignores deleted ones', async () => {
        const before = await store.countLivePackages();
        const live = await pkg();
        const gone = await pkg({ deletedAt: NOW });
        assert.equal(await store.countLivePackages(), before + 1);
        await store.addDownloads([
          { packageId: live.id, day: TODAY, count: 5 }, { packageId: live.id, day: TODAY - 29, count: 7 }, { packageId: live.id, day: TODAY - 30, count: 100 },
          { packageId: gone.id, day: TODAY, count: 1000 },
        ]);
        assert.equal(await totalOf(live.id), 12);
        assert.equal(await totalOf(gone.id), undefined);
      });
    });

    describe('recomputeCriticalPackages (the job)', () => {
      beforeEach(retireAll);

      it('marks the top packages, records one event per change, and is idempotent', async () => {
        const [a, b, c, d] = [await pkg(), await pkg(), await pkg(), await pkg()];
        await store.addDownloads([{ packageId: a.id, day: TODAY, count: 5000 }, { packageId: b.id, day: TODAY - 3, count: 3000 }, { packageId: c.id, day: TODAY, count: 10 }]);
        const mark = await lastEventId();
        const policy = { topPercent: 50, minDownloads: 100 };
        const r = await recomputeCriticalPackages(store, policy, () => NOW, silent);
        assert.deepEqual([...r.entered].sort(), [a.name, b.name].sort());
        assert.deepEqual(r.left, []);
        assert.equal(r.critical, 2);
        for (const p of [a, b]) assert.equal((await store.findPackage('npm', p.name))?.criticalAuto, true);
        for (const p of [c, d]) assert.equal((await store.findPackage('npm', p.name))?.criticalAuto, false);
        const events = await criticalEvents(mark);
        assert.deepEqual(events.map((e) => e.packageName).sort(), [a.name, b.name].sort());
        const ofA = events.find((e) => e.packageName === a.name);
        assert.equal(ofA?.actorId, null);
        assert.equal(ofA?.ecosystem, 'npm');
        assert.deepEqual(ofA?.data, { critical: true, downloads: 5000, windowDays: 30, topPercent: 50, minDownloads: 100 });

        const again = await recomputeCriticalPackages(store, policy, () => NOW, silent);
        assert.deepEqual(again, { critical: 2, entered: [], left: [] });
        assert.equal((await criticalEvents(mark)).length, 2, 'an unchanged ranking records nothing');
      });

      it('two runs at once make (and record) each change once', async () => {
        const a = await pkg();
        await pkg();
        await store.addDownloads([{ packageId: a.id, day: TODAY, count: 5000 }]);
        const mark = await lastEventId();
        const policy = { topPercent: 50, minDownloads: 1 };
        const runs = await Promise.all([1, 2, 3].map(() => recomputeCriticalPackages(store, policy, () => NOW, silent)));
        assert.equal(runs.flatMap((r) => r.entered).length, 1);
        assert.equal((await criticalEvents(mark)).length, 1);
      });

      it('a package leaves the set (with an event) when its downloads age out, it is deleted, or the ranking is turned off', async () => {
        const [a, b, c] = [await pkg(), await pkg(), await pkg()];
        await pkg();
        await store.addDownloads([{ packageId: a.id, day: TODAY, count: 500 }, { packageId: b.id, day: TODAY - 20, count: 400 }]);
        const policy = { topPercent: 50, minDownloads: 100 };
        assert.deepEqual([...(await recomputeCriticalPackages(store, policy, () => NOW, silent)).entered].sort(), [a.name, b.name].sort());

        // Eleven days later b's downloads are older than the window; c now ranks.
        const later = NOW + 11 * DAY_MS;
        await store.addDownloads([{ packageId: c.id, day: dayOf(later), count: 200 }]);
        let mark = await lastEventId();
        const aged = await recomputeCriticalPackages(store, policy, () => later, silent);
        assert.deepEqual(aged.left, [b.name]);
        assert.deepEqual(aged.entered, [c.name]);
        const events = await criticalEvents(mark);
        assert.deepEqual(events.map((e) => [e.packageName, e.data.critical]), [[c.name, true], [b.name, false]]);
        assert.equal(events.find((e) => e.packageName === b.name)?.data.downloads, 0);

        // A deleted package is no longer ranked, however many downloads it had.
        await store.updatePackage(a.id, { deletedAt: later });
        mark = await lastEventId();
        const deleted = await recomputeCriticalPackages(store, policy, () => later, silent);
        assert.deepEqual(deleted.left, [a.name]);
        assert.equal((await store.findPackage('npm', a.name))?.criticalAuto, false);
        assert.deepEqual((await criticalEvents(mark)).map((e) => [e.packageName, e.data.critical]), [[a.name, false]]);

        // Turned off: every mark the ranking set goes, each with its event.
        mark = await lastEventId();
        const off = await recomputeCriticalPackages(store, { topPercent: 0, minDownloads: 100 }, () => later, silent);
        assert.deepEqual(off, { critical: 0, entered: [], left: [c.name] });
        assert.deepEqual(await store.listCriticalAuto(), []);
        assert.equal((await criticalEvents(mark)).length, 1);
      });

      it('leaves the administrator\'s mark alone; the authorizer sees either mark as critical', async () => {
        const admin = await pkg();
        const busy = await pkg();
        await pkg();
        await store.updatePackage(admin.id, { critical: true });
        await store.addDownloads([{ packageId: busy.id, day: TODAY, count: 5000 }]);
        await recomputeCriticalPackages(store, { topPercent: 34, minDownloads: 1 }, () => NOW, silent);
        const adminBack = await store.findPackage('npm', admin.name);
        const busyBack = await store.findPackage('npm', busy.name);
        assert.equal(adminBack?.critical, true);
        assert.equal(adminBack?.criticalAuto, false);
        assert.equal(busyBack?.critical, false);
        assert.equal(busyBack?.criticalAuto, true);
        assert.equal(resourceFor(eco, admin.name, adminBack, []).critical, true);
        assert.equal(resourceFor(eco, busy.name, busyBack, []).critical, true);
        await recomputeCriticalPackages(store, { topPercent: 0, minDownloads: 1 }, () => NOW, silent);
        assert.equal((await store.findPackage('npm', admin.name))?.critical, true, 'turning the ranking off keeps the administrator\'s mark');
        const plain = await store.findPackage('npm', busy.name);
        assert.equal(resourceFor(eco, busy.name, plain, []).critical, false);
      });
    });
  });
}

/** A real store whose transactions can be counted and made to fail after their work (a lost connection at COMMIT). */
class SpyStore extends SqlMetadataStore {
  transactions = 0;
  failNext = 0;
  override async transaction<T>(fn: (tx: MetadataOps) => Promise<T>): Promise<T> {
    this.transactions++;
    const fail = this.failNext > 0;
    if (fail) this.failNext--;
    return super.transaction(async (tx) => {
      const result = await fn(tx);
      if (fail) throw new Error('connection lost');
      return result;
    });
  }
}

describe('DownloadCounter', () => {
  let store: SpyStore;
  let now: number;
  let ids: number[];
  const clock = () => now;
  const stored = async (id: number): Promise<number> => (await store.listDownloadTotals(0)).find((t) => t.packageId === id)?.total ?? 0;

  beforeEach(async () => {
    now = NOW;
    const db = new SqliteDatabase(':memory:');
    await migrate(db);
    store = new SpyStore(db);
    ids = [];
    for (const name of ['a', 'b', 'c']) {
      ids.push((await store.insertPackage({ ecosystem: 'npm', name, createdAt: NOW, modifiedAt: NOW, rev: 0, access: 'public', description: '', keywords: '', latestVersion: '1.0.0', deletedAt: null })).id);
    }
  });

  it('counts in memory only, then stores everything in one transaction as increments per day', async () => {
    const [a = 0, b = 0] = ids;
    const counter = new DownloadCounter(store, clock, silent);
    for (let i = 0; i < 5; i++) counter.record(a);
    counter.record(b);
    now += DAY_MS; // a new UTC day
    counter.record(a);
    assert.equal(store.transactions, 0, 'recording never touches the store');
    assert.equal(await stored(a), 0);
    assert.equal(counter.pendingTotal(), 7);

    await counter.flush();
    assert.equal(store.transactions, 1, 'one transaction for every package and day');
    assert.equal(counter.pendingTotal(), 0);
    const rows = await store.listDownloadTotals(dayOf(now));
    assert.deepEqual(rows, [{ packageId: a, total: 1 }], 'the new day has its own row');
    assert.equal(await stored(a), 6);
    assert.equal(await stored(b), 1);

    // A second counter (another process) and a later flush add to what is stored.
    const other = new DownloadCounter(store, clock, silent);
    other.record(a);
    counter.record(a);
    await Promise.all([other.flush(), counter.flush()]);
    assert.equal(await stored(a), 8);
  });

  it('an empty flush does no transaction', async () => {
    const counter = new DownloadCounter(store, clock, silent);
    await counter.flush();
    assert.equal(store.transactions, 0);
  });

  it('loses nothing and counts nothing twice when a flush fails', async () => {
    const [a = 0, b = 0] = ids;
    const counter = new DownloadCounter(store, clock, silent);
    counter.record(a);
    counter.record(a);
    counter.record(b);
    store.failNext = 1;
    await assert.rejects(counter.flush(), /connection lost/);
    assert.equal(await stored(a), 0, 'the failed transaction was rolled back');
    assert.equal(counter.pendingTotal(), 3, 'the counts are kept');
    counter.record(a);
    await counter.flush();
    assert.equal(await stored(a), 3);
    assert.equal(await stored(b), 1);
    assert.equal(counter.pendingTotal(), 0);
  });

  it('downloads counted during a flush wait for the next one; overlapping flush calls run one after the other', async () => {
    const [a = 0] = ids;
    const counter = new DownloadCounter(store, clock, silent);
    counter.record(a);
    const first = counter.flush();
    counter.record(a);
    counter.record(a);
    const second = counter.flush();
    await Promise.all([first, second]);
    assert.equal(store.transactions, 2);
    assert.equal(await stored(a), 3);
    assert.equal(counter.pendingTotal(), 0);
  });

  it('flushes on its timer, and stop() stores the rest and does not throw when the store fails', async () => {
    const [a = 0, b = 0] = ids;
    const errors: string[] = [];
    const log: Logger = { ...silent, error: (msg) => void errors.push(msg) };
    const counter = new DownloadCounter(store, clock, log);
    counter.start(5);
    counter.record(a);
    const deadline = Date.now() + 5000;
    while (counter.pendingTotal() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(await stored(a), 1, 'the timer flushed');
    await counter.stop();
    counter.record(b);
    await counter.stop();
    assert.equal(await stored(b), 1, 'stop() flushed what was left');
    counter.record(b);
    store.failNext = 1;
    await counter.stop();
    assert.equal(errors.length, 1, 'a failed final flush is logged');
    assert.equal(await stored(b), 1);
  });
});
