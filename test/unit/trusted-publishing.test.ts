// The trusted-publishing service against a real (in-memory SQLite) store, with time under the
// test's control: what the end-to-end suite cannot wait for (expiry of minted tokens, lapsing of
// pending publishers) and the limits. The verifier is a stand-in that returns the claims a test
// chooses; the real one is covered by oidc-verifier.test.ts.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { DEFAULT_TRUSTED_PUBLISHING, TrustedPublishing, type WorkloadVerifier } from '../../src/core/publishers/trusted-publishing.ts';
import { isAttestryError } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/logger.ts';
import { NpmEcosystem } from '../../src/ecosystems/npm/npm-ecosystem.ts';
import { Authorizer } from '../../src/security/authz/authorize.ts';
import type { Principal } from '../../src/security/authz/principal.ts';
import { PROVIDERS } from '../../src/security/oidc/providers/index.ts';
import type { ProviderId } from '../../src/security/oidc/provider.ts';
import { migrate } from '../../src/storage/metadata/sql/migrations.ts';
import { SqlMetadataStore } from '../../src/storage/metadata/sql/sql-store.ts';
import { SqliteDatabase } from '../../src/storage/metadata/sqlite/sqlite-database.ts';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const ISS = 'https://token.actions.githubusercontent.com';
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, debugEnabled: false };
const eco = new NpmEcosystem({ publicUrl: 'http://registry.test', archiveLimits: { maxCompressedBytes: 1e6, maxUncompressedBytes: 1e7, maxEntries: 100 }, maxManifestBytes: 1e5 });
const GITHUB = { type: 'github', claims: { repository: 'acme/widget', workflow_ref: { file: 'release.yml' } }, permissions: ['createPackage'] };

let now: number;
let jti = 0;
let db: SqliteDatabase;
let store: SqlMetadataStore;
let tp: TrustedPublishing;
let alice: Principal;

const claims = (over: Record<string, unknown> = {}) => ({
  iss: ISS, aud: 'npm:registry.test', exp: Math.floor(now / 1000) + 300, iat: Math.floor(now / 1000), jti: `j${++jti}`,
  repository: 'acme/widget', repository_owner: 'acme', repository_owner_id: '1', repository_id: '2', event_name: 'push', ref: 'refs/tags/v1', sha: 'a'.repeat(40),
  workflow_ref: 'acme/widget/.github/workflows/release.yml@refs/tags/v1', ...over,
});

const verifier: WorkloadVerifier = {
  async verify(token) {
    return { provider: PROVIDERS.github, issuer: ISS, claims: JSON.parse(token) as Record<string, unknown> };
  },
  defaultIssuer: (p: ProviderId) => (p === 'github' ? ISS : undefined),
  issuerAccepted: (p: ProviderId, iss: string) => p === 'github' && iss === ISS,
};

async function refused(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isAttestryError(e), String(e));
    assert.equal(e.code, code, e.message);
    return true;
  });
}

async function user(name: string): Promise<Principal> {
  const u = await store.insertUser({ name, email: `${name}@example.com`, passwordHash: 'x', isAdmin: false, createdAt: now, updatedAt: now });
  return { kind: 'user', userId: u.id, name, isAdmin: false, token: null };
}

beforeEach(async () => {
  now = Date.UTC(2026, 10, 23, 12);
  db = new SqliteDatabase(':memory:');
  await migrate(db);
  store = new SqlMetadataStore(db);
  tp = new TrustedPublishing({ store, authorizer: new Authorizer(silent), verifier, clock: () => now, log: silent });
  alice = await user('alice');
});

