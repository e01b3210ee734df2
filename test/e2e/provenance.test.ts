// Build provenance on publish, end to end over HTTP: real public-good npm bundles published with
// their own tarballs, bundles minted by local Sigstore services for chosen CI identities, identity
// binding to trusted publishers, continuity, and what is served back (attestations, dist fields,
// registry signatures and keys). The npm CLI scenarios live in provenance-clients.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createUser, type TestUser } from '../support/accounts.ts';
import { FIXTURES } from '../support/paths.ts';
import { storesUnderTest } from '../support/postgres.ts';
import { escapeName, packageTarball, publishBody, putPublish, request, type ApiResponse } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { startSigstoreServices, type GithubIdentity, type SigstoreServices } from '../support/sigstore-services.ts';
import { parseKeysDocument } from '../../src/security/signing/version-signatures.ts';
import { verifyPublishAttestation } from '../../src/security/signing/publish-attestation.ts';

const NPM_FIXTURES = path.join(FIXTURES, 'sigstore', 'npm');
const fixture = (f: string) => readFileSync(path.join(NPM_FIXTURES, f));
const sha512hex = (b: Buffer) => createHash('sha512').update(b).digest('hex');

function refused(res: ApiResponse, status: number, code: string): void {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
  assert.equal(res.body.code, code, JSON.stringify(res.body).slice(0, 500));
}

/** A publish body carrying a bundle as npm sends it: JSON text in `data`, not base64. */
function withBundle(name: string, version: string, tarball: Buffer, bundle: string | null) {
  const body = publishBody({ name, version, tarball });
  if (bundle !== null) {
    const mediaType = (JSON.parse(bundle) as { mediaType?: string }).mediaType ?? 'application/vnd.dev.sigstore.bundle.v0.3+json';
    body._attachments[`${name}-${version}.sigstore`] = { content_type: mediaType, data: bundle, length: bundle.length };
  }
  return body;
}

/** The provenance entry of an npm attestations response (`{attestations:[{predicateType, bundle}]}`). */
function provenanceOf(attestationsJson: Buffer): string {
  const all = JSON.parse(attestationsJson.toString()) as { attestations: Array<{ predicateType: string; bundle: unknown }> };
  const p = all.attestations.find((a) => a.predicateType.startsWith('https://slsa.dev/provenance/'));
  assert.ok(p, 'the fixture has a provenance attestation');
  return JSON.stringify(p.bundle);
}

/** Every real npm provenance fixture with the tarball it signs, oldest first (continuity holds across them). */
const REAL = [
  { name: 'sigstore', version: '1.0.0', tarball: 'sigstore-1.0.0.tgz', bundle: () => provenanceOf(fixture('sigstore-1.0.0.attestations.json')) },
  { name: 'sigstore', version: '1.3.0', tarball: 'sigstore-1.3.0.tgz', bundle: () => fixture('sigstore-1.3.0.provenance.sigstore.json').toString() },
  { name: 'sigstore', version: '2.0.0', tarball: 'sigstore-2.0.0.tgz', bundle: () => fixture('sigstore-2.0.0.provenance.sigstore.json').toString() },
  { name: 'sigstore', version: '2.1.0', tarball: 'sigstore-2.1.0.tgz', bundle: () => fixture('sigstore-2.1.0.provenance.v0.3.sigstore.json').toString() },
  { name: 'tuf-js', version: '1.0.0', tarball: 'tuf-js-1.0.0.tgz', bundle: () => provenanceOf(fixture('tuf-js-1.0.0.attestations.json')) },
] as const;

