// The registry key ring: one JSON file, created on first open, rotated atomically, never replaced
// when it cannot be read. Key ids follow npm's definition (proved on npm's own keys).
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createPublicKey, generateKeyPairSync, verify as cryptoVerify } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isAttestryError } from '../../src/core/errors.ts';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { writeFileAtomic } from '../../src/security/signing/atomic-file.ts';
import { keyIdOf, RegistryKeyRing } from '../../src/security/signing/registry-keys.ts';

const NPM_KEYS = new URL('../../../shared/fixtures/sigstore/trusted-roots/npm-attestation-keys.json', import.meta.url);
const scratch = mkdtempSync(join(tmpdir(), 'attestry-ring-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const freshPath = (): string => join(scratch, `case-${++n}`, 'keys', 'registry-keys.json');

interface FileKey { keyId: string; publicKey: string; createdAt: string; expiresAt: string | null; privateKey?: string }
const readRing = (file: string): { format: string; keys: FileKey[] } => JSON.parse(readFileSync(file, 'utf8')) as { format: string; keys: FileKey[] };

function assertCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => isAttestryError(e) && e.code === code);
}

describe('keyIdOf', () => {
  it("equals npm's key ids for npm's own public keys", () => {
    const list = JSON.parse(readFileSync(NPM_KEYS, 'utf8')) as { keys: { keyId: string; publicKey: { rawBytes: string } }[] };
    const ids = new Set(list.keys.map((k) => k.keyId));
    assert.equal(ids.size, 2);
    for (const k of list.keys) assert.equal(keyIdOf(Buffer.from(k.publicKey.rawBytes, 'base64')), k.keyId);
  });

  it('refuses a key that is not P-256', () => {
    for (const other of [generateKeyPairSync('ec', { namedCurve: 'secp384r1' }), generateKeyPairSync('ed25519')]) {
      assertCode(() => keyIdOf(other.publicKey.export({ type: 'spki', format: 'der' })), 'REGISTRY_KEY_INVALID');
    }
    assertCode(() => keyIdOf(Buffer.from('not a key')), 'REGISTRY_KEY_INVALID');
  });
});

