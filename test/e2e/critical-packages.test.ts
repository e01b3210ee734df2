// AUTHN-3.3 end to end: downloads served by the real server are counted (full GETs only, not HEAD
// or 304), stored at shutdown, and the ranking run at start-up makes the most downloaded package
// critical, so its owner (who has no passkey) can no longer publish to it; the other package is
// unaffected.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createUser, type TestUser } from '../support/accounts.ts';
import { storesUnderTest } from '../support/postgres.ts';
import { publishBody, putPublish, tarballUrl, type ApiResponse } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import type { SqlDatabase } from '../../src/storage/metadata/sql/driver.ts';
import { PostgresDatabase } from '../../src/storage/metadata/postgres/postgres-database.ts';
import { SqliteDatabase } from '../../src/storage/metadata/sqlite/sqlite-database.ts';

const status = (res: ApiResponse, expected: number, what: string): void =>
  assert.equal(res.status, expected, `${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 400)}`);

/** The registry's database, opened beside the running server (read-only use). */
function databaseOf(registry: TestRegistry): SqlDatabase {
  const url = registry.env.ATTESTRY_DATABASE_URL;
  return url ? new PostgresDatabase(url, 1) : new SqliteDatabase(path.join(registry.dataDir, 'attestry.db'));
}

for (const kind of storesUnderTest()) {
  describe(`critical packages by downloads (${kind})`, () => {
    let dir: string;
    let registry: TestRegistry;
    let alice: TestUser;
    const busy = `busy-${kind}`;
    const quiet = `quiet-${kind}`;
    const publish = (name: string, version: string) => putPublish(registry.url, alice.token, publishBody({ name, version, registry: registry.url }));

    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'attestry-critical-'));
      const config = path.join(dir, 'config.json');
      writeFileSync(config, JSON.stringify({ security: { criticalTopPercent: 50, criticalMinDownloads: 3 } }));
      registry = await startRegistry({ store: kind, env: { ATTESTRY_CONFIG: config } });
      alice = await createUser(registry.url, `alice-${kind}`);
    });
    after(async () => {
      await registry.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    it('counts full downloads only, and makes the busiest package critical at the next start', async () => {
      status(await publish(busy, '1.0.0'), 201, 'publish busy');
      status(await publish(quiet, '1.0.0'), 201, 'publish quiet');

      const url = tarballUrl(registry.url, busy, '1.0.0');
      let etag = '';
      for (let i = 0; i < 5; i++) {
        const res = await fetch(url);
        assert.equal(res.status, 200);
        await res.arrayBuffer();
        etag = res.headers.get('etag') ?? '';
      }
      assert.ok(etag);
      for (let i = 0; i < 3; i++) {
        const head = await fetch(url, { method: 'HEAD' });
        assert.equal(head.status, 200);
        const cached = await fetch(url, { headers: { 'if-none-match': etag } });
        assert.equal(cached.status, 304);
        await cached.arrayBuffer();
      }
      for (let i = 0; i < 2; i++) await (await fetch(tarballUrl(registry.url, quiet, '1.0.0'))).arrayBuffer();
      const missing = await fetch(tarballUrl(registry.url, busy, '9.9.9'));
      assert.equal(missing.status, 404);
      await missing.arrayBuffer();

      // Counted in memory only: not critical until the counts are stored and ranked.
      status(await publish(busy, '1.0.1'), 201, 'publish before the ranking ran');

      // Shutdown stores the counts; the ranking runs at start-up.
      await registry.stop();
      registry = await registry.restart();

      const refused = await publish(busy, '1.0.2');
      status(refused, 403, 'publish to a package made critical by its downloads');
      assert.equal(refused.body.code, 'AUTHZ_MFA_ENROLLMENT_REQUIRED');
      status(await publish(quiet, '1.0.1'), 201, 'publish to the package below the minimum');

      const db = databaseOf(registry);
      try {
        const counts = await db.all<{ name: unknown; total: unknown }>(
          `SELECT p.name, SUM(d.count) AS total FROM package_downloads d JOIN packages p ON p.id = d.package_id GROUP BY p.name ORDER BY p.name`);
        assert.deepEqual(counts.map((r) => [String(r.name), Number(r.total)]), [[busy, 5], [quiet, 2]], 'HEAD, 304 and 404 are not downloads');
        const flags = await db.all<{ name: unknown; critical: unknown; critical_auto: unknown }>('SELECT name, critical, critical_auto FROM packages ORDER BY name');
        assert.deepEqual(flags.map((r) => [String(r.name), Number(r.critical), Number(r.critical_auto)]), [[busy, 0, 1], [quiet, 0, 0]]);
        const events = await db.all<{ package_name: unknown; data: unknown }>("SELECT package_name, data FROM events WHERE type = 'package.critical-auto'");
        assert.deepEqual(events.map((e) => [String(e.package_name), (JSON.parse(String(e.data)) as { critical: boolean; downloads: number })]),
          [[busy, { critical: true, downloads: 5, windowDays: 30, topPercent: 50, minDownloads: 3 }]]);
      } finally {
        await db.close();
      }
    });
  });
}