for (const store of storesUnderTest()) {
  describe(`provenance on publish (${store})`, () => {
    let sigstore: SigstoreServices;
    let registry: TestRegistry;
    let alice: TestUser;
    let bob: TestUser;

    const bundleFor = (name: string, version: string, tarball: Buffer, identity?: GithubIdentity, extra: Record<string, unknown> = {}) =>
      sigstore.provenanceBundle({ name, version, tarball, ...(identity ? { identity } : {}), ...extra });
    const publish = (token: string, name: string, version: string, tarball: Buffer, bundle: string | null) =>
      putPublish(registry.url, token, withBundle(name, version, tarball, bundle));
    const fresh = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

    before(async () => {
      sigstore = await startSigstoreServices();
      const dir = mkdtempSync(path.join(os.tmpdir(), 'attestry-prov-'));
      const config = path.join(dir, 'config.json');
      // The public-good root (default) for the real fixtures, plus the local services' root.
      writeFileSync(config, JSON.stringify({ provenance: { trustedRoots: [sigstore.writeTrustedRoot(dir)] } }));
      registry = await startRegistry({ store, env: { ATTESTRY_CONFIG: config } });
      alice = await createUser(registry.url, 'alice');
      bob = await createUser(registry.url, 'bob');
    });
    after(async () => {
      await registry?.destroy();
      await sigstore?.close();
    });

    it('accepts every real npm provenance fixture with its own tarball, and serves the bundle back byte for byte', async () => {
      for (const f of REAL) {
        const tarball = fixture(f.tarball);
        const bundle = f.bundle();
        const res = await publish(alice.token, f.name, f.version, tarball, bundle);
        assert.equal(res.status, 201, `${f.name}@${f.version}: ${JSON.stringify(res.body).slice(0, 400)}`);
        const served = await fetch(`${registry.url}/-/npm/v1/attestations/${f.name}@${f.version}`);
        assert.equal(served.status, 200);
        const text = await served.text();
        assert.ok(text.includes(bundle), `${f.name}@${f.version}: the stored bundle is embedded verbatim`);
        const doc = JSON.parse(text) as { attestations: Array<{ predicateType: string; bundle: unknown }>; registryAttestations: Array<{ predicateType: string; bundle: unknown }>; source: Record<string, unknown> };
        assert.equal(doc.attestations.length, 1);
        assert.deepEqual(doc.attestations[0]?.bundle, JSON.parse(bundle));
        assert.equal(doc.source.repository, f.name === 'tuf-js' ? 'https://github.com/theupdateframework/tuf-js' : 'https://github.com/sigstore/sigstore-js');
        assert.equal(doc.source.status, 'unchecked');
        // The tarball served is the one the provenance names.
        const tgz = Buffer.from(await (await fetch(`${registry.url}/${f.name}/-/${f.name}-${f.version}.tgz`)).arrayBuffer());
        assert.equal(sha512hex(tgz), sha512hex(tarball));
      }
    });

    it('puts dist.attestations and dist.signatures in both document forms, verifiable with /-/npm/v1/keys', async () => {
      const keysRes = await fetch(`${registry.url}/-/npm/v1/keys`);
      assert.equal(keysRes.status, 200);
      const keysJson = (await keysRes.json()) as { keys: Array<{ keyid: string; key: string; keytype: string; scheme: string; expires: string | null }> };
      assert.equal(keysJson.keys.length, 1);
      assert.equal(keysJson.keys[0]?.keytype, 'ecdsa-sha2-nistp256');
      assert.match(keysJson.keys[0]?.keyid ?? '', /^SHA256:[A-Za-z0-9+/]{43}$/);
      for (const accept of ['application/json', 'application/vnd.npm.install-v1+json']) {
        const doc = (await (await fetch(`${registry.url}/sigstore`, { headers: { accept } })).json()) as { versions: Record<string, { dist: Record<string, unknown> }> };
        const dist = doc.versions['2.1.0']?.dist as { integrity: string; attestations: unknown; signatures: Array<{ keyid: string; sig: string }> };
        assert.deepEqual(dist.attestations, { url: `${registry.url}/-/npm/v1/attestations/sigstore@2.1.0`, provenance: { predicateType: 'https://slsa.dev/provenance/v1' } }, accept);
        assert.equal(dist.signatures.length, 1);
        const sig = dist.signatures[0] as { keyid: string; sig: string };
        const key = keysJson.keys.find((k) => k.keyid === sig.keyid);
        assert.ok(key, 'the signing key is served');
        // Exactly how the npm CLI checks it (pacote): PEM-wrapped SPKI, SHA-256, base64 DER signature.
        const pem = `-----BEGIN PUBLIC KEY-----\n${key.key}\n-----END PUBLIC KEY-----`;
        assert.ok(cryptoVerify('sha256', Buffer.from(`sigstore@2.1.0:${dist.integrity}`), createPublicKey(pem), Buffer.from(sig.sig, 'base64')));
        assert.ok(!cryptoVerify('sha256', Buffer.from(`sigstore@2.0.0:${dist.integrity}`), createPublicKey(pem), Buffer.from(sig.sig, 'base64')));
      }
    });

    it('serves the registry\'s own publish attestation, signed by its key, naming the tarball', async () => {
      const keys = parseKeysDocument(await (await fetch(`${registry.url}/-/npm/v1/keys`)).json());
      const doc = (await (await fetch(`${registry.url}/-/npm/v1/attestations/sigstore@2.1.0`)).json()) as { registryAttestations: Array<{ predicateType: string; bundle: object }> };
      assert.equal(doc.registryAttestations.length, 1);
      const att = doc.registryAttestations[0] as { predicateType: string; bundle: object };
      assert.equal(att.predicateType, 'https://github.com/npm/attestation/tree/main/specs/publish/v0.1');
      const verified = verifyPublishAttestation(att.bundle, keys, { name: 'sigstore', version: '2.1.0', sha512hex: sha512hex(fixture('sigstore-2.1.0.tgz')) });
      assert.equal(verified.keyId, keys[0]?.keyId);
      assert.throws(() => verifyPublishAttestation(att.bundle, keys, { name: 'sigstore', version: '2.0.0', sha512hex: sha512hex(fixture('sigstore-2.1.0.tgz')) }));
    });

    it('shows provenance to people on a page with links to the source, the commit, the run and the log entry', async () => {
      const res = await fetch(`${registry.url}/-/web/provenance/sigstore@2.1.0`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      const html = await res.text();
      assert.match(html, /<a href="https:\/\/github\.com\/sigstore\/sigstore-js"/);
      assert.match(html, /<a href="https:\/\/github\.com\/sigstore\/sigstore-js\/commit\/26d16513386ffaa790b1c32f927544f1322e4194"/);
      assert.match(html, /<a href="https:\/\/github\.com\/sigstore\/sigstore-js\/actions\/runs\/6014488666\/attempts\/1"/);
      assert.match(html, /logIndex=33351527/);
      assert.match(html, /does not say the code is safe/);
      const none = await fetch(`${registry.url}/-/web/provenance/sigstore@9.9.9`);
      assert.equal(none.status, 404);
    });

    it('refuses mutated real bundles, each with its own code, and stores nothing', async () => {
      const name = 'sigstore';
      const real = JSON.parse(fixture('sigstore-2.1.0.provenance.v0.3.sigstore.json').toString()) as {
        dsseEnvelope: { payload: string; signatures: Array<{ sig: string }> };
        verificationMaterial: { certificate: { rawBytes: string }; tlogEntries: unknown[] };
      };
      const other = JSON.parse(fixture('sigstore-2.0.0.provenance.sigstore.json').toString()) as { verificationMaterial: { x509CertificateChain: { certificates: Array<{ rawBytes: string }> } } };
      const mutate = (f: (b: typeof real) => void) => {
        const copy = structuredClone(real);
        f(copy);
        return JSON.stringify(copy);
      };
      // A valid tarball for the same name and version, but not the one the provenance names.
      const impostor = packageTarball(name, '3.0.0-impostor.1');
      const statement = JSON.parse(Buffer.from(real.dsseEnvelope.payload, 'base64').toString()) as { subject: Array<{ name: string }> };
      const renamed = mutate((b) => {
        statement.subject[0] = { ...statement.subject[0], name: 'pkg:npm/sigstore@3.0.0-impostor.1' } as { name: string };
        b.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
      });
      const cases: Array<[string, string, Buffer, string, number, string]> = [
        ['tarball is not the one the provenance names', '3.0.0-impostor.1', impostor, JSON.stringify(real), 400, 'PROVENANCE_SUBJECT_NAME_MISMATCH'],
        ['subject renamed inside the signed payload', '3.0.0-impostor.1', impostor, renamed, 400, 'PROVENANCE_TLOG_INVALID'],
        ['certificate swapped for another signing event', '2.1.0', fixture('sigstore-2.1.0.tgz'), mutate((b) => { b.verificationMaterial.certificate.rawBytes = other.verificationMaterial.x509CertificateChain.certificates[0]?.rawBytes ?? ''; }), 400, 'PROVENANCE_CERTIFICATE_INVALID'],
        ['transparency-log entry removed', '2.1.0', fixture('sigstore-2.1.0.tgz'), mutate((b) => { b.verificationMaterial.tlogEntries = []; }), 400, 'PROVENANCE_TLOG_INVALID'],
        ['not JSON', '2.1.0', fixture('sigstore-2.1.0.tgz'), '{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", ', 400, 'PROVENANCE_MALFORMED'],
      ];
      for (const [what, version, tarball, bundle, status, code] of cases) {
        const body = withBundle(name, version, tarball, null);
        body._attachments[`${name}-${version}.sigstore`] = { content_type: 'application/vnd.dev.sigstore.bundle.v0.3+json', data: bundle, length: bundle.length };
        const res = await putPublish(registry.url, alice.token, body);
        assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body).slice(0, 300)}`);
        assert.equal(res.body.code, code, `${what}: ${JSON.stringify(res.body).slice(0, 300)}`);
      }
      const doc = (await (await fetch(`${registry.url}/sigstore`)).json()) as { versions: Record<string, unknown> };
      assert.equal(doc.versions['3.0.0-impostor.1'], undefined, 'nothing of a refused publish is stored');
    });

    it('refuses the other real npm bundles as provenance: npm\'s own key-signed publish attestation, and personal (non-CI) identities', async () => {
      const npmAttestation = fixture('sigstore-1.3.0.publish.sigstore.json').toString();
      refused(await publish(alice.token, 'sigstore', '1.3.0', fixture('sigstore-1.3.0.tgz'), npmAttestation), 400, 'PROVENANCE_NOT_CERTIFICATE_SIGNED');
      // Real, valid bundles over sigstore@1.0.0 signed by a person through GitHub login: not a CI provider.
      for (const f of ['bundleV01-dsse-with-proof', 'bundleV02-intoto', 'bundleV03-dsse', 'bundleV01-full-cert-chain']) {
        const bundle = fixture(`sigstore-js-tests/${f}.sigstore.json`).toString();
        refused(await publish(alice.token, 'sigstore', '1.0.0', fixture('sigstore-1.0.0.tgz'), bundle), 400, 'PROVENANCE_ISSUER_UNSUPPORTED');
      }
    });

    it('accepts a bundle minted for the publishing CI identity, and keeps the identity it proves', async () => {
      const name = fresh('mint');
      const tarball = packageTarball(name, '1.0.0');
      const res = await publish(alice.token, name, '1.0.0', tarball, await bundleFor(name, '1.0.0', tarball, { repository: 'acme/widget' }));
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const doc = (await (await fetch(`${registry.url}/-/npm/v1/attestations/${name}@1.0.0`)).json()) as { source: { repository: string } };
      assert.equal(doc.source.repository, 'https://github.com/acme/widget');
    });

    it('refuses statements the registry does not accept, before storing anything', async () => {
      const name = fresh('shape');
      const tarball = packageTarball(name, '1.0.0');
      const digest = { sha512: sha512hex(tarball) };
      refused(await publish(alice.token, name, '1.0.0', tarball, await bundleFor(name, '1.0.0', tarball, undefined, { predicateType: 'https://example.com/custom/v1' })), 400, 'PROVENANCE_PREDICATE_NOT_ALLOWED');
      refused(await publish(alice.token, name, '1.0.0', tarball, await bundleFor(name, '1.0.0', tarball, undefined, {
        subjects: [{ name: `pkg:npm/${name}@1.0.0`, digest }, { name: `pkg:npm/${name}@1.0.1`, digest }],
      })), 400, 'PROVENANCE_SUBJECT_COUNT');
      refused(await publish(alice.token, name, '1.0.0', tarball, await bundleFor(name, '1.0.0', tarball, undefined, {
        subjects: [{ name: `pkg:npm/${name}@1.0.0`, digest: { sha512: 'ab'.repeat(64) } }],
      })), 400, 'PROVENANCE_DIGEST_MISMATCH');
      refused(await publish(alice.token, name, '1.0.0', tarball, await bundleFor(name, '1.0.0', tarball, { iss: 'https://ci.attacker.test' })), 400, 'PROVENANCE_ISSUER_UNSUPPORTED');
      assert.equal((await fetch(`${registry.url}/${name}`)).status, 404, 'a refused first publish creates no package');
    });

    it('binds provenance to the package\'s trusted publishers when a person\'s token publishes it', async () => {
      const name = fresh('bound');
      const tarball = packageTarball(name, '1.0.0');
      assert.equal((await publish(alice.token, name, '1.0.0', tarball, null)).status, 201);
      const trust = await request('POST', `${registry.url}/-/package/${escapeName(name)}/trust`, alice.token,
        [{ type: 'github', claims: { repository: 'acme/widget', workflow_ref: { file: 'release.yml' } }, permissions: ['createPackage'] }]);
      assert.equal(trust.status, 201, JSON.stringify(trust.body));
      const t2 = packageTarball(name, '1.1.0');
      refused(await publish(alice.token, name, '1.1.0', t2, await bundleFor(name, '1.1.0', t2, { repository: 'mallory/widget' })), 403, 'PROVENANCE_PUBLISHER_MISMATCH');
      refused(await publish(alice.token, name, '1.1.0', t2, await bundleFor(name, '1.1.0', t2, { repository: 'acme/widget', workflowFile: 'other.yml' })), 403, 'PROVENANCE_PUBLISHER_MISMATCH');
      const ok = await publish(alice.token, name, '1.1.0', t2, await bundleFor(name, '1.1.0', t2, { repository: 'acme/widget' }));
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
    });

    it('keeps continuity: once a version has provenance, the next needs it, from the same repository, unless a maintainer declared the change', async () => {
      const name = fresh('cont');
      const t = (v: string) => packageTarball(name, v);
      assert.equal((await publish(alice.token, name, '1.0.0', t('1.0.0'), await bundleFor(name, '1.0.0', t('1.0.0'), { repository: 'acme/widget' }))).status, 201);
      refused(await publish(alice.token, name, '1.0.1', t('1.0.1'), null), 403, 'PROVENANCE_REQUIRED');
      refused(await publish(alice.token, name, '1.0.1', t('1.0.1'), await bundleFor(name, '1.0.1', t('1.0.1'), { repository: 'acme/widget-fork' })), 403, 'PROVENANCE_SOURCE_CHANGED');
      const same = await publish(alice.token, name, '1.0.1', t('1.0.1'), await bundleFor(name, '1.0.1', t('1.0.1'), { repository: 'acme/widget', sha: 'c'.repeat(40) }));
      assert.equal(same.status, 201, JSON.stringify(same.body));

      const settings = `${registry.url}/-/package/${escapeName(name)}/provenance`;
      const soon = new Date(Date.now() + 3_600_000).toISOString();
      refused(await request('PUT', settings, bob.token, { changeAllowedUntil: soon }), 403, 'AUTHZ_OWNER_REQUIRED');
      refused(await request('PUT', settings, alice.token, { changeAllowedUntil: new Date(Date.now() - 1000).toISOString() }), 400, 'PROVENANCE_BAD_WINDOW');
      refused(await request('PUT', settings, alice.token, { changeAllowedUntil: new Date(Date.now() + 90 * 86_400_000).toISOString() }), 400, 'PROVENANCE_BAD_WINDOW');
      refused(await request('PUT', settings, alice.token, { until: soon }), 400, 'PROVENANCE_BAD_WINDOW');
      const opened = await request('PUT', settings, alice.token, { changeAllowedUntil: soon });
      assert.equal(opened.status, 200, JSON.stringify(opened.body));
      assert.deepEqual((await request('GET', settings, alice.token)).body, { changeAllowedUntil: soon });
      const moved = await publish(alice.token, name, '2.0.0', t('2.0.0'), await bundleFor(name, '2.0.0', t('2.0.0'), { repository: 'acme/widget-next' }));
      assert.equal(moved.status, 201, JSON.stringify(moved.body));
      assert.equal((await request('PUT', settings, alice.token, { changeAllowedUntil: null })).status, 200);
      // The new repository is now the one continuity holds to.
      refused(await publish(alice.token, name, '2.0.1', t('2.0.1'), await bundleFor(name, '2.0.1', t('2.0.1'), { repository: 'acme/widget' })), 403, 'PROVENANCE_SOURCE_CHANGED');
    });

    it('answers 404 for the attestations of a version without provenance, or that does not exist', async () => {
      const name = fresh('plain');
      assert.equal((await publish(alice.token, name, '1.0.0', packageTarball(name, '1.0.0'), null)).status, 201);
      refused(await request('GET', `${registry.url}/-/npm/v1/attestations/${name}@1.0.0`), 404, 'ATTESTATIONS_NOT_FOUND');
      refused(await request('GET', `${registry.url}/-/npm/v1/attestations/${name}@9.9.9`), 404, 'VERSION_NOT_FOUND');
      refused(await request('GET', `${registry.url}/-/npm/v1/attestations/${name}`), 404, 'VERSION_NOT_FOUND');
      const doc = (await (await fetch(`${registry.url}/${name}`)).json()) as { versions: Record<string, { dist: Record<string, unknown> }> };
      assert.equal(doc.versions['1.0.0']?.dist.attestations, undefined);
      assert.equal((doc.versions['1.0.0']?.dist.signatures as unknown[]).length, 1, 'every version is signed, provenance or not');
    });

    it('serves scoped packages\' attestations at the URL written in the document', async () => {
      const name = `@alice/${fresh('scoped')}`;
      const tarball = packageTarball(name, '1.0.0');
      assert.equal((await publish(alice.token, name, '1.0.0', tarball, await bundleFor(name, '1.0.0', tarball))).status, 201);
      const doc = (await (await fetch(`${registry.url}/${escapeName(name)}`)).json()) as { versions: Record<string, { dist: { attestations: { url: string } } }> };
      const url = doc.versions['1.0.0']?.dist.attestations.url as string;
      assert.equal(url, `${registry.url}/-/npm/v1/attestations/${name}@1.0.0`);
      assert.equal((await fetch(url)).status, 200);
      assert.equal((await fetch(url.replace(`${name}@`, `${encodeURIComponent(name)}@`))).status, 200, 'an encoded scope works too');
    });
  });
}

describe('trusted roots are checked before the registry starts', () => {
  it('refuses an unreadable root file, and a root whose log key has no validity start', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attestry-roots-'));
    const missing = path.join(dir, 'config-missing.json');
    writeFileSync(missing, JSON.stringify({ provenance: { trustedRoots: [path.join(dir, 'nope.json')] } }));
    await assert.rejects(startRegistry({ env: { ATTESTRY_CONFIG: missing } }), /configuration error: provenance: .*nope\.json/s);
    const noStart = path.join(FIXTURES, 'sigstore', 'conformance', 'trust-root-tlog-missing-validity-start_fail', 'trusted_root.json');
    const bad = path.join(dir, 'config-bad.json');
    writeFileSync(bad, JSON.stringify({ provenance: { trustedRoots: [noStart] } }));
    await assert.rejects(startRegistry({ env: { ATTESTRY_CONFIG: bad } }), /configuration error: provenance: .*validFor\.start/s);
  });
});