describe('RegistryKeyRing', () => {
  it('first open creates the file (and directory) with one active key, mode 0600', () => {
    const file = freshPath();
    const ring = RegistryKeyRing.open(file, () => 1_700_000_000_000);
    const onDisk = readRing(file);
    assert.equal(onDisk.keys.length, 1);
    assert.equal(onDisk.keys[0]?.keyId, ring.active().keyId);
    assert.match(onDisk.keys[0]?.privateKey ?? '', /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(onDisk.keys[0]?.expiresAt, null);
    assert.equal(onDisk.keys[0]?.createdAt, new Date(1_700_000_000_000).toISOString());
    if (process.platform !== 'win32') assert.equal(statSync(file).mode & 0o777, 0o600);
    const [pub] = ring.publicKeys();
    assert.deepEqual({ ...pub, publicKeyDer: undefined }, { keyId: ring.active().keyId, publicKeyDer: undefined, createdAt: 1_700_000_000_000, expiresAt: null });
    assert.equal(keyIdOf(pub?.publicKeyDer ?? Buffer.alloc(0)), ring.active().keyId);
    assert.deepEqual(readdirSync(join(file, '..')), ['registry-keys.json'], 'no temp file left behind');
  });

  it('reopening gives the same key, and the signer signs with it', () => {
    const file = freshPath();
    const first = RegistryKeyRing.open(file);
    const again = RegistryKeyRing.open(file);
    assert.equal(again.active().keyId, first.active().keyId);
    const data = Buffer.from('hello');
    const sig = again.active().sign(data);
    const key = createPublicKey({ key: first.publicKeys()[0]?.publicKeyDer ?? Buffer.alloc(0), format: 'der', type: 'spki' });
    assert.equal(cryptoVerify('sha256', data, { key, dsaEncoding: 'der' }, sig), true);
    assert.equal(sig[0], 0x30, 'DER SEQUENCE');
  });

  it('rotate: a new active key; the old one gets expiresAt = now and loses its private key in the file', () => {
    const file = freshPath();
    let now = 1_000_000;
    const ring = RegistryKeyRing.open(file, () => now);
    const oldId = ring.active().keyId;
    now = 2_000_000;
    const newId = ring.rotate();
    assert.notEqual(newId, oldId);
    assert.equal(ring.active().keyId, newId);
    assert.deepEqual(ring.publicKeys().map((k) => [k.keyId, k.createdAt, k.expiresAt]), [[newId, 2_000_000, null], [oldId, 1_000_000, 2_000_000]]);

    const onDisk = readRing(file);
    assert.deepEqual(onDisk.keys.map((k) => k.keyId), [newId, oldId]);
    assert.equal(onDisk.keys[1]?.expiresAt, new Date(2_000_000).toISOString());
    assert.equal('privateKey' in (onDisk.keys[1] ?? {}), false);
    assert.equal(readFileSync(file, 'utf8').match(/BEGIN PRIVATE KEY/g)?.length, 1);
    if (process.platform !== 'win32') assert.equal(statSync(file).mode & 0o777, 0o600);

    const reopened = RegistryKeyRing.open(file);
    assert.equal(reopened.active().keyId, newId);
    assert.equal(reopened.publicKeys().length, 2);
    now = 3_000_000;
    ring.rotate();
    assert.deepEqual(RegistryKeyRing.open(file).publicKeys().map((k) => k.expiresAt), [null, 3_000_000, 2_000_000]);
  });

  it('rotate refuses when another process rotated the file meanwhile, and leaves it alone', () => {
    const file = freshPath();
    const a = RegistryKeyRing.open(file);
    const b = RegistryKeyRing.open(file);
    b.rotate();
    const before = readFileSync(file, 'utf8');
    assertCode(() => a.rotate(), 'KEY_RING_CHANGED');
    assert.equal(readFileSync(file, 'utf8'), before);
  });

  it('a corrupt file is reported clearly, without its content, and never replaced', () => {
    const ring = RegistryKeyRing.open(freshPath());
    const good = readFileSync(ring.file, 'utf8');
    const doc = readRing(ring.file);
    const pem = doc.keys[0]?.privateKey ?? '';
    const variants: Record<string, string> = {
      'truncated JSON': good.slice(0, good.length / 2),
      'empty file': '',
      'wrong format': JSON.stringify({ ...doc, format: 'other/1' }),
      'no keys': JSON.stringify({ ...doc, keys: [] }),
      'key id not matching': JSON.stringify({ ...doc, keys: [{ ...doc.keys[0], keyId: 'SHA256:AAAA' }] }),
      'private key of another key': JSON.stringify({ ...doc, keys: [{ ...doc.keys[0], privateKey: RegistryKeyRingPem() }] }),
      'active key without private key': JSON.stringify({ ...doc, keys: [{ ...doc.keys[0], privateKey: undefined }] }),
      'garbled private key': JSON.stringify({ ...doc, keys: [{ ...doc.keys[0], privateKey: pem.replace(/\n[^\n]{8}/, '\n!!!!!!!!') }] }),
      'bad date': JSON.stringify({ ...doc, keys: [{ ...doc.keys[0], createdAt: 'yesterday' }] }),
    };
    for (const [what, text] of Object.entries(variants)) {
      writeFileSync(ring.file, text, { mode: 0o600 });
      assert.throws(() => RegistryKeyRing.open(ring.file), (e: unknown) => {
        assert.ok(isAttestryError(e), what);
        assert.equal(e.code, 'KEY_RING_CORRUPT', what);
        assert.ok(e.message.includes(ring.file), what);
        assert.ok(!e.message.includes('PRIVATE KEY') && !e.message.includes(pem.split('\n')[1] ?? 'unused'), `${what}: no key material in the message`);
        return true;
      }, what);
      assert.equal(readFileSync(ring.file, 'utf8'), text, `${what}: file untouched`);
    }
  });

  it('a crash (SIGKILL) after the new ring is written but before the rename leaves the old ring in force', () => {
    const file = freshPath();
    const before = RegistryKeyRing.open(file);
    const text = readFileSync(file, 'utf8');
    const moduleUrl = pathToFileURL(join(import.meta.dirname, '../../src/security/signing/registry-keys.ts')).href;
    // The child dies exactly where a power cut would hurt most: temp file complete and fsynced, rename not done.
    const script = `
      import fs from 'node:fs';
      import { syncBuiltinESMExports } from 'node:module';
      fs.renameSync = () => process.kill(process.pid, 'SIGKILL');
      syncBuiltinESMExports();
      const { RegistryKeyRing } = await import(${JSON.stringify(moduleUrl)});
      RegistryKeyRing.open(${JSON.stringify(file)}).rotate();
      console.log('survived');`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.signal, 'SIGKILL', child.stderr);
    assert.equal(readFileSync(file, 'utf8'), text, 'old ring untouched');
    assert.equal(RegistryKeyRing.open(file).active().keyId, before.active().keyId);
    const leftovers = readdirSync(join(file, '..')).filter((f) => f !== 'registry-keys.json');
    assert.equal(leftovers.length, 1, 'the unfinished temp file is all that remains');
    if (process.platform !== 'win32') assert.equal(statSync(join(file, '..', leftovers[0] ?? '')).mode & 0o777, 0o600);
    // Rotating again simply works.
    assert.notEqual(RegistryKeyRing.open(file).rotate(), before.active().keyId);
  });

  it("creating never overwrites a ring another process created first", () => {
    const file = freshPath();
    const ring = RegistryKeyRing.open(file);
    const text = readFileSync(file, 'utf8');
    assert.equal(writeFileAtomic(file, 'other', 'create'), false);
    assert.equal(readFileSync(file, 'utf8'), text);
    assert.deepEqual(readdirSync(join(file, '..')), ['registry-keys.json']);
    assert.equal(RegistryKeyRing.open(file).active().keyId, ring.active().keyId);
  });

  it('refuses a ring file readable by others', { skip: process.platform === 'win32' }, () => {
    const ring = RegistryKeyRing.open(freshPath());
    chmodSync(ring.file, 0o644);
    assertCode(() => RegistryKeyRing.open(ring.file), 'KEY_RING_PERMISSIONS');
    assert.equal(statSync(ring.file).mode & 0o777, 0o644, 'not silently fixed either');
  });

  it('an unreadable path is reported, not replaced', () => {
    const dir = join(scratch, `case-${++n}`);
    RegistryKeyRing.open(join(dir, 'x.json'));
    assertCode(() => RegistryKeyRing.open(dir), 'KEY_RING_UNREADABLE');
  });

  it('the signer and the ring print no key material', () => {
    const ring = RegistryKeyRing.open(freshPath());
    const pem = readRing(ring.file).keys[0]?.privateKey ?? '';
    const body = pem.split('\n')[1] ?? '';
    for (const shown of [JSON.stringify(ring), JSON.stringify(ring.active()), String(ring.active()), JSON.stringify(ring.publicKeys())]) {
      assert.ok(!shown.includes(body) && !shown.includes('PRIVATE'), shown);
    }
  });
});

/** A PEM private key that belongs to no ring key. */
function RegistryKeyRingPem(): string {
  const other = RegistryKeyRing.open(freshPath());
  return readRing(other.file).keys[0]?.privateKey ?? '';
}
