// Provenance with real clients, offline: the unmodified `npm publish --provenance` (with a token,
// and through trusted publishing) against local Sigstore services reached through a CONNECT proxy
// under their public names; pnpm's `audit signatures` against the registry's keys, also across a
// key rotation; and `attestry verify` on good and tampered versions.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, readdirSync, renameSync, statSync } from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { createUser, type TestUser } from '../support/accounts.ts';
import { Client } from '../support/clients.ts';
import { startLocalIssuer, type LocalIssuer } from '../support/oidc-issuer.ts';
import { FIXTURES, NODE, ROOT } from '../support/paths.ts';
import { escapeName, packageTarball, publishBody, putPublish, request, type ApiResponse } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import {
  githubActionsEnv, githubClaims, startNpmSigstoreEnvironment, startSigstoreServices, type GithubIdentity, type NpmSigstoreEnvironment, type SigstoreServices,
} from '../support/sigstore-services.ts';

interface Cli { code: number; stdout: string; stderr: string }

function attestry(args: string[], env: Record<string, string> = {}): Promise<Cli> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [path.join(ROOT, 'src/cli/main.ts'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function refused(res: ApiResponse, status: number, code: string): void {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
  assert.equal(res.body.code, code, JSON.stringify(res.body).slice(0, 500));
}

/** Every file under `dir` (the blob store's fan-out folders). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('provenance with real clients (sqlite)', () => {
  let sigstore: SigstoreServices;
  let npmEnv: NpmSigstoreEnvironment;
  let issuer: LocalIssuer;
  let registry: TestRegistry;
  let alice: TestUser;
  let maintainer: Client;
  let trustedRoot: string;
  let config: string;

  /** A CI job's `npm publish --provenance`, with the given job identity and (optionally) no stored token. */
  const ciPublish = (name: string, version: string, identity: GithubIdentity, token: string | null) => {
    const ci = new Client('npm', registry.url);
    ci.setToken(token);
    const [owner, repo] = (identity.repository ?? 'acme/widget').split('/');
    const dir = ci.project(name, { version, main: 'index.js', repository: { type: 'git', url: `git+https://github.com/${owner}/${repo}.git` } }, { 'index.js': 'module.exports = 1;\n' });
    return ci.run(['publish', '--provenance', '--access', 'public', '--loglevel', 'notice'], dir, {
      env: { ...githubActionsEnv(identity), ...issuer.actionsEnv(githubClaims(identity)), ...npmEnv.env },
    });
  };

  before(async () => {
    sigstore = await startSigstoreServices();
    issuer = await startLocalIssuer();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attestry-provcli-'));
    npmEnv = await startNpmSigstoreEnvironment(sigstore, path.join(dir, 'tls'));
    trustedRoot = sigstore.writeTrustedRoot(dir);
    config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({
      provenance: { trustedRoots: [trustedRoot] },
      trustedPublishing: { issuers: [{ provider: 'github', issuer: issuer.url, insecureForTesting: true, default: true }] },
    }));
    registry = await startRegistry({ env: { ATTESTRY_CONFIG: config } });
    alice = await createUser(registry.url, 'alice');
    maintainer = new Client('npm', registry.url);
    maintainer.setToken(alice.token);
  });
  after(async () => {
    await registry?.destroy();
    await npmEnv?.close();
    await sigstore?.close();
    await issuer?.close();
  });

  it('the unmodified npm publish --provenance with a token: accepted, verified, served', { timeout: 120_000 }, async () => {
    const name = `npm-prov-${randomUUID().slice(0, 8)}`;
    const identity: GithubIdentity = { repository: 'acme/widget', ref: 'refs/tags/v1.0.0' };
    const r = await ciPublish(name, '1.0.0', identity, alice.token);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /Signed provenance statement/);
    assert.deepEqual(npmEnv.refused, [], 'nothing tried to leave the machine');
    const doc = (await (await fetch(`${registry.url}/${name}`)).json()) as { versions: Record<string, { dist: { attestations?: { provenance: { predicateType: string } } } }> };
    assert.equal(doc.versions['1.0.0']?.dist.attestations?.provenance.predicateType, 'https://slsa.dev/provenance/v1');
    const att = (await (await fetch(`${registry.url}/-/npm/v1/attestations/${name}@1.0.0`)).json()) as { source: { repository: string } };
    assert.equal(att.source.repository, 'https://github.com/acme/widget');
  });

  it('trusted publishing with provenance: the certificate must be the exchanging workload\'s', { timeout: 120_000 }, async () => {
    const name = `tp-prov-${randomUUID().slice(0, 8)}`;
    const trust = await request('POST', `${registry.url}/-/package/${escapeName(name)}/trust`, alice.token,
      [{ type: 'github', claims: { repository: 'acme/widget', workflow_ref: { file: 'release.yml' } }, permissions: ['createPackage'] }]);
    assert.equal(trust.status, 201, JSON.stringify(trust.body));
    const identity: GithubIdentity = { repository: 'acme/widget', ref: 'refs/tags/v1.0.0', iss: issuer.url };
    const r = await ciPublish(name, '1.0.0', identity, null);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const doc = (await (await fetch(`${registry.url}/${name}`)).json()) as { versions: Record<string, { _npmUser: { trustedPublisher?: unknown }; dist: { attestations?: unknown } }> };
    assert.ok(doc.versions['1.0.0']?._npmUser.trustedPublisher, 'published by the trusted publisher');
    assert.ok(doc.versions['1.0.0']?.dist.attestations, 'with provenance');

    // The same workload's token, but a bundle from another run (another commit): refused.
    const claims = githubClaims(identity);
    const ex = await request('POST', `${registry.url}/-/npm/v1/oidc/token/exchange/package/${escapeName(name)}`, await issuer.sign({ ...claims, aud: `npm:${new URL(registry.url).hostname}` }), undefined, { 'content-length': '0' });
    assert.equal(ex.status, 201, JSON.stringify(ex.body));
    const minted = ex.body.token as string;
    const tarball = packageTarball(name, '1.0.1');
    const body = publishBody({ name, version: '1.0.1', tarball });
    const other = await sigstore.provenanceBundle({ name, version: '1.0.1', tarball, identity: { ...identity, sha: 'e'.repeat(40) } });
    body._attachments[`${name}-1.0.1.sigstore`] = { content_type: 'application/vnd.dev.sigstore.bundle.v0.3+json', data: other, length: other.length };
    refused(await putPublish(registry.url, minted, body), 403, 'PROVENANCE_IDENTITY_MISMATCH');
    const same = await sigstore.provenanceBundle({ name, version: '1.0.1', tarball, identity });
    body._attachments[`${name}-1.0.1.sigstore`] = { content_type: 'application/vnd.dev.sigstore.bundle.v0.3+json', data: same, length: same.length };
    const ok = await putPublish(registry.url, minted, body);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });

  it('attestry verify: a good version verifies offline and says where it was built; a tampered one does not', { timeout: 120_000 }, async () => {
    const name = `verify-${randomUUID().slice(0, 8)}`;
    const identity: GithubIdentity = { repository: 'acme/widget', ref: 'refs/tags/v2.0.0', sha: 'a'.repeat(40) };
    for (const v of ['2.0.0', '2.0.1']) {
      const tarball = packageTarball(name, v);
      const body = publishBody({ name, version: v, tarball });
      const bundle = await sigstore.provenanceBundle({ name, version: v, tarball, identity });
      body._attachments[`${name}-${v}.sigstore`] = { content_type: 'application/vnd.dev.sigstore.bundle.v0.3+json', data: bundle, length: bundle.length };
      assert.equal((await putPublish(registry.url, alice.token, body)).status, 201);
    }
    const good = await attestry(['verify', `${name}@2.0.0`, '--registry', registry.url, '--trusted-root', trustedRoot]);
    assert.equal(good.code, 0, `${good.stdout}\n${good.stderr}`);
    assert.match(good.stdout, /source repository\s+https:\/\/github\.com\/acme\/widget/);
    assert.match(good.stdout, new RegExp(`commit\\s+${'a'.repeat(40)}`));
    assert.match(good.stdout, /workflow\s+https:\/\/github\.com\/acme\/widget\/\.github\/workflows\/release\.yml@refs\/tags\/v2\.0\.0/);
    assert.match(good.stdout, /transparency log\s+entry \d+ at 20/);
    assert.match(good.stdout, /^verified$/m);
    const json = await attestry(['verify', `${name}@2.0.0`, '--registry', registry.url, '--trusted-root', trustedRoot, '--json']);
    assert.equal(json.code, 0);
    const report = JSON.parse(json.stdout) as { ok: boolean; checks: Array<{ name: string; ok: boolean }>; provenance: { sourceRepository: string } };
    assert.equal(report.ok, true);
    assert.deepEqual(report.checks.map((c) => c.name), ['document', 'tarball', 'registry-signature', 'provenance', 'publish-attestation', 'transparency-log']);
    assert.equal(report.provenance.sourceRepository, 'https://github.com/acme/widget');

    // Without the local instance's root, the same provenance is not trusted.
    const untrusted = await attestry(['verify', `${name}@2.0.0`, '--registry', registry.url, '--json']);
    assert.equal(untrusted.code, 1);
    assert.deepEqual((JSON.parse(untrusted.stdout) as typeof report).checks.filter((c) => !c.ok).map((c) => c.name), ['provenance']);

    // Someone with disk access swaps 2.0.1's tarball (never downloaded, so no cache holds it).
    const tarball = packageTarball(name, '2.0.1');
    const key = createHash('sha512').update(tarball).digest('hex');
    const blob = filesUnder(path.join(registry.dataDir, 'blobs')).find((f) => path.basename(f) === key);
    assert.ok(blob, 'the blob is on disk');
    writeFileSync(blob, packageTarball(name, '2.0.1', { 'evil.js': 'steal()' }));
    const bad = await attestry(['verify', `${name}@2.0.1`, '--registry', registry.url, '--trusted-root', trustedRoot, '--json']);
    assert.equal(bad.code, 1, bad.stdout);
    const failed = (JSON.parse(bad.stdout) as typeof report).checks.filter((c) => !c.ok).map((c) => c.name);
    // The transparency log recorded the original tarball's digest: the swap shows there too.
    assert.deepEqual(failed, ['tarball', 'provenance', 'publish-attestation', 'transparency-log']);
    const text = await attestry(['verify', `${name}@2.0.1`, '--registry', registry.url, '--trusted-root', trustedRoot]);
    assert.match(text.stdout, /✖ tarball .*altered/);
    assert.match(text.stdout, /^NOT verified$/m);

    const nothing = await attestry(['verify', `${name}@9.9.9`, '--registry', registry.url]);
    assert.equal(nothing.code, 1);
    const usage = await attestry(['verify', name]);
    assert.equal(usage.code, 2);
  });

  it('pnpm audit signatures verifies the registry\'s signatures, also after a key rotation', { timeout: 180_000 }, async () => {
    const name = `signed-${randomUUID().slice(0, 8)}`;
    assert.equal((await putPublish(registry.url, alice.token, publishBody({ name, version: '1.0.0' }))).status, 201);
    const pnpm = new Client('pnpm', registry.url);
    const dir = pnpm.project('consumer', { version: '1.0.0', private: true });
    await pnpm.ok(['add', `${name}@1.0.0`], dir);
    const first = await pnpm.run(['audit', 'signatures'], dir);
    assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
    assert.match(first.stdout + first.stderr, /verified registry signature/i);

    // Rotate: the old key stays listed with an expiry, new versions are signed by the new key.
    const keysBefore = (await (await fetch(`${registry.url}/-/npm/v1/keys`)).json()) as { keys: Array<{ keyid: string }> };
    await registry.stop();
    const rotate = await attestry(['keys', 'rotate'], { ...registry.env, ATTESTRY_CONFIG: config });
    assert.equal(rotate.code, 0, rotate.stderr);
    registry = await registry.restart({ ATTESTRY_CONFIG: config });
    const keysAfter = (await (await fetch(`${registry.url}/-/npm/v1/keys`)).json()) as { keys: Array<{ keyid: string; expires: string | null }> };
    assert.equal(keysAfter.keys.length, 2);
    const old = keysAfter.keys.find((k) => k.keyid === keysBefore.keys[0]?.keyid);
    assert.ok(old?.expires, 'the retired key has an expiry');
    assert.equal(keysAfter.keys.filter((k) => k.expires === null).length, 1);
    assert.equal((await putPublish(registry.url, alice.token, publishBody({ name, version: '1.1.0' }))).status, 201);
    const doc = (await (await fetch(`${registry.url}/${name}`)).json()) as { versions: Record<string, { dist: { signatures: Array<{ keyid: string }> } }> };
    assert.equal(doc.versions['1.0.0']?.dist.signatures[0]?.keyid, old.keyid, 'old versions keep their signature');
    assert.notEqual(doc.versions['1.1.0']?.dist.signatures[0]?.keyid, old.keyid);
    // The restarted registry listens on a new port: a new consumer, holding both versions.
    const after = new Client('pnpm', registry.url);
    const dir2 = after.project('consumer2', { version: '1.0.0', private: true });
    await after.ok(['add', `old@npm:${name}@1.0.0`, `new@npm:${name}@1.1.0`], dir2);
    const second = await after.run(['audit', 'signatures'], dir2);
    assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
    assert.match(second.stdout + second.stderr, /\b2 packages? ha(ve|s) (a )?verified registry signatures?/i, second.stdout + second.stderr);

    // Losing the key ring (instead of rotating) leaves signatures nobody can check: pnpm says so.
    await registry.stop();
    renameSync(path.join(registry.dataDir, 'keys', 'registry-keys.json'), path.join(registry.dataDir, 'keys', 'lost.json'));
    registry = await registry.restart({ ATTESTRY_CONFIG: config });
    const lost = new Client('pnpm', registry.url);
    const dir3 = lost.project('consumer3', { version: '1.0.0', private: true });
    await lost.ok(['add', `${name}@1.0.0`], dir3);
    const third = await lost.run(['audit', 'signatures'], dir3);
    assert.notEqual(third.code, 0, `${third.stdout}\n${third.stderr}`);
    assert.match(third.stdout + third.stderr, /key|signature/i);
    // Put the real ring back for the tests that follow.
    await registry.stop();
    renameSync(path.join(registry.dataDir, 'keys', 'lost.json'), path.join(registry.dataDir, 'keys', 'registry-keys.json'));
    registry = await registry.restart({ ATTESTRY_CONFIG: config });
  });

  it('a real public-good v0.1 bundle (whole chain, SET only era) is accepted too', async () => {
    const tarball = readFileSync(path.join(FIXTURES, 'sigstore', 'npm', 'sigstore-2.1.0.tgz'));
    const bundle = readFileSync(path.join(FIXTURES, 'sigstore', 'npm', 'sigstore-2.1.0.provenance.v0.1.sigstore.json'), 'utf8');
    const body = publishBody({ name: 'sigstore', version: '2.1.0', tarball });
    body._attachments['sigstore-2.1.0.sigstore'] = { content_type: 'application/vnd.dev.sigstore.bundle+json;version=0.1', data: bundle, length: bundle.length };
    const res = await putPublish(registry.url, alice.token, body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const verify = await attestry(['verify', 'sigstore@2.1.0', '--registry', registry.url]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /source repository\s+https:\/\/github\.com\/sigstore\/sigstore-js/);
  });
});
