// Every way a publish (or a later write to a package) can be refused, against the real server on
// every store. Each refusal is checked three ways: the status and stable code (with a message a
// human can act on), nothing stored (no version in the document, no tarball served, no blob for
// the refused bytes), and, where it makes sense, a correct publish of the same name@version
// succeeding afterwards, proving the refusal left no half state behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { createUser, type TestUser } from '../support/accounts.ts';
import { storesUnderTest } from '../support/postgres.ts';
import {
  bareName, escapeName, integrityOf, packageTarball, publishBody, putPublish, request, tarballUrl,
  type ApiResponse, type PublishBody,
} from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { gzipWithZeros, makeTar, makeTarGz, tarHeader, type TarEntrySpec } from '../support/tar-writer.ts';

const MiB = 1024 * 1024;
const MAX_BODY = 200_000;
const MAX_UNPACKED = 5 * MiB;
const MAX_ENTRIES = 100;

interface Doc {
  _rev: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, { dist: { integrity: string; shasum: string; tarball: string }; deprecated?: string; dependencies?: Record<string, string> } & Record<string, unknown>>;
  time: Record<string, unknown>;
  maintainers: Array<{ name: string; email: string }>;
}

/** Status, stable code, and a human message that names what went wrong. */
function assertRefused(res: ApiResponse, status: number, code: string, mentions?: string): void {
  const shown = JSON.stringify(res.body).slice(0, 500);
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${shown}`);
  assert.equal(res.body.code, code, `expected code ${code}: ${shown}`);
  const message = res.body.error;
  assert.equal(typeof message, 'string', `an "error" message: ${shown}`);
  assert.ok((message as string).trim().length > 0, 'the message is not empty');
  if (mentions !== undefined) {
    assert.ok((message as string).toLowerCase().includes(mentions.toLowerCase()), `the message ${JSON.stringify(message)} should mention ${JSON.stringify(mentions)}`);
  }
}

function assertOk(res: ApiResponse, status: number, what: string): void {
  assert.equal(res.status, status, `${what}: expected ${status}, got ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
}

/** Incompressible text (chained hashes), so a tarball carrying it stays about `bytes` long. */
function noise(seed: string, bytes: number): string {
  const parts: string[] = [];
  let h = seed;
  for (let n = 0; n < bytes; n += 88) parts.push((h = createHash('sha512').update(h).digest('base64')));
  return parts.join('');
}

const blobKey = (data: Buffer): string => createHash('sha512').update(data).digest('hex');

interface Raw {
  status?: number;
  body?: Record<string, unknown>;
  error?: string;
  /** Body bytes handed to the socket before the exchange ended. */
  sent: number;
}

/** A PUT whose body is sent chunked (no content-length) from `chunks`, stopping as soon as the server answers or hangs up. */
function streamPut(url: string, headers: Record<string, string>, chunks: Iterable<Buffer>): Promise<Raw> {
  return new Promise((resolve) => {
    const result: Raw = { sent: 0 };
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve(result);
    };
    const req = http.request(url, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      result.status = res.statusCode;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        try {
          result.body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          result.body = { raw: text };
        }
        req.destroy();
        finish();
      });
      res.on('error', (e) => {
        result.error = e.message;
        finish();
      });
    });
    req.on('error', (e) => {
      result.error ??= e.message;
      // A response may still be on its way after a write error; give it a moment.
      setTimeout(finish, 200);
    });
    req.on('close', () => setTimeout(finish, 200));
    const it = chunks[Symbol.iterator]();
    const pump = (): void => {
      for (;;) {
        if (done || result.status !== undefined || result.error !== undefined || req.destroyed) return;
        const next = it.next();
        if (next.done === true) {
          req.end();
          return;
        }
        result.sent += next.value.length;
        if (!req.write(next.value)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

/** Writes `head` and `body` on a raw socket and returns everything the server wrote until it closed. */
function rawExchange(url: string, head: string, body: Buffer): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(u.port), u.hostname);
    let got = '';
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (got += d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.write(head);
    socket.end(body);
  });
}

