// Transparency-log entry format v1: canonical bytes (pinned literally, so a change to the encoding
// is a visible format break), every kind round-trips, and decoding refuses what encoding would not
// produce. Plus the mapping from package-write events to entries.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttestryError } from '../../src/core/errors.ts';
import {
  canonicalJson, decodeEntry, encodeEntry, keysRotated, MAX_ENTRY_BYTES, ownersChanged, releaseDeprecated, releasePublished, releaseUnpublished,
  trustedPublisherChanged, type LogEntry,
} from '../../src/core/transparency/entry.ts';
import { bundleDigest, entriesForPackageEvents, publisherRef } from '../../src/core/transparency/log.ts';

const AT = 1_780_000_000_000;
const SHA512 = 'ab'.repeat(64);
const SHA1 = 'cd'.repeat(20);

const published = (over: Partial<Parameters<typeof releasePublished>[0]> = {}): LogEntry => releasePublished({
  ecosystem: 'npm', name: 'left-pad', version: '1.3.0', at: AT,
  artifacts: [{ filename: 'left-pad-1.3.0.tgz', sha512: SHA512, sha1: SHA1, size: 1234 }], provenance: null,
  publisher: { kind: 'user', ref: 'alice' }, ...over,
});

const refused = (code: string) => (e: unknown): boolean => {
  assert.ok(e instanceof AttestryError, String(e));
  assert.equal(e.code, code, e.message);
  return true;
};

describe('log entry encoding v1', () => {
  it('encodes release.published canonically: sorted keys, no whitespace, v = 1', () => {
    assert.equal(encodeEntry(published()).toString('utf8'),
      `{"artifacts":[{"filename":"left-pad-1.3.0.tgz","sha1":"${SHA1}","sha512":"${SHA512}","size":1234}],"at":${AT},"ecosystem":"npm",` +
      `"kind":"release.published","name":"left-pad","provenance":null,"publisher":{"kind":"user","ref":"alice"},"v":1,"version":"1.3.0"}`);
  });

  it('does not depend on the order fields were given in', () => {
    const a = published();
    const reordered = Object.fromEntries(Object.entries(a).reverse()) as unknown as LogEntry;
    assert.deepEqual(encodeEntry(reordered), encodeEntry(a));
  });

  it('writes UTF-8 and JSON escapes as RFC 8785 does', () => {
    assert.equal(canonicalJson({ b: 'é\u0007"\\/', a: [1, null, true] }), '{"a":[1,null,true],"b":"é\\u0007\\"\\\\/"}');
    const bytes = encodeEntry(releaseDeprecated({ ecosystem: 'npm', name: 'x', version: '1.0.0', at: AT, message: 'use ÿ 🎉 instead' }));
    assert.ok(bytes.includes(Buffer.from('use ÿ 🎉 instead', 'utf8')), 'non-ASCII is written as UTF-8, not escaped');
  });

  const every: LogEntry[] = [
    published(),
    published({ artifacts: [{ filename: 'a.tgz', sha512: SHA512, size: 0 }], provenance: 'ef'.repeat(32), publisher: { kind: 'trusted-publisher', ref: 'github:acme/app/.github/workflows/release.yml' } }),
    releaseUnpublished({ ecosystem: 'npm', name: '@acme/app', version: '2.0.0-beta.1', at: AT }),
    releaseDeprecated({ ecosystem: 'npm', name: 'x', version: '1.0.0', at: AT, message: 'use y' }),
    releaseDeprecated({ ecosystem: 'npm', name: 'x', version: '1.0.0', at: AT, message: null }),
    ownersChanged({ ecosystem: 'npm', name: 'x', at: AT, change: 'owner.added', owner: 'bob' }),
    ownersChanged({ ecosystem: 'npm', name: 'x', at: AT, change: 'owner.removed', owner: 'bob' }),
    trustedPublisherChanged('added', { ecosystem: 'npm', name: 'x', at: AT, publisher: { provider: 'github', ref: 'acme/app' } }),
    trustedPublisherChanged('removed', { ecosystem: 'npm', name: 'x', at: AT, publisher: { provider: 'github', ref: 'acme/app' } }),
    keysRotated({ at: AT, purpose: 'log', keyId: 'registry.example+1a2b3c4d', previousKeyId: null }),
    keysRotated({ at: AT, purpose: 'signing', keyId: 'SHA256:new', previousKeyId: 'SHA256:old' }),
  ];
  for (const e of every) {
    it(`round-trips ${e.kind}${'change' in e ? ` (${e.change})` : ''}`, () => {
      const bytes = encodeEntry(e);
      assert.deepEqual(decodeEntry(bytes), e);
      assert.deepEqual(encodeEntry(decodeEntry(bytes)), bytes);
    });
  }

  it('refuses entries that do not fit their kind when encoding', () => {
    const bad: unknown[] = [
      published({ artifacts: [] }),
      published({ artifacts: [{ filename: 'a.tgz', sha512: SHA512.toUpperCase(), size: 1 }] }),
      published({ artifacts: [{ filename: 'a.tgz', sha512: 'ab', size: 1 }] }),
      published({ artifacts: [{ filename: 'a.tgz', sha512: SHA512, size: -1 }] }),
      published({ at: 1.5 }),
      published({ provenance: 'not-hex' }),
      published({ name: '' }),
      { ...published(), extra: 1 },
      { ...published(), publisher: { kind: 'robot', ref: 'x' } },
      ownersChanged({ ecosystem: 'npm', name: 'x', at: AT, change: 'owner.renamed' as 'owner.added', owner: 'bob' }),
    ];
    for (const e of bad) assert.throws(() => encodeEntry(e as LogEntry), refused('tlog_entry_invalid'), JSON.stringify(e));
    assert.throws(() => encodeEntry({ kind: 'release.stolen' } as unknown as LogEntry), refused('tlog_entry_kind_unknown'));
    assert.throws(() => encodeEntry(published({ name: 'a\uD800' })), refused('tlog_entry_invalid'));
  });

  it('refuses an entry over the tile limit of 65,535 bytes', () => {
    const artifacts = Array.from({ length: 300 }, (_, i) => ({ filename: `${'f'.repeat(200)}-${i}.tgz`, sha512: SHA512, size: i }));
    assert.throws(() => encodeEntry(published({ artifacts })), refused('tlog_entry_too_large'));
    assert.throws(() => decodeEntry(Buffer.alloc(MAX_ENTRY_BYTES + 1, 0x20)), refused('tlog_entry_too_large'));
  });

  it('refuses unknown versions, unknown kinds, extra fields and non-canonical bytes when decoding', () => {
    const good = encodeEntry(published()).toString('utf8');
    const cases: Array<[string | Buffer, string]> = [
      [good.replace('"v":1', '"v":2'), 'tlog_entry_version_unsupported'],
      [good.replace(',"v":1', ''), 'tlog_entry_version_unsupported'],
      [good.replace('"release.published"', '"release.stolen"'), 'tlog_entry_kind_unknown'],
      [good.replace('"v":1', '"v":1,"w":0'), 'tlog_entry_invalid'],
      [good.replace(',"provenance":null', ''), 'tlog_entry_invalid'],
      [good.replace('{"artifacts"', '{ "artifacts"'), 'tlog_entry_not_canonical'],
      [`${good}\n`, 'tlog_entry_not_canonical'],
      [good.replace('"at":', '"at":0').replace(`"at":0${AT}`, `"at":${AT}.0`), 'tlog_entry_not_canonical'],
      [good.replace('"alice"', '"\\u0061lice"'), 'tlog_entry_not_canonical'],
      // Keys out of order: same content, different bytes.
      [good.replace('{"kind":"user","ref":"alice"}', '{"ref":"alice","kind":"user"}'), 'tlog_entry_not_canonical'],
      ['[1]', 'tlog_entry_invalid'],
      ['not json', 'tlog_entry_invalid'],
      [Buffer.from([0x7b, 0xff, 0x7d]), 'tlog_entry_invalid'],
    ];
    for (const [input, code] of cases) {
      assert.throws(() => decodeEntry(typeof input === 'string' ? Buffer.from(input, 'utf8') : input), refused(code), String(input));
    }
  });
});