describe('TrustedPublishing: minted tokens over time', () => {
  it('a minted token works for 15 minutes, then is refused as expired', async () => {
    await tp.add(alice, eco, 'widget', GITHUB);
    const { token, expiresAt } = await tp.exchange(eco, 'widget', JSON.stringify(claims()));
    assert.equal(expiresAt - now, 15 * MINUTE);
    const grant = await tp.resolveToken(token);
    assert.equal(grant?.kind, 'publisher');
    assert.equal(grant?.packageName, 'widget');
    // The verified workload claims travel with the token (provenance must come from the same run);
    // registered JWT claims (aud, exp, iat, jti) are not identity and are not kept.
    assert.equal(grant?.issuer, ISS);
    assert.deepEqual(grant?.identity, { iss: ISS, repository: 'acme/widget', repository_owner: 'acme', repository_owner_id: '1', repository_id: '2', event_name: 'push',
      ref: 'refs/tags/v1', sha: 'a'.repeat(40), workflow_ref: 'acme/widget/.github/workflows/release.yml@refs/tags/v1' });
    now += 15 * MINUTE - 1;
    assert.ok(await tp.resolveToken(token));
    now += 1;
    await refused(tp.resolveToken(token), 'OIDC_PUBLISH_TOKEN_EXPIRED');
  });

  it('a value that is not a minted token resolves to nothing (user tokens are looked up elsewhere)', async () => {
    assert.equal(await tp.resolveToken('atr_not-a-real-token'), undefined);
    assert.equal(await tp.resolveToken('npm_abc'), undefined);
  });

  it('a replayed jti is refused until it expires, and the OIDC token is stored nowhere', async () => {
    await tp.add(alice, eco, 'widget', GITHUB);
    const raw = JSON.stringify(claims({ jti: 'same' }));
    await tp.exchange(eco, 'widget', raw);
    await refused(tp.exchange(eco, 'widget', raw), 'OIDC_TOKEN_REPLAYED');
    for (const table of ['publisher_tokens', 'oidc_token_uses', 'trusted_publishers', 'events']) {
      const rows = JSON.stringify(await db.all(`SELECT * FROM ${table}`));
      assert.ok(!rows.includes(raw), `${table} must not hold the OIDC token`);
    }
  });
});

describe('TrustedPublishing: pending publishers', () => {
  it('lapse after 30 days when the package was not created', async () => {
    await tp.add(alice, eco, 'brand-new', GITHUB);
    now += 30 * DAY - MINUTE;
    await tp.exchange(eco, 'brand-new', JSON.stringify(claims()));
    now += 2 * MINUTE;
    await refused(tp.exchange(eco, 'brand-new', JSON.stringify(claims())), 'OIDC_NO_TRUSTED_PUBLISHER');
  });

  it('are limited per user; lapsed ones do not count', async () => {
    for (let i = 0; i < 10; i++) await tp.add(alice, eco, `pending-${i}`, GITHUB);
    await refused(tp.add(alice, eco, 'pending-10', GITHUB), 'TRUST_TOO_MANY_PENDING');
    now += 31 * DAY;
    await tp.add(alice, eco, 'pending-10', GITHUB);
  });

  it('are listed as pending', async () => {
    await tp.add(alice, eco, 'brand-new', GITHUB);
    const [v] = await tp.list(alice, eco, 'brand-new');
    assert.equal(v?.pending, true);
    assert.deepEqual(v?.claims, GITHUB.claims);
    assert.deepEqual(v?.permissions, ['createPackage']);
  });
});

describe('TrustedPublishing: configuration refusals', () => {
  it('the same configuration twice; more than 20 per package; unknown issuer; bad permissions', async () => {
    // Enough pending room that the per-package limit is the one reached.
    tp = new TrustedPublishing({ store, authorizer: new Authorizer(silent), verifier, clock: () => now, log: silent, policy: { ...DEFAULT_TRUSTED_PUBLISHING, maxPendingPerUser: 100 } });
    await tp.add(alice, eco, 'widget', GITHUB);
    await refused(tp.add(alice, eco, 'widget', { ...GITHUB, claims: { workflow_ref: { file: 'release.yml' }, repository: 'ACME/widget' } }), 'TRUST_EXISTS');
    for (let i = 1; i < 20; i++) await tp.add(alice, eco, 'widget', { ...GITHUB, claims: { repository: `acme/w${i}`, workflow_ref: { file: 'release.yml' } } });
    await refused(tp.add(alice, eco, 'widget', { ...GITHUB, claims: { repository: 'acme/w99', workflow_ref: { file: 'release.yml' } } }), 'TRUST_TOO_MANY');
    await refused(tp.add(alice, eco, 'other', { ...GITHUB, issuer: 'https://ghes.evil.example' }), 'TRUST_UNKNOWN_ISSUER');
    await refused(tp.add(alice, eco, 'other', { ...GITHUB, permissions: ['admin'] }), 'TRUST_BAD_PERMISSIONS');
    await refused(tp.add(alice, eco, 'other', { ...GITHUB, permissions: [] }), 'TRUST_BAD_PERMISSIONS');
    await refused(tp.revoke(alice, eco, 'widget', 'no-such-id'), 'TRUST_NOT_FOUND');
  });

  it('a token for a stage-only configuration cannot publish', async () => {
    await tp.add(alice, eco, 'widget', { ...GITHUB, permissions: ['createStagedPackage'] });
    const { token } = await tp.exchange(eco, 'widget', JSON.stringify(claims()));
    const grant = await tp.resolveToken(token);
    assert.deepEqual(grant?.permissions, ['createStagedPackage']);
  });
});
