// The log's signer key file (created 0600 once, never replaced, a corrupt file refused) and
// checkpoint issuing on a real store: a checkpoint per new size, none for an unchanged log, the
// same note from two issuers of one size, and the timer that signs as the log grows.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { storesUnderTest } from '../support/postgres.ts';
import { openTestStore, type TestStore } from '../support/test-store.ts';
import type { SqlMetadataStore } from '../../src/storage/metadata/sql/sql-store.ts';
import { isAttestryError } from '../../src/core/errors.ts';
import { keyIdHex, logKeyFileFor, logOrigin, openLogKey, rotateLogKey } from '../../src/core/transparency/log-key.ts';
import { issueCheckpoint, startCheckpoints } from '../../src/core/transparency/checkpoints.ts';
import { openCheckpoint, signCheckpoint } from '../../src/security/transparency/checkpoint.ts';
import { EMPTY_ROOT, InMemoryTree } from '../../src/security/transparency/merkle.ts';
import { generateSignerKey } from '../../src/security/transparency/signed-note.ts';

const ORIGIN = 'registry.example.internal:4873/-/tlog';
const quiet = { debug() {}, info() {}, warn() {}, error() {}, debugEnabled: false };
const refusedWith = (code: string) => (e: unknown) => isAttestryError(e) && e.code === code;

describe('log key file', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'attestry-log-key-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('derives the origin from the public URL', () => {
    assert.equal(logOrigin('https://registry.example.internal:4873'), ORIGIN);
    assert.equal(logOrigin('http://127.0.0.1:4873/'), '127.0.0.1:4873/-/tlog');
    assert.equal(logOrigin('https://example.org/npm'), 'example.org/npm/-/tlog');
    assert.equal(logKeyFileFor({ dataDir: '/d', transparency: { keyFile: undefined } }), path.join('/d', 'keys', 'log-key'));
    assert.equal(logKeyFileFor({ dataDir: '/d', transparency: { keyFile: '/k' } }), '/k');
  });

  it('creates the key once, mode 0600 in a 0700 directory, and reopens the same key', () => {
    const file = path.join(dir, 'keys', 'log-key');
    const created = openLogKey(file, ORIGIN);
    assert.equal(created.origin, ORIGIN);
    assert.ok(created.verifierKey.startsWith(`${ORIGIN}+`));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^PRIVATE\+KEY\+registry\.example\.internal:4873\/-\/tlog\+[0-9a-f]{8}\+\S+\n$/);
    const again = openLogKey(file, ORIGIN);
    assert.equal(again.verifierKey, created.verifierKey);
    assert.equal(readFileSync(file, 'utf8'), text);
  });

  it('keeps the origin the key was created with when the public URL changes, and warns', () => {
    const file = path.join(dir, 'moved', 'log-key');
    const created = openLogKey(file, ORIGIN);
    const warnings: string[] = [];
    const reopened = openLogKey(file, 'elsewhere:1/-/tlog', { ...quiet, warn: (m: string) => void warnings.push(m) });
    assert.equal(reopened.origin, ORIGIN);
    assert.equal(reopened.verifierKey, created.verifierKey);
    assert.equal(warnings.length, 1);
  });

  it('refuses a corrupt file, a readable-by-others file, and a directory, and never replaces them', () => {
    const cases: Array<[string, string]> = [
      ['', 'LOG_KEY_CORRUPT'],
      ['not a key\n', 'LOG_KEY_CORRUPT'],
      [`${generateSignerKey(ORIGIN).signerKey}`, 'LOG_KEY_CORRUPT'], // no newline: not a file we wrote
      [`${generateSignerKey(ORIGIN).signerKey}\n\n`, 'LOG_KEY_CORRUPT'],
      [`${generateSignerKey(ORIGIN).signerKey.slice(0, -4)}AAA=\n`, 'LOG_KEY_CORRUPT'], // key ID no longer matches
      [`${generateSignerKey(ORIGIN).verifierKey}\n`, 'LOG_KEY_CORRUPT'],
    ];
    for (const [i, [content, code]] of cases.entries()) {
      const file = path.join(dir, `corrupt-${i}`);
      writeFileSync(file, content, { mode: 0o600 });
      assert.throws(() => openLogKey(file, ORIGIN), refusedWith(code), JSON.stringify(content));
      assert.equal(readFileSync(file, 'utf8'), content, 'left as it was');
    }
    const open = path.join(dir, 'open');
    writeFileSync(open, `${generateSignerKey(ORIGIN).signerKey}\n`, { mode: 0o600 });
    chmodSync(open, 0o644);
    assert.throws(() => openLogKey(open, ORIGIN), refusedWith('LOG_KEY_PERMISSIONS'));
    assert.throws(() => openLogKey(dir, ORIGIN), refusedWith('LOG_KEY_UNREADABLE'));
  });

  it('rotation: the new key first, the previous one kept to cosign; only the last previous key stays', () => {
    const file = path.join(dir, 'rotating');
    assert.throws(() => rotateLogKey(file), refusedWith('LOG_KEY_UNREADABLE'), 'nothing to rotate yet');
    const first = openLogKey(file, ORIGIN);
    assert.equal(first.previous, null);
    const once = rotateLogKey(file);
    assert.equal(once.previousKeyId, keyIdHex(first.signer));
    const reopened = openLogKey(file, ORIGIN);
    assert.deepEqual([reopened.verifierKey, reopened.previous?.verifierKey, reopened.origin], [once.key.verifierKey, first.verifierKey, ORIGIN]);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    rotateLogKey(file);
    const twice = openLogKey(file, ORIGIN);
    assert.equal(twice.previous?.verifierKey, once.key.verifierKey, 'the oldest key is gone');
    assert.equal(readFileSync(file, 'utf8').split('\n').length, 3, 'two lines and the final newline');
    // A checkpoint is signed by both: each key alone opens it.
    const note = signCheckpoint({ origin: ORIGIN, size: 0, rootHash: EMPTY_ROOT, extensions: [] }, twice.signer, twice.previous ? [twice.previous] : []);
    assert.equal(openCheckpoint(note, { logKey: twice.verifierKey }).checkpoint.size, 0);
    assert.equal(openCheckpoint(note, { logKey: once.key.verifierKey }).checkpoint.size, 0);
  });

  it('refuses a previous key of another origin, or the same key twice', () => {
    const a = generateSignerKey(ORIGIN).signerKey;
    for (const [i, content] of [`${a}\n${generateSignerKey('other.example/-/tlog').signerKey}\n`, `${a}\n${a}\n`].entries()) {
      const file = path.join(dir, `two-${i}`);
      writeFileSync(file, content, { mode: 0o600 });
      assert.throws(() => openLogKey(file, ORIGIN), refusedWith('LOG_KEY_CORRUPT'));
    }
  });
});