describe('log entries from registry events', () => {
  it('names publishers without token ids', () => {
    assert.deepEqual(publisherRef({ kind: 'user', user: 'alice' }), { kind: 'user', ref: 'alice' });
    assert.deepEqual(publisherRef({ kind: 'token', user: 'alice', tokenId: 'secret-ish-id' }), { kind: 'token', ref: 'alice' });
    assert.deepEqual(publisherRef({ kind: 'trusted-publisher', provider: 'github', reference: 'acme/app', configId: 'cfg1' }), { kind: 'trusted-publisher', ref: 'github:acme/app' });
  });

  it('digests a provenance bundle as uploaded', () => {
    assert.equal(bundleDigest(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('logs unpublishes (one entry per version) and owner changes, and nothing else', () => {
    const entries = entriesForPackageEvents('npm', 'x', AT, [
      { type: 'release.unpublished', version: '1.0.0', data: {} },
      { type: 'package.unpublished', data: { versions: ['1.0.1', '2.0.0'] } },
      { type: 'owner.added', data: { user: 'bob' } },
      { type: 'owner.removed', data: { user: 'carol' } },
      { type: 'tag.set', version: '1.0.0', data: { tag: 'latest' } },
      { type: 'access.changed', data: { access: 'restricted' } },
    ]);
    assert.deepEqual(entries, [
      releaseUnpublished({ ecosystem: 'npm', name: 'x', at: AT, version: '1.0.0' }),
      releaseUnpublished({ ecosystem: 'npm', name: 'x', at: AT, version: '1.0.1' }),
      releaseUnpublished({ ecosystem: 'npm', name: 'x', at: AT, version: '2.0.0' }),
      ownersChanged({ ecosystem: 'npm', name: 'x', at: AT, change: 'owner.added', owner: 'bob' }),
      ownersChanged({ ecosystem: 'npm', name: 'x', at: AT, change: 'owner.removed', owner: 'carol' }),
    ]);
    for (const e of entries) encodeEntry(e);
  });
});
