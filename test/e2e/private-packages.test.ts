// Private (restricted) packages with real clients: the owner installs with npm, pnpm and yarn
// using a token; an outsider (another user's token, or no token) gets exactly what a missing
// package gets — 404 for the document, the tarball, the attestations — and no search result.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createUser, type TestUser } from '../support/accounts.ts';
import { CLIENTS, Client } from '../support/clients.ts';
import { escapeName, packageTarball, publishBody, putPublish, request, tarballUrl } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

describe('private packages with npm, pnpm and yarn (sqlite)', () => {
  let registry: TestRegistry;
  let alice: TestUser;
  let bob: TestUser;
  const name = '@alice/private-lib';

  before(async () => {
    registry = await startRegistry();
    alice = await createUser(registry.url, 'alice');
    bob = await createUser(registry.url, 'bob');
    const tarball = packageTarball(name, '1.0.0', { 'secret.js': 'module.exports = "only for alice";\n' });
    const res = await putPublish(registry.url, alice.token, publishBody({ name, version: '1.0.0', tarball, access: 'restricted' }));
    assert.equal(res.status, 201, JSON.stringify(res.body));
  });
  after(async () => registry?.destroy());

  for (const clientName of CLIENTS) {
    it(`${clientName}: the owner installs it with a token`, { timeout: 120_000 }, async () => {
      const client = new Client(clientName, registry.url);
      client.setToken(alice.token);
      const dir = client.project('consumer', { version: '1.0.0', private: true });
      await client.ok(clientName === 'npm' ? ['install', name] : ['add', name], dir);
      const installed = readFileSync(path.join(dir, 'node_modules', '@alice', 'private-lib', 'secret.js'), 'utf8');
      assert.match(installed, /only for alice/);
    });

    it(`${clientName}: another user's token cannot install it, and is told it does not exist`, { timeout: 120_000 }, async () => {
      const client = new Client(clientName, registry.url);
      client.setToken(bob.token);
      const dir = client.project('outsider', { version: '1.0.0', private: true });
      const r = await client.run(clientName === 'npm' ? ['install', name] : ['add', name], dir);
      assert.notEqual(r.code, 0, `${clientName} must fail:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout + r.stderr, /404|not found|Not Found|ERR_PNPM_FETCH_404/i);
    });
  }

  it('answers an outsider exactly as for a missing package: document, tarball, attestations, search', async () => {
    for (const token of [null, bob.token]) {
      const doc = await request('GET', `${registry.url}/${escapeName(name)}`, token);
      const missing = await request('GET', `${registry.url}/${escapeName('@alice/never-published')}`, token);
      assert.equal(doc.status, 404);
      assert.equal(doc.body.code, missing.body.code);
      const tgz = await fetch(tarballUrl(registry.url, name, '1.0.0'), token ? { headers: { authorization: `Bearer ${token}` } } : {});
      assert.equal(tgz.status, 404);
      assert.equal((await request('GET', `${registry.url}/-/npm/v1/attestations/${name}@1.0.0`, token)).status, 404);
      const search = await request('GET', `${registry.url}/-/v1/search?text=private-lib`, token);
      assert.deepEqual((search.body as { objects: unknown[] }).objects, []);
    }
    // The owner sees it (and its tarball is the one published).
    assert.equal((await request('GET', `${registry.url}/${escapeName(name)}`, alice.token)).status, 200);
    const own = await fetch(tarballUrl(registry.url, name, '1.0.0'), { headers: { authorization: `Bearer ${alice.token}` } });
    assert.equal(own.status, 200);
  });

  it('refuses to make an unscoped package private, and keeps a scoped one private across versions', async () => {
    const unscoped = await putPublish(registry.url, alice.token, publishBody({ name: 'alice-unscoped', version: '1.0.0', access: 'restricted' }));
    assert.equal(unscoped.status, 400);
    assert.equal(unscoped.body.code, 'UNSCOPED_CANNOT_BE_RESTRICTED');
    const next = await putPublish(registry.url, alice.token, publishBody({ name, version: '1.1.0', tarball: packageTarball(name, '1.1.0') }));
    assert.equal(next.status, 201);
    assert.equal((await request('GET', `${registry.url}/${escapeName(name)}`)).status, 404, 'a later publish without --access keeps it private');
  });
});
