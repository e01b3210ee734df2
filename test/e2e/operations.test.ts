// What an operator relies on: configuration errors stop the start, the first admin can be made
// without a browser, health and metrics answer, logs never carry secrets, and a SIGTERM lets an
// in-flight publish finish.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { NODE, ROOT } from '../support/paths.ts';
import { createUser } from '../support/accounts.ts';
import { packageTarball, publishBody, putPublish } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { storesUnderTest } from '../support/postgres.ts';

function cli(args: string[], env: Record<string, string>, input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ATTESTRY_')));
    const child = spawn(NODE, [path.join(ROOT, 'bin/attestry.js'), ...args], { env: { ...inherited, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('configuration', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attestry-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses to start with an unknown key in the config file, naming it', async () => {
    const file = path.join(dir, 'typo.json');
    writeFileSync(file, JSON.stringify({ prot: 4873 }));
    const r = await cli(['serve'], { ATTESTRY_CONFIG: file, ATTESTRY_DATA_DIR: dir, ATTESTRY_PORT: '0' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown key "prot"/);
  });

  it('refuses a database URL it cannot use', async () => {
    const r = await cli(['serve'], { ATTESTRY_DATABASE_URL: 'mysql://x', ATTESTRY_DATA_DIR: dir, ATTESTRY_PORT: '0' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /postgres:\/\//);
  });

  it('ignores unrelated ATTESTRY_* variables and honours ATTESTRY_PUBLIC_URL in tarball URLs', async () => {
    const registry = await startRegistry({ env: { ATTESTRY_SOMETHING_ELSE: 'x', ATTESTRY_PUBLIC_URL: 'https://registry.example.test/npm/' } });
    try {
      assert.equal(registry.url, 'https://registry.example.test/npm');
      const port = (registry.records().find((r) => r.msg === 'registry listening')?.bound as string).split(':').pop();
      const local = `http://127.0.0.1:${port}`;
      const user = await createUser(local, 'urluser');
      const res = await putPublish(local, user.token, publishBody({ name: 'url-pkg', version: '1.0.0' }));
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const doc = (await (await fetch(`${local}/url-pkg`)).json()) as { versions: Record<string, { dist: { tarball: string } }> };
      assert.equal(doc.versions['1.0.0']?.dist.tarball, 'https://registry.example.test/npm/url-pkg/-/url-pkg-1.0.0.tgz');

      // Moving the registry re-renders what it serves: no tarball URL keeps pointing at the old place.
      await registry.stop();
      const moved = await registry.restart({ ATTESTRY_PUBLIC_URL: 'https://new.example.test' });
      try {
        const movedPort = (moved.records().find((r) => r.msg === 'registry listening')?.bound as string).split(':').pop();
        const movedDoc = (await (await fetch(`http://127.0.0.1:${movedPort}/url-pkg`)).json()) as { versions: Record<string, { dist: { tarball: string } }> };
        assert.equal(movedDoc.versions['1.0.0']?.dist.tarball, 'https://new.example.test/url-pkg/-/url-pkg-1.0.0.tgz');
        assert.ok(moved.records().some((r) => r.msg === 're-rendering served documents'));
      } finally {
        await moved.stop();
      }
    } finally {
      await registry.destroy();
    }
  });
});

describe('two server processes on one SQLite database', () => {
  it('each sees the other\'s writes (remembered ETags are dropped within milliseconds)', async () => {
    const a = await startRegistry({});
    const b = await startRegistry({ dataDir: a.dataDir });
    try {
      const user = await createUser(a.url, 'twoproc');
      for (const [writer, reader, version] of [[a, b, '1.0.0'], [b, a, '1.1.0'], [a, b, '1.2.0']] as const) {
        // Warm the reader's caches, then change the package through the other process.
        await (await fetch(`${reader.url}/two-proc`)).arrayBuffer();
        const res = await putPublish(writer.url, user.token, publishBody({ name: 'two-proc', version }));
        assert.equal(res.status, 201, JSON.stringify(res.body));
        await new Promise((resolve) => setTimeout(resolve, 5));
        const doc = (await (await fetch(`${reader.url}/two-proc`)).json()) as { 'dist-tags': Record<string, string> };
        assert.equal(doc['dist-tags'].latest, version, `${reader.url} sees ${version} published through ${writer.url}`);
      }
    } finally {
      await b.stop();
      await a.destroy();
    }
  });
});

for (const store of storesUnderTest()) {
  describe(`operations (${store})`, () => {
    let registry: TestRegistry;
    after(async () => registry?.destroy());

    it('creates the first admin from the command line while registration is closed', async () => {
      registry = await startRegistry({ store, env: { ATTESTRY_REGISTRATION_OPEN: 'false' } });
      const refused = await fetch(`${registry.url}/-/user/org.couchdb.user:mallory`, {
        method: 'PUT', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'mallory', password: 'mallory-password', email: 'm@example.com' }),
      });
      assert.equal(refused.status, 403);
      assert.equal(((await refused.json()) as { code: string }).code, 'REGISTRATION_CLOSED');

      const made = await cli(['user', 'create', 'root', '--email', 'root@example.com', '--admin', '--password-stdin'], registry.env, 'a long admin passphrase\n');
      assert.equal(made.code, 0, made.stderr);
      assert.match(made.stdout, /created admin user root/);
      const login = await fetch(`${registry.url}/-/user/org.couchdb.user:root`, {
        method: 'PUT', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'root', password: 'a long admin passphrase' }),
      });
      assert.equal(login.status, 201);
      const again = await cli(['user', 'create', 'root', '--email', 'root@example.com', '--password-stdin'], registry.env, 'another passphrase\n');
      assert.equal(again.code, 1);
      assert.match(again.stderr, /USERNAME_TAKEN/);
    });

    it('answers health and Prometheus metrics', async () => {
      const health = await fetch(`${registry.url}/-/health`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { status: string }).status, 'ok');
      await fetch(`${registry.url}/no-such-package`);
      const metrics = await (await fetch(`${registry.url}/-/metrics`)).text();
      assert.match(metrics, /# TYPE attestry_http_requests_total counter/);
      assert.match(metrics, /attestry_http_requests_total\{route="npm.document",method="GET",status="404"\} \d+/);
      assert.match(metrics, /attestry_http_request_duration_seconds_bucket\{route="npm.document",le="\+Inf"\}/);
    });

    it('never writes passwords, tokens or Authorization headers to its logs', async () => {
      const reg2 = await startRegistry({ store });
      try {
        const password = `pw-${randomBytes(8).toString('hex')}`;
        const user = await createUser(reg2.url, 'logcheck', password);
        await putPublish(reg2.url, user.token, publishBody({ name: 'log-pkg', version: '1.0.0' }));
        await fetch(`${reg2.url}/-/whoami`, { headers: { authorization: `Bearer ${user.token}` } });
        await fetch(`${reg2.url}/-/whoami`, { headers: { authorization: `Basic ${Buffer.from(`logcheck:${password}`).toString('base64')}` } });
        const start = (await (await fetch(`${reg2.url}/-/v1/login`, { method: 'POST' })).json()) as { doneUrl: string };
        await fetch(start.doneUrl);
        await fetch(`${reg2.url}/-/user/token/${user.token}`, { method: 'DELETE', headers: { authorization: `Bearer ${user.token}` } });
        const logs = reg2.logs.join('\n');
        assert.ok(reg2.records().some((r) => r.route === 'npm.publish'), 'requests are logged');
        const secret = new URL(start.doneUrl).pathname.split('/').pop() as string;
        for (const s of [password, user.token, secret, Buffer.from(`logcheck:${password}`).toString('base64')]) {
          assert.ok(!logs.includes(s), 'a secret reached the logs');
        }
        assert.doesNotMatch(logs, /authorization"\s*:\s*"(Bearer|Basic)/i);
      } finally {
        await reg2.destroy();
      }
    });

    it('finishes an in-flight publish on SIGTERM, then exits cleanly', async () => {
      const reg3 = await startRegistry({ store });
      try {
        const user = await createUser(reg3.url, 'graceful');
        const tarball = packageTarball('big-pkg', '1.0.0', { 'blob.bin': randomBytes(6 * 1024 * 1024).toString('base64') });
        const pending = putPublish(reg3.url, user.token, publishBody({ name: 'big-pkg', version: '1.0.0', tarball }));
        await new Promise((resolve) => setTimeout(resolve, 30));
        reg3.proc.kill('SIGTERM');
        const res = await pending;
        assert.equal(res.status, 201, JSON.stringify(res.body));
        await reg3.stop();
        assert.equal(reg3.proc.exitCode, 0);
        const restarted = await reg3.restart({});
        try {
          const tgz = await fetch(`${restarted.url}/big-pkg/-/big-pkg-1.0.0.tgz`);
          assert.equal(tgz.status, 200);
          assert.equal(Buffer.from(await tgz.arrayBuffer()).length, tarball.length);
        } finally {
          await restarted.stop();
        }
      } finally {
        await reg3.destroy();
      }
    });
  });
}
