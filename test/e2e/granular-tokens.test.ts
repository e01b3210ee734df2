// Granular tokens with the real npm CLI (issue 6, scope item 2; spec §4.5): `npm token create` with
// --packages / --scopes / --packages-and-scopes-permission / --expires / --cidr, then publishing
// with the token inside and outside its scope, listing it and revoking it by its full value. The
// password is typed at npm's prompt (npm reads it from stdin when stdin is not a TTY).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createUser, type TestUser } from '../support/accounts.ts';
import { Client, type RunResult } from '../support/clients.ts';
import { storesUnderTest } from '../support/postgres.ts';
import { publishBody, putPublish, request, type ApiResponse } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

const DAY = 86_400_000;

interface Created {
  token: string;
  expires: string | null;
  created: string;
  packages?: string[];
  scopes?: string[];
  packages_all?: boolean;
  packages_and_scopes_permission?: string;
  cidr_whitelist: string[] | null;
}

function assertRefusal(res: ApiResponse, status: number, code: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.code, code);
}

const output = (r: RunResult): string => `${r.stdout}\n${r.stderr}`;

for (const store of storesUnderTest()) {
  describe(`granular tokens with the npm CLI on ${store}`, () => {
    let registry: TestRegistry;
    let gina: TestUser;
    let npm: Client;
    const clients: Client[] = [];
    const id = randomBytes(3).toString('hex');
    const A = `gt-a-${id}`;
    const B = `gt-b-${id}`;
    let readWriteA: Created;

    const npmAs = (token: string): Client => {
      const c = new Client('npm', registry.url);
      c.setToken(token);
      clients.push(c);
      return c;
    };
    const publish = (c: Client, name: string, version: string, extra: string[] = []): Promise<RunResult> =>
      c.run(['publish', ...extra], c.project(name, { version, description: `${name} for granular-token tests` }));

    /** `npm token create <flags> --json`, typing the password at npm's prompt. */
    async function tokenCreate(flags: string[]): Promise<RunResult> {
      return npm.run(['token', 'create', ...flags, '--json'], npm.project('tokens', { version: '0.0.0' }), {
        on: [[/npm password:/, () => `${gina.password}\n`]],
      });
    }
    async function created(flags: string[]): Promise<Created> {
      const r = await tokenCreate(flags);
      assert.equal(r.code, 0, output(r));
      return JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as Created;
    }

    before(async () => {
      registry = await startRegistry({ store });
      gina = await createUser(registry.url, `gina${id}`);
      npm = npmAs(gina.token);
      // B exists and gina owns it: the granular token's refusal is about its scope, not ownership.
      const r = await publish(npm, B, '1.0.0');
      assert.equal(r.code, 0, output(r));
    });
    after(async () => {
      for (const c of clients) c.cleanup();
      await registry?.destroy();
    });

    it('npm token create --packages A --packages-and-scopes-permission read-write --expires 7: the scope is echoed', async () => {
      readWriteA = await created(['--packages', A, '--packages-and-scopes-permission', 'read-write', '--expires', '7']);
      assert.match(readWriteA.token, /^atr_/);
      assert.deepEqual(readWriteA.packages, [A]);
      assert.equal(readWriteA.packages_and_scopes_permission, 'read-write');
      const lifetime = Date.parse(readWriteA.expires ?? '') - Date.parse(readWriteA.created);
      assert.ok(Math.abs(lifetime - 7 * DAY) < 60_000, `expires in 7 days: ${JSON.stringify(readWriteA)}`);
    });

    it('the read-write token publishes A (a new name) and a new version of it', async () => {
      const c = npmAs(readWriteA.token);
      assert.equal((await publish(c, A, '1.0.0')).code, 0);
      const r = await publish(c, A, '1.0.1');
      assert.equal(r.code, 0, output(r));
      const doc = await request('GET', `${registry.url}/${A}`);
      assert.deepEqual(Object.keys(doc.body.versions as object).sort(), ['1.0.0', '1.0.1']);
    });

    it('the same token cannot publish B, which its owner owns: 403 AUTHZ_TOKEN_SCOPE, nothing published', async () => {
      const r = await publish(npmAs(readWriteA.token), B, '1.0.1');
      assert.notEqual(r.code, 0);
      assert.match(output(r), /E403/);
      assert.match(output(r), /scope does not allow package:publish/);
      assertRefusal(await putPublish(registry.url, readWriteA.token, publishBody({ name: B, version: '1.0.2', registry: registry.url })), 403, 'AUTHZ_TOKEN_SCOPE');
      // A name that does not exist is refused the same way: the scope is no existence oracle.
      const absent = `gt-absent-${id}`;
      assertRefusal(await putPublish(registry.url, readWriteA.token, publishBody({ name: absent, version: '1.0.0', registry: registry.url })), 403, 'AUTHZ_TOKEN_SCOPE');
      const doc = await request('GET', `${registry.url}/${B}`);
      assert.deepEqual(Object.keys(doc.body.versions as object), ['1.0.0']);
      assert.equal((await request('GET', `${registry.url}/${absent}`)).status, 404);
    });

    it('a read-only granular token reads A but cannot publish it', async () => {
      const ro = await created(['--packages', A, '--packages-and-scopes-permission', 'read-only']);
      assert.equal(ro.packages_and_scopes_permission, 'read-only');
      const c = npmAs(ro.token);
      const r = await publish(c, A, '1.0.2');
      assert.notEqual(r.code, 0);
      assert.match(output(r), /E403/);
      assertRefusal(await putPublish(registry.url, ro.token, publishBody({ name: A, version: '1.0.3', registry: registry.url })), 403, 'AUTHZ_TOKEN_SCOPE');
      const view = await c.ok(['view', A, 'version'], c.project('view', { version: '0.0.0' }));
      assert.equal(view.stdout.trim(), '1.0.1');
      // dist-tags are writes too.
      assertRefusal(await request('PUT', `${registry.url}/-/package/${A}/dist-tags/beta`, ro.token, JSON.stringify('1.0.0')), 403, 'AUTHZ_TOKEN_SCOPE');
    });

    it('a scope token (--scopes @gina…) publishes in the scope and nowhere else', async () => {
      const scoped = await created(['--scopes', `@${gina.name}`, '--packages-and-scopes-permission', 'read-write']);
      assert.deepEqual(scoped.scopes, [`@${gina.name}`]);
      const c = npmAs(scoped.token);
      const inScope = await publish(c, `@${gina.name}/widget`, '1.0.0', ['--access', 'public']);
      assert.equal(inScope.code, 0, output(inScope));
      const outside = await publish(c, `gt-c-${id}`, '1.0.0');
      assert.notEqual(outside.code, 0);
      assert.match(output(outside), /E403/);
    });

    it('refuses malformed granular options with stable codes, before spending a password attempt', async () => {
      const body = (extra: Record<string, unknown>) => ({ name: null, password: gina.password, ...extra });
      const post = (extra: Record<string, unknown>) => request('POST', `${registry.url}/-/npm/v1/tokens`, gina.token, body(extra));
      assertRefusal(await post({ packages_and_scopes_permission: 'read-write' }), 400, 'TOKEN_SCOPE_EMPTY');
      assertRefusal(await post({ packages: ['Not A Name'] }), 400, 'TOKEN_SCOPE_INVALID');
      assertRefusal(await post({ packages: [A], packages_and_scopes_permission: 'admin' }), 400, 'TOKEN_SCOPE_BAD_PERMISSION');
      assertRefusal(await post({ packages: [A], packages_all: true }), 400, 'TOKEN_SCOPE_CONFLICT');
      assertRefusal(await post({ packages: Array.from({ length: 101 }, (_, i) => `p${i}`) }), 400, 'TOKEN_SCOPE_TOO_MANY');
      // A write-capable granular token is bounded by the write-token policy (90 days by default).
      assertRefusal(await post({ packages: [A], packages_and_scopes_permission: 'read-write', expires: 91 }), 400, 'BAD_EXPIRY');
      // The password is still checked for a well-formed body.
      assertRefusal(await request('POST', `${registry.url}/-/npm/v1/tokens`, gina.token, { name: null, password: 'wrong', packages: [A] }), 401, 'BAD_CREDENTIALS');
      // Through npm: the 400 surfaces as an error and no token is printed.
      const r = await tokenCreate(['--packages', A, '--packages-and-scopes-permission', 'read-write', '--expires', '91']);
      assert.notEqual(r.code, 0);
      assert.doesNotMatch(r.stdout, /atr_/);
    });

    it('a granular token with --cidr is refused from elsewhere', async () => {
      const fenced = await created(['--packages', A, '--packages-and-scopes-permission', 'read-write', '--cidr', '10.0.0.0/8']);
      assert.deepEqual(fenced.cidr_whitelist, ['10.0.0.0/8']);
      assertRefusal(await request('GET', `${registry.url}/-/whoami`, fenced.token), 401, 'TOKEN_IP_NOT_ALLOWED');
    });

    it('npm token list shows the granular token with its scope; npm token revoke <full value> revokes it', async () => {
      const dir = npm.project('tokens', { version: '0.0.0' });
      const listed = JSON.parse((await npm.ok(['token', 'list', '--json'], dir)).stdout) as Array<{ key: string; token: string; permissions?: unknown; scopes?: unknown }>;
      const mine = listed.find((t) => readWriteA.token.startsWith(t.token));
      assert.ok(mine, JSON.stringify(listed));
      assert.deepEqual(mine.permissions, [{ name: 'package', action: 'write' }]);
      assert.deepEqual(mine.scopes, [{ name: A, type: 'package' }]);
      const human = await npm.ok(['token', 'list'], dir);
      assert.match(human.stdout, new RegExp(`Token ${mine.token}… with id`));

      const revoked = await npm.ok(['token', 'revoke', readWriteA.token], dir);
      assert.match(revoked.stdout, /Removed 1 token/);
      assertRefusal(await request('GET', `${registry.url}/-/whoami`, readWriteA.token), 401, 'INVALID_TOKEN');
      // Read over HTTP: npm may answer a repeated `token list` from its HTTP cache.
      const after = await request('GET', `${registry.url}/-/npm/v1/tokens`, gina.token);
      const keys = (after.body.objects as Array<{ key: string }>).map((t) => t.key);
      assert.ok(keys.length > 0 && !keys.includes(mine.key), JSON.stringify(keys));
    });
  });
}
