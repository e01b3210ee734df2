// One scenario, every client, every store: npm 11, pnpm 12 and yarn 4 drive a real registry on
// SQLite and on PostgreSQL through login, publish, install, tags, deprecation, unpublish,
// owners, tokens and search. Where a client has no such command the test says so and skips.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLIENTS, Client, type Capability, type ClientName } from '../support/clients.ts';
import { completeWebLogin, createUser, type TestUser } from '../support/accounts.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { storesUnderTest } from '../support/postgres.ts';

const LOGIN_URL = /(https?:\/\/\S+\/-\/web\/login\/[A-Za-z0-9_-]+)/;

async function getJson(url: string, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

for (const store of storesUnderTest()) {
  describe(`real clients against a registry on ${store}`, () => {
    let registry: TestRegistry;
    let configDir: string;

    before(async () => {
      // Window 0: every unpublish is judged by the after-window rule (no dependents, one owner),
      // so one registry shows both an allowed and a refused unpublish.
      configDir = path.join(os.tmpdir(), `attestry-cfg-${process.pid}-${store}`);
      rmSync(configDir, { recursive: true, force: true });
      await import('node:fs').then((fs) => fs.mkdirSync(configDir, { recursive: true }));
      const configFile = path.join(configDir, 'config.json');
      writeFileSync(configFile, JSON.stringify({ unpublish: { windowHours: 0 } }));
      registry = await startRegistry({ store, env: { ATTESTRY_CONFIG: configFile } });
    });
    after(async () => {
      await registry?.destroy();
      rmSync(configDir, { recursive: true, force: true });
    });

    for (const clientName of CLIENTS) {
      describe(clientName, () => {
        let client: Client;
        let user: TestUser;
        const name = `demo-${clientName}`;
        const scoped = () => `@${user.name}/scoped-${clientName}`;
        const skipIf = (t: { skip(reason: string): void }, cap: Capability) => {
          const why = client.unsupported(cap);
          if (why) t.skip(why);
          return Boolean(why);
        };

        before(() => {
          client = new Client(clientName, registry.url);
        });
        after(() => client?.cleanup());

        it('creates an account and logs in through the web flow', async (t) => {
          const username = `user-${clientName}`;
          const password = `pw-${clientName}-correct-horse`;
          if (clientName === 'yarn') {
            // yarn only speaks the web login to the public registry; it gets its token the
            // legacy way every private registry's yarn users do: from an account made elsewhere.
            user = await createUser(registry.url, username, password);
            client.setToken(user.token);
            t.diagnostic('yarn: account created over HTTP, token configured in .yarnrc.yml');
            return;
          }
          const dir = client.project('login-probe', { version: '0.0.0' });
          const args = clientName === 'npm' ? ['adduser'] : ['login'];
          if (clientName === 'pnpm') await createUser(registry.url, username, password);
          const r = await client.ok(args, dir, {
            on: [[LOGIN_URL, async (m) => {
              await completeWebLogin(m[1] as string, { name: username, password, email: `${username}@example.com` });
              return '';
            }]],
          });
          assert.match(r.stdout + r.stderr, /Logged in/i);
          const saved = clientName === 'pnpm'
            ? readFileSync(path.join(client.home, '.config', 'pnpm', 'config.yaml'), 'utf8')
            : readFileSync(path.join(client.home, '.npmrc'), 'utf8');
          const token = /(?:_authToken=|authToken: )(atr_\w+)/.exec(saved)?.[1];
          assert.ok(token, `the client saved a token:\n${saved}`);
          user = { name: username, password, email: `${username}@example.com`, token };
          client.setToken(token);
        });

        it('logs in through the legacy (CouchDB) flow', async (t) => {
          if (skipIf(t, 'login-legacy')) return;
          const dir = client.project('legacy-login', { version: '0.0.0' });
          client.setToken(null);
          await client.ok(['login', '--auth-type=legacy'], dir, {
            on: [[/Username:/, () => `${user.name}\n`], [/Password:/, () => `${user.password}\n`]],
          });
          const token = /_authToken=(atr_\w+)/.exec(readFileSync(path.join(client.home, '.npmrc'), 'utf8'))?.[1];
          assert.ok(token);
          assert.notEqual(token, user.token, 'a new session token');
          const who = await getJson(`${registry.url}/-/whoami`, token);
          assert.deepEqual(who.body, { username: user.name });
          client.setToken(user.token);
        });

        it('creates an account through the legacy (CouchDB) adduser flow', async (t) => {
          if (skipIf(t, 'login-legacy')) return;
          const dir = client.project('legacy-adduser', { version: '0.0.0' });
          client.setToken(null);
          const newcomer = `newcomer-${clientName}`;
          await client.ok(['adduser', '--auth-type=legacy'], dir, {
            on: [[/Username:/, () => `${newcomer}\n`], [/Password:/, () => 'newcomer-password\n'], [/Email/, () => `${newcomer}@example.com\n`]],
          });
          const token = /_authToken=(atr_\w+)/.exec(readFileSync(path.join(client.home, '.npmrc'), 'utf8'))?.[1];
          assert.deepEqual((await getJson(`${registry.url}/-/whoami`, token)).body, { username: newcomer });
          client.setToken(user.token);
        });

        it('says who is logged in', async () => {
          const w = await client.whoami(client.project('whoami', { version: '0.0.0' }));
          assert.equal(w.code, 0, w.stderr);
          assert.match(w.stdout, new RegExp(user.name));
        });

        it('publishes an unscoped and a scoped package', async () => {
          const dir = client.project(name, { version: '1.0.0', description: `demo for ${clientName}`, main: 'index.js', keywords: ['attestry-demo'] }, { 'index.js': 'module.exports = "v1";\n' });
          await client.ok(...client.publishArgs(dir));
          const doc = await getJson(`${registry.url}/${name}`);
          assert.equal(doc.status, 200);
          const v = (doc.body.versions as Record<string, Record<string, unknown>>)['1.0.0'] as Record<string, unknown>;
          const dist = v.dist as Record<string, string>;
          assert.equal(dist.tarball, `${registry.url}/${name}/-/${name}-1.0.0.tgz`, 'tarball URL on our own origin');
          assert.match(dist.integrity as string, /^sha512-/);
          assert.deepEqual(v._npmUser, { name: user.name, email: user.email });
          assert.ok((doc.body.time as Record<string, string>)['1.0.0'], 'time entry for the version');

          const sdir = client.project(scoped(), { version: '1.0.0', main: 'index.js' }, { 'index.js': 'module.exports = "scoped";\n' });
          const r = await client.publish(sdir, clientName === 'yarn' ? [] : ['--access', 'public']);
          assert.equal(r.code, 0, r.stdout + r.stderr);
          const enc = scoped().replace('/', '%2f');
          const sdoc = await getJson(`${registry.url}/${enc}`, user.token);
          assert.equal(sdoc.status, 200);
          assert.equal(sdoc.body.name, scoped());
        });

        it('installs from a clean cache, then again exactly from the lockfile', async () => {
          const consumer = client.project(`consumer-${clientName}`, { version: '1.0.0', private: true });
          await client.ok(clientName === 'npm' ? ['install', name, scoped()] : ['add', name, scoped()], consumer);
          assert.equal(readFileSync(path.join(consumer, 'node_modules', name, 'index.js'), 'utf8'), 'module.exports = "v1";\n');
          assert.ok(existsSync(path.join(consumer, 'node_modules', ...scoped().split('/'), 'index.js')));
          const lock = { npm: 'package-lock.json', pnpm: 'pnpm-lock.yaml', yarn: 'yarn.lock' }[clientName as ClientName];
          assert.match(readFileSync(path.join(consumer, lock), 'utf8'), /sha512-|checksum/);

          // A newer version appears; the lockfile must still pin 1.0.0 on a clean machine.
          const dir = client.project(name, { version: '1.1.0', main: 'index.js' }, { 'index.js': 'module.exports = "v1.1";\n' });
          await client.ok(...client.publishArgs(dir));
          rmSync(path.join(consumer, 'node_modules'), { recursive: true, force: true });
          rmSync(path.join(consumer, '.yarn-cache'), { recursive: true, force: true });
          client.clearCaches();
          const r = await client.frozenInstall(consumer);
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.equal(readFileSync(path.join(consumer, 'node_modules', name, 'index.js'), 'utf8'), 'module.exports = "v1";\n');
        });

        it('views package metadata and pings the registry', async () => {
          const dir = client.project('view', { version: '0.0.0' });
          const r = await client.ok(clientName === 'yarn' ? ['npm', 'info', name, '--json'] : ['view', name, '--json'], dir);
          const info = JSON.parse(r.stdout) as { versions: string[]; 'dist-tags': Record<string, string> };
          assert.deepEqual(info.versions, ['1.0.0', '1.1.0']);
          assert.equal(info['dist-tags'].latest, '1.1.0');
          if (clientName !== 'yarn') await client.ok(['ping'], dir);
          if (clientName === 'npm') {
            const star = await client.ok(['star', name], dir);
            assert.ok(star.stdout.includes(`(*) ${name}`) || star.stdout.includes(`★ ${name}`), star.stdout);
          }
        });

        it('adds, lists and removes dist-tags', async () => {
          const dir = client.project('tags', { version: '0.0.0' });
          await client.ok(clientName === 'yarn' ? ['npm', 'tag', 'add', `${name}@1.0.0`, 'stable'] : ['dist-tag', 'add', `${name}@1.0.0`, 'stable'], dir);
          const tags = await getJson(`${registry.url}/-/package/${name}/dist-tags`);
          assert.deepEqual(tags.body, { latest: '1.1.0', stable: '1.0.0' });
          const ls = await client.ok(clientName === 'yarn' ? ['npm', 'tag', 'list', name] : ['dist-tag', 'ls', name], dir);
          assert.match(ls.stdout, /stable/);
          await client.ok(clientName === 'yarn' ? ['npm', 'tag', 'remove', name, 'stable'] : ['dist-tag', 'rm', name, 'stable'], dir);
          assert.deepEqual((await getJson(`${registry.url}/-/package/${name}/dist-tags`)).body, { latest: '1.1.0' });
        });

        it('deprecates and undeprecates a version', async (t) => {
          if (skipIf(t, 'deprecate')) return;
          const dir = client.project('deprecate', { version: '0.0.0' });
          await client.ok(['deprecate', `${name}@1.0.0`, 'use 1.1.0'], dir);
          const v = async () => ((await getJson(`${registry.url}/${name}`)).body.versions as Record<string, Record<string, unknown>>)['1.0.0'];
          assert.equal((await v())?.deprecated, 'use 1.1.0');
          await client.ok(clientName === 'pnpm' ? ['undeprecate', `${name}@1.0.0`] : ['deprecate', `${name}@1.0.0`, ''], dir);
          assert.equal((await v())?.deprecated, undefined);
        });

        it('unpublishes within policy, never reuses the version, and is refused outside policy', async (t) => {
          if (skipIf(t, 'unpublish')) return;
          const gone = `gone-${clientName}`;
          for (const version of ['1.0.0', '1.0.1']) {
            await client.ok(...client.publishArgs(client.project(gone, { version }, { 'index.js': version })));
          }
          const dir = client.project('unpub', { version: '0.0.0' });
          await client.ok(['unpublish', `${gone}@1.0.1`, ...(clientName === 'pnpm' ? ['--force'] : [])], dir);
          const doc = await getJson(`${registry.url}/${gone}`);
          assert.deepEqual(Object.keys(doc.body.versions as object), ['1.0.0']);
          assert.deepEqual(doc.body['dist-tags'], { latest: '1.0.0' });

          const again = await client.publish(client.project(gone, { version: '1.0.1' }, { 'index.js': 'different' }));
          assert.notEqual(again.code, 0, 'an unpublished version can never be published again');
          assert.match(again.stdout + again.stderr, /never be reused/);

          await client.ok(['unpublish', gone, '--force'], dir);
          const tomb = await getJson(`${registry.url}/${gone}`);
          assert.equal(tomb.status, 404);
          assert.deepEqual((tomb.body.time as { unpublished: { versions: string[] } }).unpublished.versions.sort(), ['1.0.0', '1.0.1']);

          // Outside policy: another package depends on ours.
          await client.ok(...client.publishArgs(client.project(`dependent-${clientName}`, { version: '1.0.0', dependencies: { [name]: '^1.0.0' } })));
          const refused = await client.run(['unpublish', `${name}@1.0.0`, ...(clientName === 'pnpm' ? ['--force'] : [])], dir);
          assert.notEqual(refused.code, 0);
          assert.match(refused.stdout + refused.stderr, /depend on it/);
          assert.ok(((await getJson(`${registry.url}/${name}`)).body.versions as Record<string, unknown>)['1.0.0'], 'still there');
        });

        it('lists, adds and removes owners', async (t) => {
          if (skipIf(t, 'owner')) return;
          const friend = await createUser(registry.url, `friend-of-${clientName}`);
          const dir = client.project('owners', { version: '0.0.0' });
          await client.ok(['owner', 'add', friend.name, name], dir);
          const ls = await client.ok(['owner', 'ls', name], dir);
          assert.match(ls.stdout, new RegExp(friend.name));
          assert.match(ls.stdout, new RegExp(user.name));
          await client.ok(['owner', 'rm', friend.name, name], dir);
          assert.doesNotMatch((await client.ok(['owner', 'ls', name], dir)).stdout, new RegExp(friend.name));
        });

        it('creates, lists and revokes tokens (by id and by value)', async (t) => {
          if (skipIf(t, 'token')) return;
          const dir = client.project('tokens', { version: '0.0.0' });
          const created = await client.ok(['token', 'create', `--password=${user.password}`], dir);
          const token = /(atr_\w{42})/.exec(created.stdout)?.[1];
          assert.ok(token, created.stdout);
          assert.equal((await getJson(`${registry.url}/-/whoami`, token)).status, 200);
          const list = await client.ok(['token', 'list', '--json'], dir);
          const tokens = JSON.parse(list.stdout) as Array<{ id: string; token: string }>;
          const mine = tokens.find((x) => token.startsWith(x.token));
          assert.ok(mine, 'the new token is listed by its prefix');
          // npm redacts `key` in its output and shows the shortest unique prefix as `id`.
          await client.ok(['token', 'revoke', mine.id], dir);
          assert.equal((await getJson(`${registry.url}/-/whoami`, token)).status, 401);

          const second = /(atr_\w{42})/.exec((await client.ok(['token', 'create', `--password=${user.password}`], dir)).stdout)?.[1];
          assert.ok(second);
          await client.ok(['token', 'revoke', second], dir);
          assert.equal((await getJson(`${registry.url}/-/whoami`, second)).status, 401);
        });

        it('finds packages with search', async (t) => {
          if (skipIf(t, 'search')) return;
          const r = await client.ok(['search', name, '--json'], client.project('search', { version: '0.0.0' }));
          const hits = JSON.parse(r.stdout) as Array<{ name: string }>;
          assert.ok(hits.some((h) => h.name === name), r.stdout);
        });

        it('logs out', async (t) => {
          if (clientName === 'yarn') {
            t.skip('yarn npm logout only edits its own config');
            return;
          }
          await client.ok(['logout'], client.project('logout', { version: '0.0.0' }));
          assert.equal((await getJson(`${registry.url}/-/whoami`, user.token)).status, 401, 'the session token was revoked server-side');
        });
      });
    }
  });
}
