// The transparency log as clients read it over HTTP (docs/transparency.md, "Serving"): the signed
// checkpoint verifies with the served key, tiles rebuild the checkpoint's root, every version's
// inclusion proof and a consistency proof between two checkpoints verify, lookups agree with the
// packument's dist.logIndex, /-/changes pages through everything, caching headers, refusals
// (TLOG_BAD_RANGE, TLOG_NOT_FOUND for restricted packages), the key surviving a restart, and
// transparency.public = false.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createUser, type TestUser } from '../support/accounts.ts';
import { publishBody, putPublish } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { storesUnderTest } from '../support/postgres.ts';
import { openCheckpoint, type Checkpoint } from '../../src/security/transparency/checkpoint.ts';
import { leafHash, rootFromLeafHashes, treeHash, verifyConsistency, verifyInclusion } from '../../src/security/transparency/merkle.ts';
import { decodeEntryBundle, entryBundlePath, hashTilePath, TileHashReader } from '../../src/security/transparency/tiles.ts';
import { decodeEntry } from '../../src/core/transparency/entry.ts';

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

function configFile(content: unknown): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'attestry-tlog-config-')), 'config.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
}

async function getJson(url: string, token?: string): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

for (const store of storesUnderTest()) {
  describe(`transparency log serving (${store})`, () => {
    let registry: TestRegistry;
    let alice: TestUser;
    let bob: TestUser;
    let key: string;
    let first: Checkpoint;
    let latest: Checkpoint;
    const published: Array<{ name: string; version: string }> = [];

    const tlog = (p: string): string => `${registry.url}/-/tlog/${p}`;
    const checkpoint = async (): Promise<Checkpoint> => {
      const res = await fetch(tlog('checkpoint'));
      assert.equal(res.status, 200);
      return openCheckpoint(await res.text(), { logKey: key }).checkpoint;
    };
    /** The timer signs within a second (checkpointIntervalSeconds: 1); wait for a checkpoint of `size`. */
    const checkpointOf = async (size: number): Promise<Checkpoint> => {
      for (let i = 0; i < 100; i++) {
        const c = await checkpoint();
        if (c.size === size) return c;
        assert.ok(c.size < size, `checkpoint size ${c.size} beyond ${size}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no checkpoint of size ${size}`);
    };
    const publish = async (name: string, version: string, access: 'public' | 'restricted' = 'public') => {
      const res = await putPublish(registry.url, alice.token, publishBody({ name, version, access }));
      assert.equal(res.status, 201, JSON.stringify(res.body));
      published.push({ name, version });
    };

    before(async () => {
      registry = await startRegistry({ store, env: { ATTESTRY_CONFIG: configFile({ transparency: { checkpointIntervalSeconds: 1 } }) } });
      alice = await createUser(registry.url, 'alice');
      bob = await createUser(registry.url, 'bob');
      const keyRes = await fetch(tlog('key'));
      assert.equal(keyRes.status, 200);
      key = (await keyRes.text()).replace(/\n$/, '');
      await publish('left-pad', '1.0.0');
      first = await checkpointOf(1);
      await publish('left-pad', '1.1.0');
      await publish('@alice/secret', '1.0.0', 'restricted');
      await publish('@alice/lib', '2.0.0');
      latest = await checkpointOf(4);
    });
    after(async () => registry?.destroy());

    it('serves the verifier key and a checkpoint signed by it for the origin derived from the public URL', async () => {
      const origin = `${registry.url.replace(/^https?:\/\//, '')}/-/tlog`;
      assert.ok(key.startsWith(`${origin}+`), key);
      const res = await fetch(tlog('checkpoint'));
      assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(res.headers.get('cache-control'), 'no-cache');
      const opened = openCheckpoint(await res.text(), { logKey: key, origin });
      assert.equal(opened.checkpoint.size, 4);
      const keyRes = await fetch(tlog('key'));
      assert.match(keyRes.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(await keyRes.text(), `${key}\n`);
      // The key file is a secret: 0600 in <dataDir>/keys.
      assert.equal(statSync(path.join(registry.dataDir, 'keys', 'log-key')).mode & 0o777, 0o600);
    });

    it('rebuilds the checkpoint root from hash tiles and from the entry bundle', async () => {
      const fetched: string[] = [];
      const reader = new TileHashReader(latest.size, async (tile) => {
        const p = hashTilePath(tile);
        fetched.push(p);
        const res = await fetch(tlog(p));
        assert.equal(res.status, 200, p);
        assert.equal(res.headers.get('content-type'), 'application/octet-stream');
        assert.equal(res.headers.get('cache-control'), 'no-cache', 'a partial tile still grows');
        return new Uint8Array(await res.arrayBuffer());
      });
      assert.deepEqual(Buffer.from(await treeHash(latest.size, reader)), Buffer.from(latest.rootHash));
      assert.deepEqual(fetched, ['tile/0/000.p/4']);
      const bundle = await fetch(tlog(entryBundlePath({ index: 0, width: latest.size })));
      assert.equal(bundle.status, 200);
      assert.equal(bundle.headers.get('cache-control'), 'no-cache');
      const entries = decodeEntryBundle(new Uint8Array(await bundle.arrayBuffer()), latest.size);
      assert.deepEqual(Buffer.from(rootFromLeafHashes(entries.map((e) => leafHash(e)))), Buffer.from(latest.rootHash));
      assert.deepEqual(entries.map((e) => decodeEntry(e)).map((e) => 'version' in e && `${e.name}@${e.version}`), published.map((p) => `${p.name}@${p.version}`));
    });

    it('answers 404 for tiles beyond the tree and 400 for non-canonical tile paths', async () => {
      for (const p of ['tile/0/000', 'tile/0/000.p/5', 'tile/1/000.p/1', 'tile/0/001.p/1', 'tile/entries/000.p/5', 'tile/entries/000']) {
        const res = await getJson(tlog(p));
        assert.equal(res.status, 404, p);
        assert.equal(res.body.code, 'TLOG_TILE_NOT_FOUND', p);
      }
      for (const p of ['tile/0/0', 'tile/0/000.p/0', 'tile/0/000.p/256', 'tile/x/000', 'tile/entries/000.p/04', 'tile/64/000']) {
        const res = await getJson(tlog(p));
        assert.equal(res.status, 400, p);
        assert.equal(res.body.code, 'TLOG_BAD_TILE_PATH', p);
      }
    });

    it('looks up each version, agrees with dist.logIndex, and proves its inclusion under the checkpoint', async () => {
      const seen = new Set<number>();
      for (const { name, version } of published) {
        const found = await getJson(tlog(`lookup/npm/${encodeURIComponent(name)}@${version}`), alice.token);
        assert.equal(found.status, 200, `${name}@${version}: ${JSON.stringify(found.body)}`);
        const index = found.body.index as number;
        const bytes = b64(found.body.entry as string);
        const entry = decodeEntry(bytes);
        assert.equal(entry.kind, 'release.published');
        assert.ok(entry.kind === 'release.published' && entry.name === name && entry.version === version);
        seen.add(index);
        const doc = await getJson(`${registry.url}/${name.replace('/', '%2f')}`, alice.token);
        const dist = (doc.body.versions as Record<string, { dist: { logIndex?: number; integrity: string } }>)[version]?.dist;
        assert.equal(dist?.logIndex, index, `${name}@${version} dist.logIndex`);
        assert.equal(`sha512-${Buffer.from(entry.kind === 'release.published' ? entry.artifacts[0]?.sha512 ?? '' : '', 'hex').toString('base64')}`, dist?.integrity);
        const proof = await getJson(tlog(`proof/inclusion?index=${index}&size=${latest.size}`));
        assert.equal(proof.status, 200);
        assert.equal(proof.body.index, index);
        assert.equal(proof.body.size, latest.size);
        assert.deepEqual(b64(proof.body.leafHash as string), leafHash(bytes));
        assert.ok(verifyInclusion(leafHash(bytes), index, latest.size, (proof.body.proof as string[]).map(b64), latest.rootHash), `${name}@${version}`);
        assert.ok(!verifyInclusion(leafHash(bytes), (index + 1) % latest.size, latest.size, (proof.body.proof as string[]).map(b64), latest.rootHash));
        // The same proof by name@version.
        const byName = await getJson(tlog(`lookup/npm/${encodeURIComponent(name)}@${version}?size=${latest.size}`), alice.token);
        assert.deepEqual([byName.body.index, byName.body.size, byName.body.proof], [index, latest.size, proof.body.proof]);
      }
      assert.equal(seen.size, published.length);
      // Scoped names also work unencoded.
      assert.equal((await getJson(tlog('lookup/npm/@alice/lib@2.0.0'))).status, 200);
    });

    it('proves the first checkpoint consistent with the latest', async () => {
      const res = await getJson(tlog(`proof/consistency?from=${first.size}&to=${latest.size}`));
      assert.equal(res.status, 200);
      assert.deepEqual({ from: res.body.from, to: res.body.to }, { from: 1, to: 4 });
      const proof = (res.body.proof as string[]).map(b64);
      assert.ok(verifyConsistency(first.size, latest.size, proof, first.rootHash, latest.rootHash));
      assert.ok(!verifyConsistency(first.size, latest.size, proof, latest.rootHash, latest.rootHash));
      const same = await getJson(tlog('proof/consistency?from=4&to=4'));
      assert.deepEqual(same.body.proof, []);
    });

    it('refuses bad ranges and malformed numbers with 400 TLOG_BAD_RANGE', async () => {
      for (const q of ['proof/inclusion?index=4&size=4', 'proof/inclusion?index=0&size=5', 'proof/inclusion?index=0', 'proof/inclusion?index=-1&size=4',
        'proof/inclusion?index=01&size=4', 'proof/inclusion?index=1.0&size=4', 'proof/inclusion?index=0&size=99999999999999999999',
        'proof/consistency?from=3&to=2', 'proof/consistency?from=1&to=5', 'proof/consistency?from=x&to=2']) {
        const res = await getJson(tlog(q));
        assert.equal(res.status, 400, q);
        assert.equal(res.body.code, 'TLOG_BAD_RANGE', q);
        assert.equal(typeof res.body.error, 'string');
      }
      for (const q of ['since=5', 'limit=0', 'limit=1001', 'since=abc', 'since=-1']) {
        const res = await getJson(`${registry.url}/-/changes?${q}`);
        assert.equal(res.status, 400, q);
        assert.equal(res.body.code, 'TLOG_BAD_RANGE', q);
      }
    });

    it('answers 404 TLOG_NOT_FOUND for a restricted package the caller may not read, exactly as for absent ones', async () => {
      const secret = tlog(`lookup/npm/${encodeURIComponent('@alice/secret')}@1.0.0`);
      assert.equal((await getJson(secret, alice.token)).status, 200);
      const answers = [await getJson(secret), await getJson(secret, bob.token), await getJson(tlog('lookup/npm/%40alice%2fnothing@1.0.0'), bob.token),
        await getJson(tlog('lookup/npm/left-pad@9.9.9')), await getJson(tlog('lookup/pypi/left-pad@1.0.0'))];
      for (const a of answers) {
        assert.equal(a.status, 404);
        assert.deepEqual(a.body, answers[0]?.body);
        assert.equal(a.body.code, 'TLOG_NOT_FOUND');
      }
      for (const bad of ['lookup/npm/left-pad', 'lookup/npm/left-pad@', 'lookup/left-pad@1.0.0', 'lookup/npm/%E0%A4%A@1']) {
        assert.equal((await getJson(tlog(bad))).body.code, 'TLOG_BAD_LOOKUP', bad);
      }
    });

    it('pages through /-/changes oldest first', async () => {
      const seen: Array<{ index: number; entry: { name: string; version: string } }> = [];
      let since = 0;
      for (let round = 0; round < 10; round++) {
        const page = await getJson(`${registry.url}/-/changes?since=${since}&limit=3`);
        assert.equal(page.status, 200);
        assert.equal(page.body.size, 4);
        const results = page.body.results as typeof seen;
        seen.push(...results);
        assert.equal(page.body.next, since + results.length);
        if (results.length === 0) break;
        since = page.body.next as number;
      }
      assert.deepEqual(seen.map((r) => r.index), [0, 1, 2, 3]);
      assert.deepEqual(seen.map((r) => `${r.entry.name}@${r.entry.version}`), published.map((p) => `${p.name}@${p.version}`));
      const all = await getJson(`${registry.url}/-/changes`);
      assert.equal((all.body.results as unknown[]).length, 4, 'since defaults to 0');
    });

    it('serves full tiles as immutable once the log passes 256 entries, and keeps its key across a restart', async () => {
      // 256 more entries: owner changes are the cheapest logged writes (one per add and remove).
      const pkg = 'left-pad';
      for (let i = 0; i < 127; i++) {
        for (const method of ['add', 'remove'] as const) {
          const doc = (await getJson(`${registry.url}/${pkg}`, alice.token)).body;
          const maintainers = method === 'add' ? [{ name: 'alice' }, { name: 'bob' }] : [{ name: 'alice' }];
          const res = await fetch(`${registry.url}/${pkg}/-rev/${doc._rev as string}`, {
            method: 'PUT', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json', 'npm-command': 'owner' },
            body: JSON.stringify({ _id: pkg, _rev: doc._rev, name: pkg, maintainers }),
          });
          assert.equal(res.status, 200, await res.text());
        }
      }
      const size = 4 + 254;
      const c = await checkpointOf(size);
      for (const p of ['tile/0/000', 'tile/entries/000', 'tile/1/000.p/1']) {
        const res = await fetch(tlog(p));
        assert.equal(res.status, 200, p);
        assert.equal(res.headers.get('cache-control'), p.includes('.p/') ? 'no-cache' : 'public, max-age=31536000, immutable', p);
      }
      assert.equal((await fetch(tlog('tile/0/000'))).headers.get('content-length'), '8192');
      const reader = new TileHashReader(size, async (tile) => new Uint8Array(await (await fetch(tlog(hashTilePath(tile)))).arrayBuffer()));
      assert.deepEqual(Buffer.from(await treeHash(size, reader)), Buffer.from(c.rootHash));

      // A restart (a new port, so another public URL) keeps the key and the log's origin.
      const oldKey = key;
      await registry.stop();
      registry = await registry.restart({ ATTESTRY_CONFIG: configFile({ transparency: { public: false } }) });
      const anonymous = await getJson(tlog('key'));
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.body.code, 'TLOG_LOGIN_REQUIRED');
      assert.equal((await getJson(`${registry.url}/-/changes`)).status, 401);
      const res = await fetch(tlog('key'), { headers: { authorization: `Bearer ${alice.token}` } });
      assert.equal(await res.text(), `${oldKey}\n`);
      const cp = await fetch(tlog('checkpoint'), { headers: { authorization: `Bearer ${alice.token}` } });
      assert.equal(openCheckpoint(await cp.text(), { logKey: oldKey }).checkpoint.size, size);
    });
  });
}