for (const kind of storesUnderTest()) {
  describe(`checkpoint issuing (${kind})`, () => {
    let opened: TestStore;
    let store: SqlMetadataStore;
    let dir: string;
    const mirror = new InMemoryTree();
    let now = 1_000;
    const clock = () => now;

    before(async () => {
      opened = await openTestStore(kind);
      ({ store } = opened);
      dir = mkdtempSync(path.join(os.tmpdir(), 'attestry-checkpoints-'));
    });
    after(async () => {
      await opened.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const append = async (i: number) => {
      const entry = Buffer.from(`{"entry":${i}}`);
      await store.appendLogEntry({ at: i, kind: 'release.published', ecosystem: 'npm', packageName: 'p', version: `1.0.${i}`, entry });
      mirror.append(entry);
    };

    it('signs the empty log, then one checkpoint per new size, none for an unchanged log', async () => {
      const key = openLogKey(path.join(dir, 'log-key'), ORIGIN);
      const empty = await issueCheckpoint({ store, key, clock });
      assert.equal(empty.size, 0);
      assert.deepEqual(Buffer.from(empty.root), EMPTY_ROOT);
      assert.equal(openCheckpoint(empty.note, { logKey: key.verifierKey }).checkpoint.size, 0);
      for (let i = 0; i < 5; i++) await append(i);
      now = 2_000;
      const five = await issueCheckpoint({ store, key, clock });
      const cp = openCheckpoint(five.note, { logKey: key.verifierKey, origin: ORIGIN }).checkpoint;
      assert.equal(cp.size, 5);
      assert.deepEqual(Buffer.from(cp.rootHash), Buffer.from(mirror.root()));
      assert.equal(five.createdAt, 2_000);
      now = 3_000;
      assert.deepEqual(await issueCheckpoint({ store, key, clock }), five, 'unchanged log: the stored checkpoint, not a new one');
      assert.deepEqual(await store.latestLogCheckpoint(), five);
      assert.deepEqual(await store.findLogCheckpoint(0), empty);
      assert.equal(await store.findLogCheckpoint(4), undefined);
    });

    it('stores the first checkpoint per size: a second issuer of the same size gets the same note', async () => {
      const key = openLogKey(path.join(dir, 'log-key'), ORIGIN);
      await append(5);
      const [a, b] = await Promise.all([issueCheckpoint({ store, key, clock }), issueCheckpoint({ store, key, clock })]);
      assert.equal(a.size, 6);
      assert.equal(a.note, b.note, 'Ed25519 is deterministic');
      assert.equal(await store.insertLogCheckpoint({ ...a, note: 'other', createdAt: 9 }), false);
      assert.equal((await store.findLogCheckpoint(6))?.note, a.note);
    });

    it('signs on a timer while the log grows, and stops', async () => {
      const key = openLogKey(path.join(dir, 'log-key'), ORIGIN);
      const stop = await startCheckpoints({ store, key, clock }, 20, quiet);
      try {
        await append(6);
        await append(7);
        for (let i = 0; i < 100 && (await store.latestLogCheckpoint())?.size !== 8; i++) await new Promise((r) => setTimeout(r, 10));
        const latest = await store.latestLogCheckpoint();
        assert.equal(latest?.size, 8);
        assert.deepEqual(Buffer.from(latest?.root ?? []), Buffer.from(mirror.root()));
      } finally {
        await stop();
      }
      await append(8);
      await new Promise((r) => setTimeout(r, 60));
      assert.equal((await store.latestLogCheckpoint())?.size, 8, 'stopped: no more checkpoints');
    });
  });
}
