// A publish is atomic: after `kill -9` at any instant there is the whole version or nothing, and
// no row points at a missing blob. Named failpoints kill the server between the blob write and
// the commit, and inside the open transaction; a random-instant run kills it in the middle of a
// stream of publishes. After each crash the server restarts on the same data, `attestry check`
// must pass, every acknowledged version must be whole, and nothing half-written may block a retry.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSigstoreServices } from '../support/sigstore-services.ts';
import { createUser } from '../support/accounts.ts';
import { NODE, ROOT } from '../support/paths.ts';
import { integrityOf, packageTarball, publishBody, putPublish, tarballUrl } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { storesUnderTest } from '../support/postgres.ts';
import { loadConfig } from '../../src/config/config.ts';
import { openStorage } from '../../src/app.ts';

/** The transparency log's size and the package's stored versions, read from the registry's own store. */
async function logAndVersions(registry: TestRegistry, name: string): Promise<{ logSize: number; versions: number; indexed: number }> {
  const { store } = await openStorage(loadConfig({ ...registry.env }));
  try {
    const pkg = await store.findPackage('npm', name);
    const releases = pkg ? await store.listReleases(pkg.id) : [];
    return { logSize: await store.logSize(), versions: releases.length, indexed: new Set(releases.map((r) => r.logIndex)).size };
  } finally {
    await store.close();
  }
}