for (const store of storesUnderTest()) {
  describe(`publish refusals on ${store}`, () => {
    let configDir: string;
    /** Default configuration: most cases. */
    let reg: TestRegistry;
    /** Small body, unpacked-size and entry limits. */
    let limited: TestRegistry;
    /** Unpublish window 0 and nothing allowed after it. */
    let strict: TestRegistry;
    let alice: TestUser;
    let bob: TestUser;
    let carol: TestUser;
    let dave: TestUser;
    let counter = 0;
    const fresh = (prefix: string): string => `${prefix}-${++counter}`;

    before(async () => {
      configDir = mkdtempSync(path.join(os.tmpdir(), 'attestry-refusals-'));
      const limitsFile = path.join(configDir, 'limits.json');
      writeFileSync(limitsFile, JSON.stringify({ limits: { maxBodyBytes: MAX_BODY, maxUnpackedBytes: MAX_UNPACKED, maxTarballEntries: MAX_ENTRIES } }));
      const strictFile = path.join(configDir, 'strict.json');
      writeFileSync(strictFile, JSON.stringify({ unpublish: { windowHours: 0, allowAfterWindowWithoutDependents: false } }));
      [reg, limited, strict] = await Promise.all([
        startRegistry({ store }),
        startRegistry({ store, env: { ATTESTRY_CONFIG: limitsFile } }),
        startRegistry({ store, env: { ATTESTRY_CONFIG: strictFile } }),
      ]);
      [alice, bob, carol, dave] = await Promise.all([
        createUser(reg.url, 'alice'),
        createUser(reg.url, 'bob'),
        createUser(limited.url, 'carol'),
        createUser(strict.url, 'dave'),
      ]);
    });
    after(async () => {
      await Promise.all([reg?.destroy(), limited?.destroy(), strict?.destroy()]);
      if (configDir) rmSync(configDir, { recursive: true, force: true });
    });

    const getDoc = async (r: TestRegistry, name: string, token?: string): Promise<{ status: number; doc: Doc; raw: ApiResponse }> => {
      const raw = await request('GET', `${r.url}/${escapeName(name)}`, token);
      return { status: raw.status, doc: raw.body as unknown as Doc, raw };
    };
    const getTarball = async (r: TestRegistry, name: string, version: string): Promise<{ status: number; data: Buffer }> => {
      const res = await fetch(tarballUrl(r.url, name, version));
      return { status: res.status, data: Buffer.from(await res.arrayBuffer()) };
    };
    const hasBlob = (r: TestRegistry, data: Buffer): boolean => {
      const key = blobKey(data);
      return existsSync(path.join(r.dataDir, 'blobs', key.slice(0, 2), key.slice(2, 4), key));
    };

    /** The version is in no document, no tarball is served for it, and (when given) the refused bytes were never stored. */
    async function assertNothingStored(r: TestRegistry, name: string, version: string, refusedTarball?: Buffer): Promise<void> {
      const { status, doc } = await getDoc(r, name);
      if (status === 200) assert.ok(!(version in doc.versions), `${name}@${version} must not be in the document`);
      else assert.equal(status, 404, `GET /${name}: expected 404 or a document without ${version}, got ${status}`);
      const tgz = await getTarball(r, name, version);
      assert.equal(tgz.status, 404, `the tarball of ${name}@${version} must not be served`);
      if (refusedTarball) assert.equal(hasBlob(r, refusedTarball), false, 'the refused tarball must not be in the blob store');
    }

    /** A correct publish of name@version now succeeds and is served: the refusal left no half state. */
    async function assertPublishes(r: TestRegistry, token: string, name: string, version: string, tarball?: Buffer): Promise<Doc> {
      const body = publishBody({ name, version, ...(tarball ? { tarball } : {}) });
      assertOk(await putPublish(r.url, token, body), 201, `a correct publish of ${name}@${version}`);
      const { status, doc } = await getDoc(r, name, token);
      assert.equal(status, 200);
      const data = Buffer.from(body._attachments[Object.keys(body._attachments)[0] as string]?.data ?? '', 'base64');
      assert.equal(doc.versions[version]?.dist.integrity, integrityOf(data));
      const tgz = await getTarball(r, name, version);
      assert.equal(tgz.status, 200);
      assert.ok(tgz.data.equals(data), 'the served tarball is the published one');
      return doc;
    }

    /** The version-unpublish flow npm runs: PUT the document minus the version, then DELETE its tarball. */
    async function unpublishVersion(r: TestRegistry, token: string, name: string, version: string): Promise<{ put: ApiResponse; del?: ApiResponse }> {
      const { doc } = await getDoc(r, name, token);
      const versions = Object.fromEntries(Object.entries(doc.versions).filter(([v]) => v !== version));
      const tags = Object.fromEntries(Object.entries(doc['dist-tags']).filter(([, v]) => v !== version));
      const put = await request('PUT', `${r.url}/${escapeName(name)}/-rev/${doc._rev}`, token, { ...doc, versions, 'dist-tags': tags });
      if (put.status !== 200) return { put };
      const fresh2 = await getDoc(r, name, token);
      const del = await request('DELETE', `${r.url}/${escapeName(name)}/-/${bareName(name)}-${version}.tgz/-rev/${fresh2.doc._rev}`, token);
      return { put, del };
    }

    const unpublishPackage = async (r: TestRegistry, token: string, name: string): Promise<ApiResponse> => {
      const { doc } = await getDoc(r, name, token);
      return request('DELETE', `${r.url}/${escapeName(name)}/-rev/${doc._rev}`, token);
    };

    const withManifest = (name: string, version: string, files: TarEntrySpec[]): Buffer =>
      makeTarGz([{ path: 'package/package.json', content: JSON.stringify({ name, version }) }, ...files]);

    // ---------- bodies and attachments ----------

    interface BodyCase {
      title: string;
      /** The body to PUT for `name`@1.0.0 (object, or raw text), plus the tarball it carries when that should never be stored. */
      build(name: string): { body: object | string; tarball?: Buffer; alsoAbsent?: string[] };
      status: number;
      code: string;
      mentions?: (name: string) => string;
      todo?: string;
    }

    const V = '1.0.0';
    const bodyCases: BodyCase[] = [
      { title: 'malformed JSON', build: (n) => ({ body: `${JSON.stringify(publishBody({ name: n, version: V })).slice(0, 300)}` }), status: 400, code: 'MALFORMED_JSON', mentions: () => 'JSON' },
      { title: 'a JSON array', build: (n) => ({ body: JSON.stringify([publishBody({ name: n, version: V })]) }), status: 400, code: 'BAD_BODY', mentions: () => 'object' },
      { title: 'a JSON string', build: () => ({ body: JSON.stringify('please publish me') }), status: 400, code: 'BAD_BODY', mentions: () => 'object' },
      { title: 'an empty body', build: () => ({ body: '' }), status: 400, code: 'EMPTY_BODY', mentions: () => 'body' },
      {
        title: 'a wrong dist.integrity',
        build: (n) => {
          const tarball = packageTarball(n, V);
          return { body: publishBody({ name: n, version: V, tarball, integrity: integrityOf(packageTarball(n, V, { 'other.js': '1' })) }), tarball };
        },
        status: 400, code: 'INTEGRITY_MISMATCH', mentions: () => 'integrity',
      },
      {
        title: 'a wrong dist.shasum',
        build: (n) => {
          const tarball = packageTarball(n, V);
          return { body: publishBody({ name: n, version: V, tarball, shasum: 'f'.repeat(40) }), tarball };
        },
        status: 400, code: 'SHASUM_MISMATCH', mentions: () => 'shasum',
      },
      {
        title: 'an attachment length that does not match its data',
        build: (n) => {
          const tarball = packageTarball(n, V);
          return { body: publishBody({ name: n, version: V, tarball, length: tarball.length + 1 }), tarball };
        },
        status: 400, code: 'ATTACHMENT_LENGTH_MISMATCH', mentions: () => 'bytes',
      },
      {
        title: 'attachment data that is not base64',
        build: (n) => {
          const body = publishBody({ name: n, version: V });
          (body._attachments[`${n}-${V}.tgz`] as { data: string }).data = '%%% this is not base64 %%%';
          return { body };
        },
        status: 400, code: 'BAD_ATTACHMENT_DATA', mentions: () => 'base64',
      },
      {
        title: 'no attachment',
        build: (n) => ({ body: { ...publishBody({ name: n, version: V }), _attachments: {} } }),
        status: 400, code: 'BAD_ATTACHMENTS', mentions: () => 'attachment',
      },
      {
        title: 'two attachments',
        build: (n) => {
          const body = publishBody({ name: n, version: V });
          const extra = publishBody({ name: n, version: '1.0.1' });
          return { body: { ...body, _attachments: { ...body._attachments, ...extra._attachments } }, alsoAbsent: ['1.0.1'] };
        },
        status: 400, code: 'BAD_ATTACHMENTS', mentions: (n) => `${n}-${V}.tgz`,
      },
      {
        title: 'an attachment named for another version',
        build: (n) => {
          const tarball = packageTarball(n, V);
          return { body: publishBody({ name: n, version: V, tarball, attachmentName: `${n}-2.0.0.tgz` }), tarball, alsoAbsent: ['2.0.0'] };
        },
        status: 400, code: 'BAD_ATTACHMENTS', mentions: (n) => `${n}-${V}.tgz`,
      },
      // ---------- names and versions in the body ----------
      {
        title: 'a body name that differs from the URL',
        build: (n) => ({ body: publishBody({ name: `${n}-other`, version: V }) }),
        status: 400, code: 'NAME_MISMATCH', mentions: (n) => n,
      },
      {
        title: 'a version object with another name',
        build: (n) => ({ body: publishBody({ name: n, version: V, manifest: { name: `${n}-other` } }) }),
        status: 400, code: 'NAME_MISMATCH', mentions: (n) => `${n}-other`,
      },
      {
        title: 'a version object with another version',
        build: (n) => ({ body: publishBody({ name: n, version: V, manifest: { version: '2.0.0' } }), alsoAbsent: ['2.0.0'] }),
        status: 400, code: 'VERSION_MISMATCH', mentions: () => '2.0.0',
      },
      {
        title: 'two versions in one body',
        build: (n) => {
          const body = publishBody({ name: n, version: V });
          const second = publishBody({ name: n, version: '1.0.1' });
          return {
            body: { ...body, versions: { ...body.versions, ...second.versions }, _attachments: { ...body._attachments, ...second._attachments } },
            alsoAbsent: ['1.0.1'],
          };
        },
        status: 400, code: 'ONE_VERSION_PER_PUBLISH', mentions: () => 'one version',
      },
      {
        title: 'a version that is not strict semver (1.0)',
        build: (n) => ({ body: publishBody({ name: n, version: '1.0', tarball: packageTarball(n, '1.0') }), alsoAbsent: ['1.0'] }),
        status: 400, code: 'INVALID_VERSION', mentions: () => '"1.0"',
      },
      {
        title: 'a version with a leading v (v1.0.0)',
        build: (n) => ({ body: publishBody({ name: n, version: 'v1.0.0', tarball: packageTarball(n, 'v1.0.0') }), alsoAbsent: ['v1.0.0'] }),
        status: 400, code: 'INVALID_VERSION', mentions: () => 'v1.0.0',
      },
      {
        title: 'a dist-tag that is a semver range (1.x)',
        build: (n) => {
          const tarball = packageTarball(n, V);
          return { body: publishBody({ name: n, version: V, tarball, tags: { '1.x': V } }), tarball };
        },
        status: 400, code: 'TAG_IS_RANGE', mentions: () => '1.x',
      },
      // ---------- the tarball's own package.json ----------
      {
        title: "a tarball whose package.json names another package",
        build: (n) => {
          const tarball = packageTarball(`${n}-impostor`, V);
          return { body: publishBody({ name: n, version: V, tarball }), tarball };
        },
        status: 400, code: 'TARBALL_NAME_MISMATCH', mentions: (n) => `${n}-impostor`,
      },
      {
        title: "a tarball whose package.json has another version",
        build: (n) => {
          const tarball = packageTarball(n, '6.6.6');
          return { body: publishBody({ name: n, version: V, tarball }), tarball };
        },
        status: 400, code: 'TARBALL_VERSION_MISMATCH', mentions: () => '6.6.6',
      },
      {
        title: 'a tarball without package/package.json',
        build: (n) => {
          const tarball = makeTarGz([{ path: 'package/index.js', content: 'module.exports = 1;\n' }]);
          return { body: publishBody({ name: n, version: V, tarball }), tarball };
        },
        status: 400, code: 'TARBALL_NO_MANIFEST', mentions: () => 'package/package.json',
      },
      {
        title: 'a tarball whose package.json is not JSON',
        build: (n) => {
          const tarball = makeTarGz([{ path: 'package/package.json', content: `{ "name": "${n}", "version": "${V}", ` }]);
          return { body: publishBody({ name: n, version: V, tarball }), tarball };
        },
        status: 400, code: 'TARBALL_BAD_MANIFEST', mentions: () => 'package.json',
      },
      // ---------- hostile archives ----------
      {
        title: 'an entry package/../../etc/passwd',
        build: (n) => {
          const tarball = withManifest(n, V, [{ path: 'package/../../etc/passwd', content: 'root::0:0::/:/bin/sh\n' }]);
          return { body: publishBody({ name: n, version: V, tarball }), tarball };
        },
        status: 400, code: 'ARCHIVE_PATH_TRAVERSAL', mentions: () => '../../etc/passwd',
      },
      {
        title: 'an absolute entry /etc/passwd',
        build: (n) => {
          const tarball = withManifest(n, V, [{ path: '/etc/passwd', content: 'root::0:0::/:/bin/sh\n' }]);
          return { body: publishBody({ name: n, version: V, tarball }), tarball };
        },
        status: 400, code: 'ARCHIVE_ABSOLUTE_PATH', mentions: () => '/etc/passwd',
      },
      {
        title: 'an entry outside package/',
        build: (n) => {
          const tarball = withManifest(n, V, [{ path: 'elsewhere/install.js', content: 'require("child_process")\n' }]);
          return { body: publishBody({ name: n, version: V, tarball }), tarball };
        },
        status: 400, code: 'ARCHIVE_ENTRY_OUTSIDE_PACKAGE', mentions: () => 'elsewhere/install.js',
      },
      {
        title: 'a symlink that escapes the package',
        build: (n) => {
          const tarball = withManifest(n, V, [{ path: 'package/passwd', type: 'symlink', linkTarget: '../../../etc/passwd' }]);
          return { body: publishBody({ name: n, version: V, tarball }), tarball };
        },
        status: 400, code: 'ARCHIVE_LINK_ESCAPES', mentions: () => 'package/passwd',
      },
      {
        title: 'a hardlink to an absolute path',
        build: (n) => {
          const tarball = withManifest(n, V, [{ path: 'package/shadow', type: 'hardlink', linkTarget: '/etc/shadow' }]);
          return { body: publishBody({ name: n, version: V, tarball }), tarball };
        },
        status: 400, code: 'ARCHIVE_LINK_ESCAPES', mentions: () => 'package/shadow',
      },
      {
        title: 'a tarball that is not gzip',
        build: (n) => {
          const tarball = makeTar([{ path: 'package/package.json', content: JSON.stringify({ name: n, version: V }) }]);
          return { body: publishBody({ name: n, version: V, tarball }), tarball };
        },
        status: 400, code: 'ARCHIVE_NOT_GZIP', mentions: () => 'gzip',
      },
      {
        title: 'a truncated gzip stream',
        build: (n) => {
          const whole = packageTarball(n, V, { 'lib.js': 'x'.repeat(20_000) });
          const tarball = whole.subarray(0, Math.floor(whole.length / 2));
          return { body: publishBody({ name: n, version: V, tarball }), tarball };
        },
        status: 400, code: 'ARCHIVE_CORRUPT', mentions: () => 'gzip',
      },
    ];

    describe('malformed bodies, attachments, names and tarballs', () => {
      for (const c of bodyCases) {
        it(`refuses ${c.title}`, c.todo ? { todo: c.todo } : {}, async () => {
          const name = fresh('refused');
          const { body, tarball, alsoAbsent } = c.build(name);
          const res = await putPublish(reg.url, alice.token, body, {}, name);
          assertRefused(res, c.status, c.code, c.mentions?.(name));
          await assertNothingStored(reg, name, V, tarball);
          for (const v of alsoAbsent ?? []) await assertNothingStored(reg, name, v);
          if (typeof body === 'object' && 'name' in body && body.name !== name) await assertNothingStored(reg, String(body.name), V);
          await assertPublishes(reg, alice.token, name, V);
        });
      }
    });

    describe('invalid new package names', () => {
      const names: Array<[string, () => string]> = [
        ['upper case', () => 'Foo'],
        ['a leading dot', () => '.hidden-pkg'],
        ['a leading underscore', () => '_private-pkg'],
        ['node_modules', () => 'node_modules'],
        ['a Node core module (http)', () => 'http'],
        ['a Node core module (fs)', () => 'fs'],
        ['a scope with an empty name', () => `@${alice.name}/`],
        ['more than 214 characters', () => `long-${'x'.repeat(210)}`],
      ];
      for (const [title, nameOf] of names) {
        it(`refuses ${title}`, async () => {
          const name = nameOf();
          const tarball = packageTarball(name, V);
          const res = await putPublish(reg.url, alice.token, publishBody({ name, version: V, tarball }), {}, name);
          assertRefused(res, 400, 'INVALID_PACKAGE_NAME', name.slice(0, 50));
          await assertNothingStored(reg, name, V, tarball);
        });
      }
    });

    // ---------- size limits ----------

    describe('size limits', () => {
      const bigBody = (name: string): { body: PublishBody; tarball: Buffer } => {
        const tarball = packageTarball(name, V, { 'noise.txt': noise(name, 300_000) });
        const body = publishBody({ name, version: V, tarball });
        const size = Buffer.byteLength(JSON.stringify(body));
        assert.ok(size > 250_000 && size < 400_000, `body is ${size} bytes`);
        return { body, tarball };
      };

      it('refuses a body over the limit (honest content-length) with 413', async () => {
        const name = fresh('too-big');
        const { body, tarball } = bigBody(name);
        const res = await putPublish(limited.url, carol.token, body);
        assertRefused(res, 413, 'BODY_TOO_LARGE', 'limit');
        await assertNothingStored(limited, name, V, tarball);
        await assertPublishes(limited, carol.token, name, V);
      });

      it('refuses a body over the limit sent chunked (no content-length) with 413', async () => {
        const name = fresh('chunked');
        const { body, tarball } = bigBody(name);
        const data = Buffer.from(JSON.stringify(body));
        const chunks = Array.from({ length: Math.ceil(data.length / 16_384) }, (_, i) => data.subarray(i * 16_384, (i + 1) * 16_384));
        const res = await streamPut(`${limited.url}/${name}`, { authorization: `Bearer ${carol.token}` }, chunks);
        await assertNothingStored(limited, name, V, tarball);
        assertOk((await request('GET', `${limited.url}/-/ping`)), 200, 'ping after the refusal');
        assert.equal(res.status, 413, `expected a 413 answer, got ${res.status ?? 'none'} (${res.error ?? ''})`);
        assert.equal(res.body?.code, 'BODY_TOO_LARGE');
        assert.ok(typeof res.body?.error === 'string' && res.body.error.includes('limit'));
      });

      it('stops reading an endless chunked body at the limit', async () => {
        const name = fresh('endless');
        const total = 64 * MiB;
        const chunk = Buffer.alloc(64 * 1024, 'a');
        function* endless(): Generator<Buffer> {
          yield Buffer.from(`{"name":"${name}","_attachments":{"${name}-${V}.tgz":{"data":"`);
          for (let sent = 0; sent < total; sent += chunk.length) yield chunk;
        }
        const started = Date.now();
        const res = await streamPut(`${limited.url}/${name}`, { authorization: `Bearer ${carol.token}` }, endless());
        assert.ok(res.sent < 16 * MiB, `the server should hang up or answer long before 64 MiB; the client got to send ${res.sent} bytes`);
        assert.ok(Date.now() - started < 15_000, 'and quickly');
        if (res.status !== undefined) {
          assert.equal(res.status, 413);
          assert.equal(res.body?.code, 'BODY_TOO_LARGE');
        }
        assertOk(await request('GET', `${limited.url}/-/ping`), 200, 'ping after the refusal');
        await assertNothingStored(limited, name, V);
      });

      it('does not read past a lying small content-length', async () => {
        const name = fresh('lying');
        const { body, tarball } = bigBody(name);
        const data = Buffer.from(JSON.stringify(body));
        const u = new URL(limited.url);
        const head = `PUT /${name} HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${carol.token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`;
        const answer = await rawExchange(limited.url, head, data);
        // The server takes exactly 1000 bytes as the body (truncated JSON) and the rest as the next
        // request, which is garbage: either way the first answer is a 400 and nothing is published.
        const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
        assert.equal(status, '400', `first answer: ${answer.slice(0, 300)}`);
        const json = answer.indexOf('\r\n\r\n{');
        if (json !== -1) assert.match(answer.slice(json, json + 300), /"code":"MALFORMED_JSON"/);
        assertOk(await request('GET', `${limited.url}/-/ping`), 200, 'ping after the refusal');
        await assertNothingStored(limited, name, V, tarball);
        await assertPublishes(limited, carol.token, name, V);
      });

      it('refuses a gzip-encoded body that inflates past the limit', async () => {
        const name = fresh('gz-body');
        // A readme of 300 KB compresses to almost nothing; inflated, the body is over the limit.
        const tarball = packageTarball(name, V);
        const body = publishBody({ name, version: V, tarball, manifest: { readme: 'All work and no play. '.repeat(14_000) } });
        const compressed = gzipSync(JSON.stringify(body));
        assert.ok(compressed.length < MAX_BODY / 10 && Buffer.byteLength(JSON.stringify(body)) > 1.5 * MAX_BODY);
        const res = await putPublish(limited.url, carol.token, compressed, { 'content-encoding': 'gzip' }, name);
        assertRefused(res, 413, 'BODY_TOO_LARGE', 'limit');
        await assertNothingStored(limited, name, V, tarball);
      });

      it('refuses a gzip bomb (50 MiB of zeros) with 413 and stays responsive', async () => {
        const name = fresh('bomb');
        // A real package, then a 4 MiB file of zeros whose body runs on into 50 MiB of zeros.
        const prefix = Buffer.concat([
          makeTar([
            { path: 'package/package.json', content: JSON.stringify({ name, version: V }) },
            { path: 'package/index.js', content: 'module.exports = 0;\n' },
          ], { endOfArchive: false }),
          tarHeader({ name: 'package/zeros.bin', typeflag: '0', size: 4 * MiB }),
        ]);
        const tarball = gzipWithZeros(prefix, 50 * MiB);
        assert.ok(tarball.length < 120_000, `the bomb is small: ${tarball.length} bytes`);
        const started = Date.now();
        const res = await putPublish(limited.url, carol.token, publishBody({ name, version: V, tarball }));
        assertRefused(res, 413, 'ARCHIVE_UNCOMPRESSED_TOO_LARGE', 'bytes');
        assert.ok(Date.now() - started < 10_000, `refused in ${Date.now() - started} ms`);
        const pinged = Date.now();
        assertOk(await request('GET', `${limited.url}/-/ping`), 200, 'ping right after the bomb');
        assert.ok(Date.now() - pinged < 2_000, 'the ping is answered promptly');
        await assertNothingStored(limited, name, V, tarball);
        await assertPublishes(limited, carol.token, name, V);
      });

      it('refuses a tarball with too many entries with 413', async () => {
        const name = fresh('many');
        const files = Object.fromEntries(Array.from({ length: MAX_ENTRIES + 50 }, (_, i) => [`f${i}.js`, `module.exports = ${i};\n`]));
        const tarball = packageTarball(name, V, files);
        const res = await putPublish(limited.url, carol.token, publishBody({ name, version: V, tarball }));
        assertRefused(res, 413, 'ARCHIVE_TOO_MANY_ENTRIES', String(MAX_ENTRIES));
        await assertNothingStored(limited, name, V, tarball);
        await assertPublishes(limited, carol.token, name, V);
      });
    });

    // ---------- republishing ----------

    describe('republishing', () => {
      it('refuses the same name@version with different content (409 VERSION_EXISTS)', async () => {
        const name = fresh('exists');
        const before1 = await assertPublishes(reg, alice.token, name, V);
        const other = packageTarball(name, V, { 'changed.js': 'module.exports = "changed";\n' });
        const res = await putPublish(reg.url, alice.token, publishBody({ name, version: V, tarball: other }));
        assertRefused(res, 409, 'VERSION_EXISTS', `${name}@${V}`);
        const after1 = await getDoc(reg, name, alice.token);
        assert.deepEqual(after1.doc, before1, 'the document is unchanged');
        const served = await getTarball(reg, name, V);
        assert.equal(integrityOf(served.data), before1.versions[V]?.dist.integrity, 'the original tarball is still served');
      });

      it('answers an identical re-PUT (npm retry) with 200 and changes nothing', async () => {
        const name = fresh('retry');
        const body = publishBody({ name, version: V });
        assertOk(await putPublish(reg.url, alice.token, body), 201, 'first publish');
        const first = await getDoc(reg, name, alice.token);
        const again = await putPublish(reg.url, alice.token, body);
        assertOk(again, 200, 'identical re-PUT');
        assert.equal(again.body.ok, true);
        const second = await getDoc(reg, name, alice.token);
        assert.deepEqual(second.doc, first.doc, 'the document (including _rev and time) is unchanged');
        assert.deepEqual(Object.keys(second.doc.versions), [V], 'exactly one version');
        assert.deepEqual(Object.keys(second.doc.time).filter((k) => k !== 'created' && k !== 'modified'), [V], 'exactly one time entry');
        // One release event, not two: the retry is logged as a retry and records nothing.
        const deadline = Date.now() + 3_000;
        let published = 0;
        let retried = 0;
        while (Date.now() < deadline) {
          const mine = reg.records().filter((r) => r.package === name);
          published = mine.filter((r) => r.msg === 'release published').length;
          retried = mine.filter((r) => r.msg === 'identical publish retried').length;
          if (retried > 0) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.equal(published, 1, 'one "release published"');
        assert.equal(retried, 1, 'one "identical publish retried"');
      });

      it('refuses to republish a version removed by the version-unpublish flow (409 VERSION_UNPUBLISHED)', async () => {
        const name = fresh('unpub-version');
        await assertPublishes(reg, alice.token, name, '1.0.0');
        const body = publishBody({ name, version: '1.0.1' });
        assertOk(await putPublish(reg.url, alice.token, body), 201, 'publish 1.0.1');
        const { put, del } = await unpublishVersion(reg, alice.token, name, '1.0.1');
        assertOk(put, 200, 'version unpublish');
        assertOk(del as ApiResponse, 200, 'tarball delete');
        const before1 = await getDoc(reg, name, alice.token);
        // The very same bytes (what a retry would send) and different ones are both refused.
        assertRefused(await putPublish(reg.url, alice.token, body), 409, 'VERSION_UNPUBLISHED', `${name}@1.0.1`);
        const other = publishBody({ name, version: '1.0.1', tarball: packageTarball(name, '1.0.1', { 'new.js': '1' }) });
        assertRefused(await putPublish(reg.url, alice.token, other), 409, 'VERSION_UNPUBLISHED', `${name}@1.0.1`);
        await assertNothingStored(reg, name, '1.0.1');
        assert.deepEqual((await getDoc(reg, name, alice.token)).doc, before1.doc, 'the document is unchanged');
        await assertPublishes(reg, alice.token, name, '1.0.2');
      });

      it('refuses to republish a version of a wholly unpublished package (409 VERSION_UNPUBLISHED)', async () => {
        const name = fresh('unpub-package');
        const body = publishBody({ name, version: V });
        assertOk(await putPublish(reg.url, alice.token, body), 201, 'publish');
        assertOk(await unpublishPackage(reg, alice.token, name), 200, 'unpublish the package');
        assertRefused(await putPublish(reg.url, alice.token, body), 409, 'VERSION_UNPUBLISHED', `${name}@${V}`);
        await assertNothingStored(reg, name, V);
        await assertPublishes(reg, alice.token, name, '1.0.1');
      });
    });

    // ---------- concurrency ----------

    describe('concurrent publishes', () => {
      const name = 'race-pkg';

      it('8 publishes of one new name@version with different content: one 201, seven 409', async () => {
        const bodies = Array.from({ length: 8 }, (_, i) => publishBody({ name, version: V, tarball: packageTarball(name, V, { 'client.js': `module.exports = ${i};\n` }) }));
        const results = await Promise.all(bodies.map((b) => putPublish(reg.url, alice.token, b)));
        const statuses = results.map((r) => r.status);
        assert.equal(statuses.filter((s) => s === 201).length, 1, `exactly one 201: ${JSON.stringify(results.map((r) => [r.status, r.body.code]))}`);
        const losers = results.filter((r) => r.status !== 201);
        assert.equal(losers.length, 7);
        for (const l of losers) assertRefused(l, 409, 'VERSION_EXISTS', `${name}@${V}`);
        const winner = bodies[statuses.indexOf(201)] as PublishBody;
        const winnerTarball = Buffer.from(winner._attachments[`${name}-${V}.tgz`]?.data ?? '', 'base64');
        const { doc } = await getDoc(reg, name);
        assert.deepEqual(Object.keys(doc.versions), [V]);
        assert.equal(doc.versions[V]?.dist.integrity, integrityOf(winnerTarball), "the stored integrity is the winner's");
        const served = await getTarball(reg, name, V);
        assert.ok(served.data.equals(winnerTarball), "the served tarball is the winner's");
      });

      it('8 concurrent publishes of 8 different new versions all land (no lost update)', async () => {
        const versions = Array.from({ length: 8 }, (_, i) => `2.0.${i}`);
        const results = await Promise.all(versions.map((v) => putPublish(reg.url, alice.token, publishBody({ name, version: v }))));
        assert.deepEqual(results.map((r) => r.status), versions.map(() => 201), JSON.stringify(results.map((r) => r.body)));
        const { doc } = await getDoc(reg, name);
        assert.deepEqual(Object.keys(doc.versions).sort(), [V, ...versions].sort());
        for (const v of versions) {
          assert.ok(doc.time[v], `time entry for ${v}`);
          assert.equal((await getTarball(reg, name, v)).status, 200, `tarball of ${v}`);
        }
      });
    });

    // ---------- authorization ----------

    describe('authorization', () => {
      it('refuses an anonymous publish with 401', async () => {
        const name = fresh('anon');
        const tarball = packageTarball(name, V);
        const res = await putPublish(reg.url, null, publishBody({ name, version: V, tarball }));
        assertRefused(res, 401, 'AUTHZ_AUTHENTICATION_REQUIRED', 'log');
        await assertNothingStored(reg, name, V, tarball);
        await assertPublishes(reg, alice.token, name, V);
      });

      it('refuses a garbage bearer token with 401 and a Bearer challenge', async () => {
        const name = fresh('garbage-token');
        const tarball = packageTarball(name, V);
        const res = await putPublish(reg.url, 'atr_this-is-not-a-token', publishBody({ name, version: V, tarball }));
        assertRefused(res, 401, 'INVALID_TOKEN', 'token');
        assert.match(res.headers.get('www-authenticate') ?? '', /Bearer/);
        await assertNothingStored(reg, name, V, tarball);
        await assertPublishes(reg, alice.token, name, V);
      });

      it("refuses a publish into another user's scope (403 AUTHZ_SCOPE_OWNER)", async () => {
        const name = `@${alice.name}/${fresh('scoped')}`;
        const tarball = packageTarball(name, V);
        const res = await putPublish(reg.url, bob.token, publishBody({ name, version: V, tarball, access: 'public' }));
        assertRefused(res, 403, 'AUTHZ_SCOPE_OWNER', `@${alice.name}`);
        await assertNothingStored(reg, name, V, tarball);
        await assertPublishes(reg, alice.token, name, V);
      });

      describe("another user's writes to alice's package", () => {
        const name = 'alices-pkg';
        let snapshot: Doc;

        before(async () => {
          await assertPublishes(reg, alice.token, name, '1.0.0');
          await assertPublishes(reg, alice.token, name, '1.1.0');
          assertOk(await request('PUT', `${reg.url}/-/package/${name}/dist-tags/beta`, alice.token, JSON.stringify('1.0.0')), 201, 'alice tags beta');
          snapshot = (await getDoc(reg, name)).doc;
        });

        const unchanged = async (): Promise<void> => {
          assert.deepEqual((await getDoc(reg, name)).doc, snapshot, "alice's package is unchanged");
          assert.equal((await getTarball(reg, name, '1.1.0')).status, 200);
        };

        it('refuses a new version by bob (403 AUTHZ_OWNER_REQUIRED)', async () => {
          const tarball = packageTarball(name, '2.0.0');
          const res = await putPublish(reg.url, bob.token, publishBody({ name, version: '2.0.0', tarball }));
          assertRefused(res, 403, 'AUTHZ_OWNER_REQUIRED', name);
          await assertNothingStored(reg, name, '2.0.0', tarball);
          await unchanged();
        });

        it("refuses bob replaying alice's exact publish of an existing version (no 200 for a stranger's retry)", async () => {
          const res = await putPublish(reg.url, bob.token, publishBody({ name, version: '1.1.0' }));
          assertRefused(res, 403, 'AUTHZ_OWNER_REQUIRED', name);
          await unchanged();
        });

        it('refuses a deprecation by bob', async () => {
          const doc = structuredClone(snapshot);
          (doc.versions['1.0.0'] as { deprecated?: string }).deprecated = 'hijacked';
          assertRefused(await request('PUT', `${reg.url}/${name}`, bob.token, doc), 403, 'AUTHZ_OWNER_REQUIRED', name);
          await unchanged();
        });

        it('refuses a dist-tag set and a dist-tag removal by bob', async () => {
          assertRefused(await request('PUT', `${reg.url}/-/package/${name}/dist-tags/latest`, bob.token, JSON.stringify('1.0.0')), 403, 'AUTHZ_OWNER_REQUIRED', name);
          assertRefused(await request('PUT', `${reg.url}/-/package/${name}/dist-tags/evil`, bob.token, JSON.stringify('1.1.0')), 403, 'AUTHZ_OWNER_REQUIRED', name);
          assertRefused(await request('DELETE', `${reg.url}/-/package/${name}/dist-tags/beta`, bob.token), 403, 'AUTHZ_OWNER_REQUIRED', name);
          await unchanged();
        });

        it('refuses an unpublish by bob (whole package and one version)', async () => {
          assertRefused(await request('DELETE', `${reg.url}/${name}/-rev/${snapshot._rev}`, bob.token), 403, 'AUTHZ_OWNER_REQUIRED', name);
          const { put } = await unpublishVersion(reg, bob.token, name, '1.1.0');
          assertRefused(put, 403, 'AUTHZ_OWNER_REQUIRED', name);
          await unchanged();
        });

        it('refuses an owner change by bob', async () => {
          const body = { _id: name, _rev: snapshot._rev, maintainers: [{ name: bob.name, email: bob.email }] };
          assertRefused(await request('PUT', `${reg.url}/${name}/-rev/${snapshot._rev}`, bob.token, body), 403, 'AUTHZ_OWNER_REQUIRED', name);
          const both = { ...body, maintainers: [{ name: alice.name, email: alice.email }, { name: bob.name, email: bob.email }] };
          assertRefused(await request('PUT', `${reg.url}/${name}/-rev/${snapshot._rev}`, bob.token, both), 403, 'AUTHZ_OWNER_REQUIRED', name);
          await unchanged();
        });

        it('refuses version changes in a document PUT, even by the owner (403 VERSION_IMMUTABLE)', async () => {
          const deps = structuredClone(snapshot);
          (deps.versions['1.0.0'] as { dependencies?: Record<string, string> }).dependencies = { 'evil-pkg': '*' };
          assertRefused(await request('PUT', `${reg.url}/${name}`, alice.token, deps), 403, 'VERSION_IMMUTABLE', 'dependencies');
          const integrity = structuredClone(snapshot);
          (integrity.versions['1.1.0'] as Doc['versions'][string]).dist.integrity = integrityOf(Buffer.from('something else'));
          (integrity.versions['1.1.0'] as Doc['versions'][string]).deprecated = 'and a deprecation that must not apply either';
          assertRefused(await request('PUT', `${reg.url}/${name}`, alice.token, integrity), 403, 'VERSION_IMMUTABLE', 'dist.integrity');
          await unchanged();
        });

        it('refuses removing the latest tag (400 CANNOT_REMOVE_LATEST)', async () => {
          assertRefused(await request('DELETE', `${reg.url}/-/package/${name}/dist-tags/latest`, alice.token), 400, 'CANNOT_REMOVE_LATEST', 'latest');
          await unchanged();
        });

        it('refuses removing the last owner (400 LAST_OWNER)', async () => {
          const body = { _id: name, _rev: snapshot._rev, maintainers: [] };
          assertRefused(await request('PUT', `${reg.url}/${name}/-rev/${snapshot._rev}`, alice.token, body), 400, 'LAST_OWNER', 'owner');
          await unchanged();
        });

        it('refuses a tag pointing at a version that does not exist (404 VERSION_NOT_FOUND)', async () => {
          assertRefused(await request('PUT', `${reg.url}/-/package/${name}/dist-tags/next`, alice.token, JSON.stringify('9.9.9')), 404, 'VERSION_NOT_FOUND', `${name}@9.9.9`);
          await unchanged();
        });
      });

      it('keeps an unpublished name reserved for its former owner (403 AUTHZ_NAME_RESERVED)', async () => {
        const name = fresh('reserved');
        await assertPublishes(reg, alice.token, name, '1.0.0');
        assertOk(await unpublishPackage(reg, alice.token, name), 200, 'alice unpublishes the package');
        const tarball = packageTarball(name, '2.0.0');
        assertRefused(await putPublish(reg.url, bob.token, publishBody({ name, version: '2.0.0', tarball })), 403, 'AUTHZ_NAME_RESERVED', name);
        await assertNothingStored(reg, name, '2.0.0', tarball);
        const doc = await assertPublishes(reg, alice.token, name, '2.0.0');
        assert.deepEqual(Object.keys(doc.versions), ['2.0.0']);
        assert.deepEqual(doc.maintainers.map((m) => m.name), [alice.name]);
      });
    });

    // ---------- unpublish policy ----------

    describe('unpublish policy', () => {
      it('lets the owner unpublish a version just published (default 72 h window)', async () => {
        const name = fresh('fresh-unpub');
        await assertPublishes(reg, alice.token, name, '1.0.0');
        await assertPublishes(reg, alice.token, name, '1.1.0');
        const { put, del } = await unpublishVersion(reg, alice.token, name, '1.1.0');
        assertOk(put, 200, 'version unpublish');
        assertOk(del as ApiResponse, 200, 'tarball delete');
        await assertNothingStored(reg, name, '1.1.0');
        const { doc } = await getDoc(reg, name);
        assert.deepEqual(Object.keys(doc.versions), ['1.0.0']);
        assert.equal(doc['dist-tags'].latest, '1.0.0');
        assertOk(await unpublishPackage(reg, alice.token, name), 200, 'whole-package unpublish');
        assert.equal((await getDoc(reg, name)).status, 404);
        await assertNothingStored(reg, name, '1.0.0');
      });

      it('refuses every unpublish with windowHours 0 and nothing allowed after it (403 UNPUBLISH_WINDOW_CLOSED)', async () => {
        const name = fresh('closed');
        await assertPublishes(strict, dave.token, name, '1.0.0');
        await assertPublishes(strict, dave.token, name, '1.1.0');
        const snapshot = (await getDoc(strict, name)).doc;
        assertRefused(await unpublishPackage(strict, dave.token, name), 403, 'UNPUBLISH_WINDOW_CLOSED', name);
        const { put } = await unpublishVersion(strict, dave.token, name, '1.1.0');
        assertRefused(put, 403, 'UNPUBLISH_WINDOW_CLOSED', `${name}@1.1.0`);
        assert.deepEqual((await getDoc(strict, name)).doc, snapshot, 'the document is unchanged');
        for (const v of ['1.0.0', '1.1.0']) assert.equal((await getTarball(strict, name, v)).status, 200, `${v} is still served`);
      });
    });
  });
}
