// Trusted publishing end to end: a maintainer configures trust with the real `npm trust`, and an
// unmodified `npm publish` in a simulated GitHub Actions job (a local OIDC issuer with real keys
// and a GitHub-style token request endpoint) publishes with no stored secret. The refusals are
// checked at the exchange endpoint, where the reason is visible, and through the CLI, which falls
// back to (absent) stored credentials and fails.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createUser, type TestUser } from '../support/accounts.ts';
import { Client } from '../support/clients.ts';
import { startLocalIssuer, type LocalIssuer } from '../support/oidc-issuer.ts';
import { storesUnderTest } from '../support/postgres.ts';
import { escapeName, publishBody, putPublish, request, type ApiResponse } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

const OWNER_ID = '4242';
const CIRCLE_ORG = '8c8c1e4e-0c1d-4a4e-9c57-4c2c1e2a9b11';
const CIRCLE_PROJECT = '1f0b5c6d-2e3f-4a5b-8c7d-9e0f1a2b3c4d';
const CIRCLE_PIPELINE = '2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d';
const REPO_ID = '777001';

/** The registry's log is written asynchronously: wait (bounded) for a line to arrive. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 50 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(check(), what);
}

function refused(res: ApiResponse, status: number, code: string): void {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${JSON.stringify(res.body).slice(0, 400)}`);
  assert.equal(res.body.code, code, JSON.stringify(res.body).slice(0, 400));
  assert.equal(typeof res.body.message, 'string', 'npm shows body.message when an exchange fails');
}

for (const store of storesUnderTest()) {
  describe(`trusted publishing with npm (${store})`, () => {
    let issuer: LocalIssuer;
    let gitlabIssuer: LocalIssuer;
    let circleIssuer: LocalIssuer;
    let registry: TestRegistry;
    let alice: TestUser;
    let maintainer: Client;
    let audience: string;

    /** The claims a GitHub Actions job of acme/widget's release.yml in environment production gets. */
    const claims = (over: Record<string, unknown> = {}) => ({
      sub: 'repo:acme/widget:environment:production', repository: 'acme/widget', repository_owner: 'acme', repository_owner_id: OWNER_ID,
      repository_id: REPO_ID, repository_visibility: 'private', workflow_ref: 'acme/widget/.github/workflows/release.yml@refs/tags/v1.0.0',
      job_workflow_ref: 'acme/widget/.github/workflows/release.yml@refs/tags/v1.0.0', event_name: 'push', ref: 'refs/tags/v1.0.0',
      sha: 'f'.repeat(40), environment: 'production', runner_environment: 'github-hosted', ...over,
    });
    const exchange = (name: string, token: string) => request('POST', `${registry.url}/-/npm/v1/oidc/token/exchange/package/${escapeName(name)}`, token, undefined, { 'content-length': '0' });
    const trustGithub = async (name: string, extra: string[] = []) => {
      const dir = maintainer.project(name, { version: '0.0.0' });
      return maintainer.ok(['trust', 'github', name, '--repo', 'acme/widget', '--file', 'release.yml', '--env', 'production', '--allow-publish', '--yes', ...extra], dir);
    };
    const ciPublish = (name: string, version: string, jobClaims: Record<string, unknown>) => {
      const ci = new Client('npm', registry.url);
      const dir = ci.project(name, { version, main: 'index.js' }, { 'index.js': 'module.exports = 42;\n' });
      return ci.run(['publish', '--loglevel', 'verbose'], dir, { env: issuer.actionsEnv(jobClaims) });
    };

    before(async () => {
      issuer = await startLocalIssuer();
      gitlabIssuer = await startLocalIssuer();
      circleIssuer = await startLocalIssuer({ path: `/org/${CIRCLE_ORG}` });
      const configDir = mkdtempSync(path.join(os.tmpdir(), 'attestry-tp-'));
      const config = path.join(configDir, 'config.json');
      writeFileSync(config, JSON.stringify({ trustedPublishing: { issuers: [
        { provider: 'github', issuer: issuer.url, insecureForTesting: true, default: true },
        { provider: 'gitlab', issuer: gitlabIssuer.url, insecureForTesting: true, default: true },
        { provider: 'circleci', issuer: circleIssuer.url, insecureForTesting: true, default: true },
      ] } }));
      registry = await startRegistry({ store, env: { ATTESTRY_CONFIG: config } });
      audience = `npm:${new URL(registry.url).hostname}`;
      alice = await createUser(registry.url, 'alice');
      maintainer = new Client('npm', registry.url);
      maintainer.setToken(alice.token);
    });
    after(async () => {
      await registry?.destroy();
      await issuer?.close();
      await gitlabIssuer?.close();
      await circleIssuer?.close();
    });

    it('warns loudly at start-up that a plain-HTTP issuer is trusted', () => {
      assert.ok(registry.records().some((r) => r.level === 'warn' && /INSECURE/.test(String(r.msg))));
    });

    it('npm trust github, list and revoke work against Attestry', async () => {
      const name = `trust-cfg-${randomUUID().slice(0, 8)}`;
      await trustGithub(name);
      const dir = maintainer.project(name, { version: '0.0.0' });
      const list = await maintainer.ok(['trust', 'list', name, '--json'], dir);
      const configs = JSON.parse(list.stdout) as Array<{ id: string; type: string; repository?: string; file?: string; environment?: string }> | { id: string };
      const arr = Array.isArray(configs) ? configs : [configs];
      assert.equal(arr.length, 1, list.stdout);
      assert.equal((arr[0] as { type?: string }).type, 'github');
      assert.match(list.stdout, /acme\/widget/);
      assert.match(list.stdout, /release\.yml/);
      const id = (arr[0] as { id: string }).id;
      await maintainer.ok(['trust', 'revoke', name, '--id', id, '--yes'], dir);
      const after = await request('GET', `${registry.url}/-/package/${escapeName(name)}/trust`, alice.token);
      assert.deepEqual(after.body.raw, []);
    });

    it('a plain npm publish in the CI job publishes with no stored token, and the document says who published', async () => {
      const name = `tp-widget-${randomUUID().slice(0, 8)}`;
      await trustGithub(name);
      const r = await ciPublish(name, '1.0.0', claims());
      assert.equal(r.code, 0, `npm publish failed:\n${r.stdout}\n${r.stderr}\n${registry.logs.filter((l) => l.includes('"level":"error"')).join("\n")}`);
      const doc = await request('GET', `${registry.url}/${escapeName(name)}`);
      const v = (doc.body.versions as Record<string, { _npmUser?: { name: string; trustedPublisher?: { id: string; reference: string } } }>)['1.0.0'];
      assert.ok(v, `1.0.0 is published: ${JSON.stringify(doc.body).slice(0, 300)}`);
      assert.equal(v._npmUser?.trustedPublisher?.id, 'github');
      assert.match(v._npmUser?.trustedPublisher?.reference ?? '', /acme\/widget\/\.github\/workflows\/release\.yml@refs\/tags\/v1\.0\.0/);
      // The pending publisher created the package; whoever registered the trust owns it.
      assert.deepEqual((doc.body.maintainers as Array<{ name: string }>).map((m) => m.name), ['alice']);
    });

    it('a publish from another workflow is refused; the CLI falls back to no credentials and fails', async () => {
      const name = `tp-wrongwf-${randomUUID().slice(0, 8)}`;
      await trustGithub(name);
      const r = await ciPublish(name, '1.0.0', claims({ workflow_ref: 'acme/widget/.github/workflows/ci.yml@refs/heads/main' }));
      assert.notEqual(r.code, 0, 'the publish must fail');
      assert.match(r.stdout + r.stderr, /OIDC|ENEEDAUTH|401|auth/i);
      assert.equal((await request('GET', `${registry.url}/${escapeName(name)}`)).status, 404);
      await eventually(() => registry.records().some((x) => x.status === 403 && x.route === 'npm.oidc.exchange'), 'the refused exchange is logged');
    });

    /**
     * A CI whose ID token comes in NPM_ID_TOKEN (GitLab, CircleCI): after `npm trust <provider>`,
     * a job with the wrong identity fails to publish and the right one publishes as that provider.
     */
    async function idTokenRoundTrip(name: string, ciFlag: string, provider: string, wrongToken: string, goodToken: string): Promise<void> {
      const publish = (token: string) => {
        const ci = new Client('npm', registry.url);
        const dir = ci.project(name, { version: '1.0.0', main: 'index.js' }, { 'index.js': 'module.exports = 1;\n' });
        return ci.run(['publish', '--loglevel', 'verbose'], dir, { env: { CI: 'true', [ciFlag]: 'true', NPM_ID_TOKEN: token } });
      };
      const publishedBy = async () => {
        const doc = await request('GET', `${registry.url}/${escapeName(name)}`);
        return (doc.body.versions as Record<string, { _npmUser?: { trustedPublisher?: { id: string } } }> | undefined)?.['1.0.0']?._npmUser?.trustedPublisher;
      };
      assert.notEqual((await publish(wrongToken)).code, 0);
      assert.equal(await publishedBy(), undefined);
      const r = await publish(goodToken);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.equal((await publishedBy())?.id, provider);
    }

    it('GitLab CI/CD: npm trust gitlab, then npm publish with NPM_ID_TOKEN; another project is refused', async () => {
      const name = `tp-gitlab-${randomUUID().slice(0, 8)}`;
      await maintainer.ok(['trust', 'gitlab', name, '--project', 'acme/tools/widget', '--file', '.gitlab-ci.yml', '--env', 'production', '--allow-publish', '--yes'],
        maintainer.project(name, { version: '0.0.0' }));
      const gl = (over: Record<string, unknown> = {}) => gitlabIssuer.sign({
        aud: audience, sub: 'project_path:acme/tools/widget:ref_type:tag:ref:v1.0.0', project_path: 'acme/tools/widget', project_id: '77', namespace_id: '55',
        ci_config_ref_uri: 'gitlab.example/acme/tools/widget//.gitlab-ci.yml@refs/tags/v1.0.0', ref_path: 'refs/tags/v1.0.0', sha: 'e'.repeat(40),
        environment: 'production', project_visibility: 'private', ...over,
      });
      await idTokenRoundTrip(name, 'GITLAB_CI', 'gitlab',
        await gl({ project_path: 'acme/tools/other', ci_config_ref_uri: 'gitlab.example/acme/tools/other//.gitlab-ci.yml@refs/heads/main' }), await gl());
    });

    it('CircleCI: npm trust circleci, then npm publish with NPM_ID_TOKEN; another pipeline is refused', async () => {
      const name = `tp-circle-${randomUUID().slice(0, 8)}`;
      await maintainer.ok(['trust', 'circleci', name, '--org-id', CIRCLE_ORG, '--project-id', CIRCLE_PROJECT, '--pipeline-definition-id', CIRCLE_PIPELINE,
        '--vcs-origin', 'github.com/acme/widget', '--allow-publish', '--yes'], maintainer.project(name, { version: '0.0.0' }));
      const cc = (over: Record<string, unknown> = {}) => circleIssuer.sign({
        aud: audience, sub: `org/${CIRCLE_ORG}/project/${CIRCLE_PROJECT}/user/u1`, 'oidc.circleci.com/org-id': CIRCLE_ORG, 'oidc.circleci.com/project-id': CIRCLE_PROJECT,
        'oidc.circleci.com/pipeline-definition-id': CIRCLE_PIPELINE, 'oidc.circleci.com/vcs-origin': 'github.com/acme/widget', ...over,
      });
      await idTokenRoundTrip(name, 'CIRCLECI', 'circleci', await cc({ 'oidc.circleci.com/pipeline-definition-id': CIRCLE_PROJECT }), await cc());
    });

    it('trusted publishing only: the maintainer\'s own token is refused, CI still publishes; without it, a token publish is flagged', async () => {
      const name = `tp-only-${randomUUID().slice(0, 8)}`;
      await trustGithub(name);
      const settings = `${registry.url}/-/package/${escapeName(name)}/trust/settings`;
      refused(await request('PUT', settings, alice.token, { trustedPublishingOnly: true }), 404, 'PACKAGE_NOT_FOUND');
      // Published once by the maintainer: allowed, but recorded as a bypass of the trusted publisher.
      assert.equal((await putPublish(registry.url, alice.token, publishBody({ name, version: '0.1.0', registry: registry.url }))).status, 201);
      await eventually(() => registry.records().some((r) => r.msg === 'a package with trusted publishers was published with a user credential' && r.package === name), 'the bypass is logged');
      refused(await request('PUT', settings, alice.token, { trustedPublishingOnly: 'yes' }), 400, 'TRUST_BAD_SETTINGS');
      const set = await request('PUT', settings, alice.token, { trustedPublishingOnly: true });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.deepEqual((await request('GET', settings, alice.token)).body, { trustedPublishingOnly: true });
      refused(await putPublish(registry.url, alice.token, publishBody({ name, version: '0.2.0', registry: registry.url })), 403, 'AUTHZ_TRUSTED_PUBLISHING_ONLY');
      const r = await ciPublish(name, '0.3.0', claims());
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const doc = await request('GET', `${registry.url}/${escapeName(name)}`);
      assert.deepEqual(Object.keys(doc.body.versions as object).sort(), ['0.1.0', '0.3.0']);
    });

    describe('refusals at the exchange', () => {
      let name: string;
      before(async () => {
        name = `tp-refuse-${randomUUID().slice(0, 8)}`;
        await trustGithub(name);
      });

      it('wrong repository, workflow, environment; pull_request_target', async () => {
        refused(await exchange(name, await issuer.sign({ ...claims({ repository: 'mallory/widget' }), aud: audience })), 403, 'OIDC_REPOSITORY_MISMATCH');
        refused(await exchange(name, await issuer.sign({ ...claims({ workflow_ref: 'acme/widget/.github/workflows/other.yml@refs/heads/main' }), aud: audience })), 403, 'OIDC_WORKFLOW_MISMATCH');
        refused(await exchange(name, await issuer.sign({ ...claims({ environment: 'staging' }), aud: audience })), 403, 'OIDC_ENVIRONMENT_MISMATCH');
        refused(await exchange(name, await issuer.sign({ ...claims({ event_name: 'pull_request_target' }), aud: audience })), 403, 'OIDC_UNTRUSTED_EVENT');
      });

      it('wrong audience, expired, alg none, unknown issuer, no token at all', async () => {
        refused(await exchange(name, await issuer.sign({ ...claims(), aud: 'npm:registry.example' })), 401, 'OIDC_WRONG_AUDIENCE');
        refused(await exchange(name, await issuer.sign({ ...claims(), aud: audience }, { iat: -900, exp: -120 })), 401, 'OIDC_TOKEN_EXPIRED');
        refused(await exchange(name, issuer.unsigned({ ...claims(), aud: audience })), 401, 'OIDC_ALGORITHM_NOT_ALLOWED');
        const stranger = await startLocalIssuer();
        try {
          refused(await exchange(name, await stranger.sign({ ...claims(), aud: audience })), 401, 'OIDC_UNKNOWN_ISSUER');
        } finally {
          await stranger.close();
        }
        refused(await exchange(name, ''), 401, 'OIDC_TOKEN_MISSING');
      });

      it('a replayed token (same jti) is refused the second time', async () => {
        const token = await issuer.sign({ ...claims(), aud: audience });
        assert.equal((await exchange(name, token)).status, 201);
        refused(await exchange(name, token), 401, 'OIDC_TOKEN_REPLAYED');
      });

      it('a token minted for one package cannot publish another, nor do anything but publish', async () => {
        const minted = (await exchange(name, await issuer.sign({ ...claims(), aud: audience }))).body.token as string;
        const other = `tp-other-${randomUUID().slice(0, 8)}`;
        const res = await putPublish(registry.url, minted, publishBody({ name: other, version: '1.0.0', registry: registry.url }));
        refused(res, 403, 'AUTHZ_TRUSTED_PUBLISHER_OTHER_PACKAGE');
        const ok = await putPublish(registry.url, minted, publishBody({ name, version: '1.0.0', registry: registry.url }));
        assert.equal(ok.status, 201, JSON.stringify(ok.body));
        const tag = await request('PUT', `${registry.url}/-/package/${escapeName(name)}/dist-tags/beta`, minted, '"1.0.0"');
        refused(tag, 403, 'AUTHZ_TRUSTED_PUBLISHER_PUBLISH_ONLY');
      });

      it('a recreated owner (same name, new id) is refused once the ids are bound', async () => {
        // The successful exchanges above bound owner 4242 and repository 777001.
        refused(await exchange(name, await issuer.sign({ ...claims({ repository_owner_id: '9999' }), aud: audience })), 403, 'OIDC_IDENTITY_CHANGED');
      });

      it('revoking the trust configuration revokes the tokens minted through it', async () => {
        const minted = (await exchange(name, await issuer.sign({ ...claims(), aud: audience }))).body.token as string;
        const list = await request('GET', `${registry.url}/-/package/${escapeName(name)}/trust`, alice.token);
        const id = (list.body.raw as Array<{ id: string }>)[0]?.id as string;
        assert.equal((await request('DELETE', `${registry.url}/-/package/${escapeName(name)}/trust/${id}`, alice.token)).status, 200);
        refused(await putPublish(registry.url, minted, publishBody({ name, version: '1.0.1', registry: registry.url })), 401, 'OIDC_PUBLISHER_REVOKED');
        refused(await exchange(name, await issuer.sign({ ...claims(), aud: audience })), 403, 'OIDC_NO_TRUSTED_PUBLISHER');
      });

      it('a pending publisher registered by someone else dies when another user creates the name first', async () => {
        const contested = `tp-contested-${randomUUID().slice(0, 8)}`;
        const mallory = await createUser(registry.url, `mallory${randomUUID().slice(0, 6)}`);
        const body = [{ type: 'github', claims: { repository: 'acme/widget', workflow_ref: { file: 'release.yml' } }, permissions: ['createPackage'] }];
        assert.equal((await request('POST', `${registry.url}/-/package/${escapeName(contested)}/trust`, mallory.token, body)).status, 201);
        assert.equal((await putPublish(registry.url, alice.token, publishBody({ name: contested, version: '1.0.0', registry: registry.url }))).status, 201);
        refused(await exchange(contested, await issuer.sign({ ...claims(), aud: audience })), 403, 'OIDC_NO_TRUSTED_PUBLISHER');
        assert.deepEqual((await request('GET', `${registry.url}/-/package/${escapeName(contested)}/trust`, alice.token)).body.raw, []);
      });

      it('only maintainers configure trust; nobody registers a publisher in someone else\'s scope', async () => {
        const bob = await createUser(registry.url, `bob${randomUUID().slice(0, 6)}`);
        const body = [{ type: 'github', claims: { repository: 'bob/x', workflow_ref: { file: 'r.yml' } }, permissions: ['createPackage'] }];
        refused(await request('POST', `${registry.url}/-/package/${escapeName(name)}/trust`, bob.token, body), 403, 'AUTHZ_OWNER_REQUIRED');
        refused(await request('POST', `${registry.url}/-/package/${escapeName('@alice/thing')}/trust`, bob.token, body), 403, 'AUTHZ_SCOPE_OWNER');
        refused(await request('POST', `${registry.url}/-/package/${escapeName(name)}/trust`, null, body), 401, 'AUTHZ_AUTHENTICATION_REQUIRED');
        refused(await request('POST', `${registry.url}/-/package/${escapeName(`${name}-b`)}/trust`, bob.token, [{ type: 'github', claims: { repository: 'bob', workflow_ref: { file: 'r.yml' } } }]), 400, 'TRUST_BAD_CLAIMS');
        refused(await request('POST', `${registry.url}/-/package/${escapeName(`${name}-b`)}/trust`, bob.token, [{ type: 'jenkins', claims: {} }]), 400, 'TRUST_UNKNOWN_PROVIDER');
      });
    });
  });
}

describe('trusted publishing configuration', () => {
  it('a plain-HTTP issuer without insecureForTesting stops the registry at start-up, with a clear message', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attestry-tp-bad-'));
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ trustedPublishing: { issuers: [{ provider: 'github', issuer: 'http://ghes.internal' }] } }));
    await assert.rejects(startRegistry({ env: { ATTESTRY_CONFIG: config } }), /configuration error: trustedPublishing\.issuers: "http:\/\/ghes\.internal" is not https.*insecureForTesting/s);
  });
});
