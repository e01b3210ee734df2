// `attestry keys list|rotate`, run in-process against a scratch key ring.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runKeysCommand } from '../../src/cli/keys-command.ts';
import { RegistryKeyRing } from '../../src/security/signing/registry-keys.ts';
import { parseKeysDocument } from '../../src/security/signing/version-signatures.ts';

const scratch = mkdtempSync(join(tmpdir(), 'attestry-keys-cmd-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const freshFile = (): string => join(scratch, `ring-${++n}.json`);

async function run(args: string[], file: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runKeysCommand(args, file, { out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { code, out, err };
}

describe('attestry keys', () => {
  it('list prints every key, active first, retired with its expiry', async () => {
    const file = freshFile();
    const ring = RegistryKeyRing.open(file);
    const first = ring.active().keyId;
    const second = ring.rotate();
    const { code, out, err } = await run(['list'], file);
    assert.equal(code, 0, err);
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? '', new RegExp(`^${second.replace(/[+/]/g, '\\$&')}  active   created \\S+Z$`));
    assert.match(lines[1] ?? '', new RegExp(`^${first.replace(/[+/]/g, '\\$&')}  retired  created \\S+Z  expired \\S+Z$`));
    assert.ok(!out.includes('PRIVATE'));
  });

  it('list --json prints the keys document', async () => {
    const file = freshFile();
    const ring = RegistryKeyRing.open(file);
    const { code, out } = await run(['list', '--json'], file);
    assert.equal(code, 0);
    assert.deepEqual(parseKeysDocument(JSON.parse(out)).map((k) => k.keyId), [ring.active().keyId]);
  });

  it('list does not create a ring', async () => {
    const file = freshFile();
    const { code, out, err } = await run(['list'], file);
    assert.equal(code, 1);
    assert.equal(out, '');
    assert.match(err, /no key ring/);
    assert.equal(existsSync(file), false);
  });

  it('rotate makes a new active key and retires the old one, persisted', async () => {
    const file = freshFile();
    const before = RegistryKeyRing.open(file).active().keyId;
    const { code, out, err } = await run(['rotate'], file);
    assert.equal(code, 0, err);
    const after = RegistryKeyRing.open(file);
    assert.notEqual(after.active().keyId, before);
    assert.ok(out.includes(after.active().keyId) && out.includes(before));
    assert.deepEqual(after.publicKeys().map((k) => [k.keyId, k.expiresAt === null]), [[after.active().keyId, true], [before, false]]);
  });

  it('rotate on a missing ring creates it with one key', async () => {
    const file = freshFile();
    const { code, out } = await run(['rotate'], file);
    assert.equal(code, 0);
    assert.match(out, /^created key ring/);
    assert.equal(RegistryKeyRing.open(file).publicKeys().length, 1);
  });

  it('usage errors exit 2; a broken ring exits 1 with its code', async () => {
    for (const args of [[], ['delete'], ['list', 'extra'], ['rotate', '--json'], ['list', '--bogus']]) {
      const { code, err } = await run(args, freshFile());
      assert.equal(code, 2, args.join(' '));
      assert.match(err, /Usage:/);
    }
    const { code, err } = await run(['list'], scratch);
    assert.equal(code, 1);
    assert.match(err, /KEY_RING_UNREADABLE/);
  });
});
