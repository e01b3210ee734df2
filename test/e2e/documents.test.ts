// The documents clients read: both forms with `time` and `_rev`, distinct strong ETags per form
// with Vary: Accept, 304 revalidation, gzip and brotli that decode to the same bytes, every
// spelling of a scoped name, version and tag lookups, tarball caching headers, and restricted
// packages that look exactly like missing ones.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { createUser, type TestUser } from '../support/accounts.ts';
import { packageTarball, publishBody, putPublish } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { storesUnderTest } from '../support/postgres.ts';

const CORGI = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';

for (const store of storesUnderTest()) {
  describe(`served documents (${store})`, () => {
    let registry: TestRegistry;
    let alice: TestUser;
    let bob: TestUser;

    before(async () => {
      registry = await startRegistry({ store });
      alice = await createUser(registry.url, 'alice');
      bob = await createUser(registry.url, 'bob');
      for (const version of ['1.0.0', '1.1.0', '2.0.0-beta.1']) {
        const tags = version.includes('beta') ? { next: version } : { latest: version };
        const readme = 'A readme. '.repeat(200);
        const res = await putPublish(registry.url, alice.token, publishBody({
          name: '@alice/lib', version, tags, access: 'public',
          manifest: { description: 'a library', keywords: ['lib'], readme, dependencies: { 'left-pad': '^1.0.0' }, scripts: { postinstall: 'node x.js' } },
          // The install-script flag comes from the tarball's own package.json, not from the body.
          tarball: packageTarball('@alice/lib', version, { 'lib.js': version, 'README.md': readme }, { scripts: { postinstall: 'node x.js' } }),
        }));
        assert.equal(res.status, 201, JSON.stringify(res.body));
      }
      const secret = await putPublish(registry.url, alice.token, publishBody({ name: '@alice/secret', version: '1.0.0', access: 'restricted' }));
      assert.equal(secret.status, 201, JSON.stringify(secret.body));
    });
    after(async () => registry?.destroy());

    it('serves the full document with time, _rev, maintainers, readme and computed fields', async () => {
      const res = await fetch(`${registry.url}/@alice%2flib`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/json');
      const doc = (await res.json()) as Record<string, unknown> & { versions: Record<string, Record<string, unknown>>; time: Record<string, string> };
      assert.match(doc._rev as string, /^\d+-[0-9a-f]{16}$/);
      assert.deepEqual(doc['dist-tags'], { latest: '1.1.0', next: '2.0.0-beta.1' });
      assert.deepEqual(Object.keys(doc.versions), ['1.0.0', '1.1.0', '2.0.0-beta.1']);
      for (const v of ['1.0.0', '1.1.0', '2.0.0-beta.1', 'created', 'modified']) assert.ok(Date.parse(doc.time[v] as string), `time.${v}`);
      assert.deepEqual(doc.maintainers, [{ name: 'alice', email: 'alice@example.com' }]);
      assert.match(doc.readme as string, /A readme/);
      const v = doc.versions['1.1.0'] as Record<string, unknown>;
      assert.equal(v.hasInstallScript, true, 'computed from the tarball');
      assert.equal(v.readme, undefined, 'readmes live at the top level only');
      assert.equal((v.dist as { fileCount: number }).fileCount, 4, 'package.json, index.js, lib.js, README.md');
    });

    it('serves the abbreviated document to installers, with time and a distinct ETag', async () => {
      const full = await fetch(`${registry.url}/@alice%2flib`);
      const corgi = await fetch(`${registry.url}/@alice%2flib`, { headers: { accept: CORGI } });
      assert.equal(corgi.headers.get('content-type'), 'application/vnd.npm.install-v1+json');
      assert.match(corgi.headers.get('vary') ?? '', /Accept/);
      assert.match(full.headers.get('vary') ?? '', /Accept/);
      const fullTag = full.headers.get('etag');
      const corgiTag = corgi.headers.get('etag');
      assert.match(fullTag ?? '', /^"[\w-]+"$/, 'a strong ETag');
      assert.notEqual(fullTag, corgiTag);
      const doc = (await corgi.json()) as { versions: Record<string, Record<string, unknown>>; time: Record<string, string>; modified: string };
      assert.ok(doc.time['1.1.0'] && doc.modified);
      const v = doc.versions['1.1.0'] as Record<string, unknown>;
      assert.deepEqual(v.dependencies, { 'left-pad': '^1.0.0' });
      assert.equal(v.description, undefined, 'only installer fields');
      assert.equal(v.hasInstallScript, true);
    });

    it('answers 304 to a matching If-None-Match for each form, and 200 after a change', async () => {
      for (const accept of ['application/json', CORGI]) {
        const first = await fetch(`${registry.url}/@alice%2flib`, { headers: { accept } });
        const etag = first.headers.get('etag') as string;
        await first.arrayBuffer();
        const again = await fetch(`${registry.url}/@alice%2flib`, { headers: { accept, 'if-none-match': etag } });
        assert.equal(again.status, 304);
        assert.equal(again.headers.get('etag'), etag);
        const weak = await fetch(`${registry.url}/@alice%2flib`, { headers: { accept, 'if-none-match': `W/${etag}` } });
        assert.equal(weak.status, 304);
      }
      const before = (await fetch(`${registry.url}/@alice%2flib`)).headers.get('etag') as string;
      const tag = await fetch(`${registry.url}/-/package/@alice%2flib/dist-tags/stable`, {
        method: 'PUT', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' }, body: '"1.0.0"',
      });
      assert.equal(tag.status, 201);
      const changed = await fetch(`${registry.url}/@alice%2flib`, { headers: { 'if-none-match': before } });
      assert.equal(changed.status, 200, 'a write changes the ETag');
    });

    it('serves gzip and brotli that decode to exactly the plain bytes', async () => {
      const plain = Buffer.from(await (await fetch(`${registry.url}/@alice%2flib`, { headers: { 'accept-encoding': 'identity' } })).arrayBuffer());
      // fetch would decode transparently; read the raw bytes through node:http instead.
      const raw = async (encoding: string) => {
        const { request } = await import('node:http');
        return new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
          const req = request(`${registry.url}/@alice%2flib`, { headers: { 'accept-encoding': encoding } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
          });
          req.on('error', reject);
          req.end();
        });
      };
      const gz = await raw('gzip');
      assert.equal(gz.encoding, 'gzip');
      assert.deepEqual(gunzipSync(gz.body), plain);
      const br = await raw('gzip, deflate, br');
      assert.equal(br.encoding, 'br');
      assert.deepEqual(brotliDecompressSync(br.body), plain);
    });

    it('accepts every spelling of a scoped name', async () => {
      const tags = new Set<string>();
      for (const path of ['/@alice%2flib', '/@alice%2Flib', '/@alice/lib', '/%40alice%2flib']) {
        const res = await fetch(`${registry.url}${path}`);
        assert.equal(res.status, 200, path);
        tags.add(res.headers.get('etag') as string);
        await res.arrayBuffer();
      }
      assert.equal(tags.size, 1);
      for (const path of ['/@alice/lib/-/lib-1.0.0.tgz', '/@alice%2flib/-/lib-1.0.0.tgz', '/@alice%2Flib/-/lib-1.0.0.tgz']) {
        const res = await fetch(`${registry.url}${path}`);
        assert.equal(res.status, 200, path);
        await res.arrayBuffer();
      }
    });

    it('serves one version by number or tag', async () => {
      const byTag = (await (await fetch(`${registry.url}/@alice%2flib/latest`)).json()) as { version: string };
      assert.equal(byTag.version, '1.1.0');
      const byVersion = (await (await fetch(`${registry.url}/@alice%2flib/1.0.0`)).json()) as { version: string };
      assert.equal(byVersion.version, '1.0.0');
      assert.equal((await fetch(`${registry.url}/@alice%2flib/9.9.9`)).status, 404);
    });

    it('serves tarballs as immutable, with an ETag that revalidates', async () => {
      const res = await fetch(`${registry.url}/@alice/lib/-/lib-1.0.0.tgz`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('cache-control') ?? '', /immutable/);
      const body = Buffer.from(await res.arrayBuffer());
      assert.deepEqual(body, packageTarball('@alice/lib', '1.0.0', { 'lib.js': '1.0.0', 'README.md': 'A readme. '.repeat(200) }, { scripts: { postinstall: 'node x.js' } }));
      const again = await fetch(`${registry.url}/@alice/lib/-/lib-1.0.0.tgz`, { headers: { 'if-none-match': res.headers.get('etag') as string } });
      assert.equal(again.status, 304);
      assert.equal((await fetch(`${registry.url}/@alice/lib/-/lib-9.9.9.tgz`)).status, 404);
      const head = await fetch(`${registry.url}/@alice/lib/-/lib-1.0.0.tgz`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(Number(head.headers.get('content-length')), body.length);
    });

    it('hides restricted packages from everyone but their owners, as 404 not 403', async () => {
      const missing = await fetch(`${registry.url}/@alice%2fnothing-here`);
      const anon = await fetch(`${registry.url}/@alice%2fsecret`);
      const other = await fetch(`${registry.url}/@alice%2fsecret`, { headers: { authorization: `Bearer ${bob.token}` } });
      assert.equal(anon.status, 404);
      assert.equal(other.status, 404);
      const shape = (b: { error: string; code: string }, name: string) => ({ code: b.code, error: b.error.replace(name, '<name>') });
      const missingBody = shape((await missing.json()) as { error: string; code: string }, '@alice/nothing-here');
      assert.deepEqual(shape((await anon.json()) as { error: string; code: string }, '@alice/secret'), missingBody, 'same answer as a missing package');
      assert.deepEqual(shape((await other.json()) as { error: string; code: string }, '@alice/secret'), missingBody);
      for (const tgz of ['/@alice/secret/-/secret-1.0.0.tgz']) {
        assert.equal((await fetch(`${registry.url}${tgz}`)).status, 404);
        assert.equal((await fetch(`${registry.url}${tgz}`, { headers: { authorization: `Bearer ${bob.token}` } })).status, 404);
        assert.equal((await fetch(`${registry.url}${tgz}`, { headers: { authorization: `Bearer ${alice.token}` } })).status, 200);
      }
      const own = await fetch(`${registry.url}/@alice%2fsecret`, { headers: { authorization: `Bearer ${alice.token}` } });
      assert.equal(own.status, 200);
      assert.match(own.headers.get('cache-control') ?? '', /private/);
      const search = (await (await fetch(`${registry.url}/-/v1/search?text=secret`)).json()) as { objects: unknown[] };
      assert.equal(search.objects.length, 0, 'not found by search either');
      const vis = await fetch(`${registry.url}/-/package/@alice%2fsecret/visibility`, { headers: { authorization: `Bearer ${alice.token}` } });
      assert.deepEqual(await vis.json(), { public: false, mfa: 'none' });
    });
  });
}