function runCheck(registry: TestRegistry): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, ...registry.env };
    const child = spawn(NODE, [path.join(ROOT, 'src/cli/main.ts'), 'check'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

/** A version is whole when the document lists it and its tarball downloads with the recorded integrity. */
async function assertWhole(url: string, name: string, version: string, expectedIntegrity: string): Promise<void> {
  const doc = (await (await fetch(`${url}/${name}`)).json()) as { versions?: Record<string, { dist: { integrity: string } }> };
  const v = doc.versions?.[version];
  assert.ok(v, `${name}@${version} is listed`);
  assert.equal(v.dist.integrity, expectedIntegrity);
  const tgz = await fetch(tarballUrl(url, name, version));
  assert.equal(tgz.status, 200);
  assert.equal(integrityOf(Buffer.from(await tgz.arrayBuffer())), expectedIntegrity);
}

async function assertAbsent(url: string, name: string, version: string): Promise<void> {
  const res = await fetch(`${url}/${name}`);
  const doc = (await res.json()) as { versions?: Record<string, unknown> };
  assert.ok(res.status === 404 || !doc.versions?.[version], `${name}@${version} must not be visible`);
  assert.equal((await fetch(tarballUrl(url, name, version))).status, 404);
}

for (const store of storesUnderTest()) {
  describe(`kill -9 during publish (${store})`, () => {
    const cleanup: TestRegistry[] = [];
    after(async () => {
      for (const r of cleanup) await r.destroy().catch(() => undefined);
    });

    for (const point of ['publish.after-blobs', 'publish.before-commit']) {
      it(`leaves nothing behind when killed at ${point}, and a retry succeeds`, async () => {
        const first = await startRegistry({ store, env: { ATTESTRY_FAILPOINT: point } });
        cleanup.push(first);
        const user = await createUser(first.url, 'crasher');
        const name = `crash-${point.replace(/\W/g, '-')}`;
        const tarball = packageTarball(name, '1.0.0', { 'index.js': 'x' });
        const body = publishBody({ name, version: '1.0.0', tarball });
        await assert.rejects(putPublish(first.url, user.token, body), 'the connection dies with the server');
        await first.kill9();
        assert.equal(first.proc.signalCode, 'SIGKILL', 'the failpoint killed the process');

        const second = await first.restart({});
        cleanup.push(second);
        await assertAbsent(second.url, name, '1.0.0');
        assert.deepEqual(await logAndVersions(second, name), { logSize: 0, versions: 0, indexed: 0 }, 'no log entry without its version');
        const check = await runCheck(second);
        assert.equal(check.code, 0, check.out);
        assert.match(check.out, /ok/);

        const retry = await putPublish(second.url, user.token, publishBody({ name, version: '1.0.0', tarball }));
        assert.equal(retry.status, 201, JSON.stringify(retry.body));
        await assertWhole(second.url, name, '1.0.0', integrityOf(tarball));
        assert.deepEqual(await logAndVersions(second, name), { logSize: 1, versions: 1, indexed: 1 });
        await second.stop();
      });
    }

    it('a publish with provenance killed inside its transaction leaves no version, no bundle and no signature; the retry stores all three', async () => {
      const sigstore = await startSigstoreServices();
      try {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'attestry-crash-prov-'));
        const config = path.join(dir, 'config.json');
        writeFileSync(config, JSON.stringify({ provenance: { trustedRoots: [sigstore.writeTrustedRoot(dir)] } }));
        const first = await startRegistry({ store, env: { ATTESTRY_CONFIG: config, ATTESTRY_FAILPOINT: 'publish.before-commit' } });
        cleanup.push(first);
        const user = await createUser(first.url, 'crasher');
        const name = 'crash-provenance';
        const tarball = packageTarball(name, '1.0.0');
        const bundle = await sigstore.provenanceBundle({ name, version: '1.0.0', tarball });
        const body = () => {
          const b = publishBody({ name, version: '1.0.0', tarball });
          b._attachments[`${name}-1.0.0.sigstore`] = { content_type: 'application/vnd.dev.sigstore.bundle.v0.3+json', data: bundle, length: bundle.length };
          return b;
        };
        await assert.rejects(putPublish(first.url, user.token, body()));
        await first.kill9();
        const second = await first.restart({ ATTESTRY_CONFIG: config });
        cleanup.push(second);
        await assertAbsent(second.url, name, '1.0.0');
        assert.equal((await fetch(`${second.url}/-/npm/v1/attestations/${name}@1.0.0`)).status, 404);
        const retry = await putPublish(second.url, user.token, body());
        assert.equal(retry.status, 201, JSON.stringify(retry.body));
        await assertWhole(second.url, name, '1.0.0', integrityOf(tarball));
        const served = await fetch(`${second.url}/-/npm/v1/attestations/${name}@1.0.0`);
        assert.equal(served.status, 200);
        assert.ok((await served.text()).includes(bundle));
        const doc = (await (await fetch(`${second.url}/${name}`)).json()) as { versions: Record<string, { dist: { signatures?: unknown[] } }> };
        assert.equal(doc.versions['1.0.0']?.dist.signatures?.length, 1);
        await second.stop();
      } finally {
        await sigstore.close();
      }
    });

    it('keeps every acknowledged version whole when killed at a random instant during a stream of publishes', async () => {
      let registry = await startRegistry({ store });
      cleanup.push(registry);
      const user = await createUser(registry.url, 'streamer');
      const acknowledged = new Map<string, string>();
      const attempted = new Map<string, string>();
      const publishes: Promise<void>[] = [];
      // Several writers at once, so the kill lands while some are mid-commit.
      for (let w = 0; w < 4; w++) {
        publishes.push((async () => {
          for (let i = 0; i < 200; i++) {
            const version = `1.${w}.${i}`;
            const tarball = packageTarball('stream-pkg', version, { 'index.js': `${w}-${i}`, 'data.bin': 'x'.repeat(20_000 + i) });
            attempted.set(version, integrityOf(tarball));
            try {
              const r = await putPublish(registry.url, user.token, publishBody({ name: 'stream-pkg', version, tarball }));
              if (r.status === 201) acknowledged.set(version, integrityOf(tarball));
            } catch {
              return; // the server is gone
            }
          }
        })());
      }
      await new Promise((resolve) => setTimeout(resolve, 700 + Math.floor(Math.random() * 800)));
      await registry.kill9();
      await Promise.all(publishes);
      assert.ok(acknowledged.size > 0, 'some publishes were acknowledged before the kill');

      registry = await registry.restart({});
      cleanup.push(registry);
      const check = await runCheck(registry);
      assert.equal(check.code, 0, check.out);
      for (const [version, integrity] of acknowledged) await assertWhole(registry.url, 'stream-pkg', version, integrity);
      const doc = (await (await fetch(`${registry.url}/stream-pkg`)).json()) as { versions: Record<string, { dist: { integrity: string } }> };
      for (const [version, v] of Object.entries(doc.versions)) {
        assert.equal(v.dist.integrity, attempted.get(version), `${version} is whole even if its acknowledgement was lost`);
        await assertWhole(registry.url, 'stream-pkg', version, v.dist.integrity);
      }
      // One log entry per stored version, each version with its own index (check above matched them up).
      const stored = Object.keys(doc.versions).length;
      assert.deepEqual(await logAndVersions(registry, 'stream-pkg'), { logSize: stored, versions: stored, indexed: stored });
      // Any version that was attempted but not stored can still be published.
      const lost = [...attempted.keys()].find((v) => !doc.versions[v]);
      if (lost) {
        const tarball = packageTarball('stream-pkg', lost, { 'index.js': 'retry' });
        const r = await putPublish(registry.url, user.token, publishBody({ name: 'stream-pkg', version: lost, tarball }));
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      await registry.stop();
    });
  });
}
