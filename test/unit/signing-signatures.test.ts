// dist.signatures and the keys document, checked the way the npm CLI (pacote) and pnpm check them.
import assert from 'node:assert/strict';
import { createHash, createVerify, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { isAttestryError } from '../../src/core/errors.ts';
import { RegistryKeyRing, type RegistryPublicKey } from '../../src/security/signing/registry-keys.ts';
import { keysDocument, parseKeysDocument, signVersion, verifyVersionSignature } from '../../src/security/signing/version-signatures.ts';

const scratch = mkdtempSync(join(tmpdir(), 'attestry-sig-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const T1 = Date.parse('2026-06-01T00:00:00.000Z');
let now = T0;
const ring = RegistryKeyRing.open(join(scratch, 'ring.json'), () => now);
const integrity = `sha512-${createHash('sha512').update('tarball bytes').digest('base64')}`;
const otherIntegrity = `sha512-${createHash('sha512').update('other bytes').digest('base64')}`;

/**
 * pacote/lib/registry.js (npm CLI 11.19.1), verbatim in logic: keys come from GET /-/npm/v1/keys
 * with pemkey = the base64 `key` between PEM armour lines; the message is `${_id}:${_integrity}`.
 */
function npmCliVerify(keysBody: string, mani: { _id: string; _integrity: string; _time?: string; signatures: { keyid: string; sig: string }[] }): string {
  const MISSING_TIME_CUTOFF = '2015-01-01T00:00:00.000Z';
  const registryKeys = (JSON.parse(keysBody) as { keys: { keyid: string; key: string; expires: string | null }[] }).keys.map((key) => ({
    ...key,
    pemkey: `-----BEGIN PUBLIC KEY-----\n${key.key}\n-----END PUBLIC KEY-----`,
  }));
  const message = `${mani._id}:${mani._integrity}`;
  for (const signature of mani.signatures) {
    const publicKey = registryKeys.filter((key) => key.keyid === signature.keyid)[0];
    if (!publicKey) return 'EMISSINGSIGNATUREKEY';
    const publishedTime = Date.parse(mani._time || MISSING_TIME_CUTOFF);
    const validPublicKey = !publicKey.expires || publishedTime < Date.parse(publicKey.expires);
    if (!validPublicKey) return 'EEXPIREDSIGNATUREKEY';
    const verifier = createVerify('SHA256');
    verifier.write(message);
    verifier.end();
    if (!verifier.verify(publicKey.pemkey, signature.sig, 'base64')) return 'EINTEGRITYSIGNATURE';
  }
  return 'ok';
}

describe('signVersion / verifyVersionSignature', () => {
  const keys = (): readonly RegistryPublicKey[] => ring.publicKeys();

  it('round trip', () => {
    const sig = signVersion(ring.active(), '@scope/pkg', '1.2.3', integrity);
    assert.equal(sig.keyid, ring.active().keyId);
    assert.equal(verifyVersionSignature(keys(), '@scope/pkg', '1.2.3', integrity, sig, T0), true);
  });

  it('refuses another name, version, integrity, key id or signature', () => {
    const sig = signVersion(ring.active(), 'pkg', '1.2.3', integrity);
    assert.equal(verifyVersionSignature(keys(), 'pkh', '1.2.3', integrity, sig, T0), false);
    assert.equal(verifyVersionSignature(keys(), 'pkg', '1.2.4', integrity, sig, T0), false);
    assert.equal(verifyVersionSignature(keys(), 'pkg', '1.2.3', otherIntegrity, sig, T0), false);
    assert.equal(verifyVersionSignature(keys(), 'pkg', '1.2.3', integrity, { ...sig, keyid: 'SHA256:unknown' }, T0), false);
    assert.equal(verifyVersionSignature([], 'pkg', '1.2.3', integrity, sig, T0), false);
    const other = signVersion(ring.active(), 'pkg', '1.2.4', integrity);
    assert.equal(verifyVersionSignature(keys(), 'pkg', '1.2.3', integrity, { ...sig, sig: other.sig }, T0), false);
    assert.equal(verifyVersionSignature(keys(), 'pkg', '1.2.3', integrity, { ...sig, sig: `${sig.sig}!` }, T0), false, 'junk in base64');
    assert.equal(verifyVersionSignature(keys(), 'pkg', '1.2.3', integrity, { ...sig, sig: '' }, T0), false);
    assert.equal(verifyVersionSignature(keys(), 'pkg', '1.2.3', integrity, sig, Number.NaN), false);
  });

  it("a retired key verifies what was published before its expiry, not after (npm's publish-time semantics)", () => {
    const local = RegistryKeyRing.open(join(scratch, 'rotating.json'), () => now);
    const sig = signVersion(local.active(), 'pkg', '1.0.0', integrity);
    now = T1;
    local.rotate();
    now = T0;
    const retired = local.publicKeys()[1];
    assert.equal(retired?.expiresAt, T1);
    assert.equal(verifyVersionSignature(local.publicKeys(), 'pkg', '1.0.0', integrity, sig, T1 - 1), true);
    assert.equal(verifyVersionSignature(local.publicKeys(), 'pkg', '1.0.0', integrity, sig, T1), false, 'at the expiry instant: npm requires publishedTime < expires');
    assert.equal(verifyVersionSignature(local.publicKeys(), 'pkg', '1.0.0', integrity, sig, T1 + 1), false);
  });

  it('signs only a single sha512 SRI string (what npm normalises to itself and pnpm requires)', () => {
    const sha1 = `sha1-${createHash('sha1').update('x').digest('base64')}`;
    for (const bad of [sha1, `${integrity} ${integrity}`, integrity.slice(0, -2), `${integrity}?opt`, '']) {
      assert.throws(() => signVersion(ring.active(), 'pkg', '1.0.0', bad), (e: unknown) => isAttestryError(e) && e.code === 'SIGNATURE_INPUT_INVALID', bad);
    }
    assert.throws(() => signVersion(ring.active(), '', '1.0.0', integrity), (e: unknown) => isAttestryError(e) && e.code === 'SIGNATURE_INPUT_INVALID');
  });

  it('our signatures pass the npm CLI check, served through our keys document', () => {
    const local = RegistryKeyRing.open(join(scratch, 'npmcli.json'), () => now);
    const sig = signVersion(local.active(), '@scope/pkg', '1.2.3', integrity);
    const body = keysDocument(local.publicKeys());
    const mani = { _id: '@scope/pkg@1.2.3', _integrity: integrity, _time: new Date(T0).toISOString(), signatures: [sig] };
    assert.equal(npmCliVerify(body, mani), 'ok');
    assert.equal(npmCliVerify(body, { ...mani, _integrity: otherIntegrity }), 'EINTEGRITYSIGNATURE');
    assert.equal(npmCliVerify(body, { ...mani, signatures: [{ ...sig, keyid: 'SHA256:x' }] }), 'EMISSINGSIGNATUREKEY');
    now = T1;
    local.rotate();
    now = T0;
    const afterRotation = keysDocument(local.publicKeys());
    assert.equal(npmCliVerify(afterRotation, mani), 'ok', 'published before the rotation');
    assert.equal(npmCliVerify(afterRotation, { ...mani, _time: new Date(T1).toISOString() }), 'EEXPIREDSIGNATUREKEY');
    // Both verifiers agree on every case above.
    assert.equal(verifyVersionSignature(local.publicKeys(), '@scope/pkg', '1.2.3', integrity, sig, T0), true);
    assert.equal(verifyVersionSignature(local.publicKeys(), '@scope/pkg', '1.2.3', integrity, sig, T1), false);
  });
});

// npm's real keys response (public data, also mirrored inside the pnpm package), rebuilt from the
// Sigstore-format key list in the fixtures.
const NPM_KEYS_FILE = new URL('../../../shared/fixtures/sigstore/trusted-roots/npm-attestation-keys.json', import.meta.url);
const npmKeys = (usage: string): RegistryPublicKey[] =>
  (JSON.parse(readFileSync(NPM_KEYS_FILE, 'utf8')) as { keys: { keyId: string; keyUsage: string; publicKey: { rawBytes: string; validFor: { start: string; end?: string } } }[] }).keys
    .filter((k) => k.keyUsage === usage)
    .map((k) => ({ keyId: k.keyId, publicKeyDer: Buffer.from(k.publicKey.rawBytes, 'base64'), createdAt: Date.parse(k.publicKey.validFor.start), expiresAt: k.publicKey.validFor.end ? Date.parse(k.publicKey.validFor.end) : null }))
    .sort((a, b) => b.createdAt - a.createdAt);
const NPM_KEYS_RESPONSE = [
  { expires: null, keyid: 'SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U', keytype: 'ecdsa-sha2-nistp256', scheme: 'ecdsa-sha2-nistp256', key: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEY6Ya7W++7aUPzvMTrezH6Ycx3c+HOKYCcNGybJZSCJq/fd7Qa8uuAKtdIkUQtQiEKERhAmE5lMMJhP8OkDOa2g==' },
  { expires: '2025-01-29T00:00:00.000Z', keyid: 'SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA', keytype: 'ecdsa-sha2-nistp256', scheme: 'ecdsa-sha2-nistp256', key: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1Olb3zMAFFxXKHiIkQO5cJ3Yhl5i6UPp+IhuteBJbuHcA5UogKo0EWtlWwW6KSaKoTNEYL7JlCQiVnkhBktUgg==' },
];
const PNPM_MIRROR = join(import.meta.dirname, '../../node_modules/pnpm/dist/node_modules/get-pnpm/lib/npmSigningKeys.js');

describe('keysDocument', () => {
  it("produces npm's exact shape, byte for byte, for npm's own keys", () => {
    assert.equal(keysDocument(npmKeys('npm:signatures')), JSON.stringify({ keys: NPM_KEYS_RESPONSE }));
  });

  it('matches the copy of that response pnpm ships', { skip: !existsSync(PNPM_MIRROR) && 'pnpm devDependency not installed' }, async () => {
    const mirror = (await import(pathToFileURL(PNPM_MIRROR).href)) as { NPM_SIGNING_KEYS: unknown };
    assert.deepEqual(JSON.parse(keysDocument(npmKeys('npm:signatures'))), { keys: mirror.NPM_SIGNING_KEYS });
  });

  it('round-trips through parseKeysDocument (creation time is not in the document)', () => {
    const keys = npmKeys('npm:signatures');
    assert.deepEqual(parseKeysDocument(JSON.parse(keysDocument(keys))), keys.map((k) => ({ ...k, createdAt: 0 })));
    assert.deepEqual(parseKeysDocument({ keys: [] }), []);
    const { expires: _ignored, ...noExpires } = NPM_KEYS_RESPONSE[1] ?? {};
    assert.equal(parseKeysDocument({ keys: [{ ...noExpires, extra: true }] })[0]?.expiresAt, null, 'absent expires = never, as npm reads it');
  });
});

describe('parseKeysDocument refusals', () => {
  const good = NPM_KEYS_RESPONSE[1] ?? NPM_KEYS_RESPONSE[0];
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const cases: Record<string, unknown> = {
    'not an object': [],
    null: null,
    'a string': JSON.stringify({ keys: [] }),
    'keys missing': {},
    'keys not an array': { keys: {} },
    'entry not an object': { keys: ['x'] },
    'wrong keytype': { keys: [{ ...good, keytype: 'ssh-ed25519' }] },
    'wrong scheme': { keys: [{ ...good, scheme: 'rsa' }] },
    'key not base64': { keys: [{ ...good, key: 'not base64!' }] },
    'key not SPKI': { keys: [{ ...good, key: 'AAAA' }] },
    'P-384 key': { keys: [{ ...good, key: p384 }] },
    'keyid not its fingerprint': { keys: [{ ...good, keyid: NPM_KEYS_RESPONSE[0]?.keyid }] },
    'keyid not a string': { keys: [{ ...good, keyid: 1 }] },
    'duplicate keyid': { keys: [good, good] },
    'expires not a time': { keys: [{ ...good, expires: 'tomorrow' }] },
    'expires a number': { keys: [{ ...good, expires: 1738108800000 }] },
    'too many keys': { keys: Array.from({ length: 101 }, () => good) },
  };
  for (const [what, body] of Object.entries(cases)) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parseKeysDocument(body), (e: unknown) => isAttestryError(e) && e.code === 'KEYS_DOCUMENT_INVALID');
    });
  }
});
