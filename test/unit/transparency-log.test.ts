// Which package events become transparency-log entries (src/core/transparency/log.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { entriesForPackageEvents, publisherRef } from '../../src/core/transparency/log.ts';

const AT = 1_780_000_000_000;

describe('entriesForPackageEvents', () => {
  it('logs unpublishes (one per version), deprecations (each changed version, lifted as null) and owner changes', () => {
    const entries = entriesForPackageEvents('npm', 'left-pad', AT, [
      { type: 'release.unpublished', version: '1.0.0', data: {} },
      { type: 'package.unpublished', data: { versions: ['1.1.0', '1.2.0'] } },
      { type: 'release.deprecated', data: { versions: { '1.3.0': 'use 2.x', '1.4.0': null } } },
      { type: 'owner.added', data: { user: 'bob' } },
      { type: 'owner.removed', data: { user: 'carol' } },
    ]);
    assert.deepEqual(entries.map((e) => [e.kind, 'version' in e ? e.version : null, 'message' in e ? e.message : undefined, 'owner' in e ? e.owner : undefined]), [
      ['release.unpublished', '1.0.0', undefined, undefined],
      ['release.unpublished', '1.1.0', undefined, undefined],
      ['release.unpublished', '1.2.0', undefined, undefined],
      ['release.deprecated', '1.3.0', 'use 2.x', undefined],
      ['release.deprecated', '1.4.0', null, undefined],
      ['owners.changed', null, undefined, 'bob'],
      ['owners.changed', null, undefined, 'carol'],
    ]);
    assert.ok(entries.every((e) => e.at === AT && 'name' in e && e.name === 'left-pad'));
  });

  it('logs nothing for tags, access changes and malformed event data', () => {
    assert.deepEqual(entriesForPackageEvents('npm', 'x', AT, [
      { type: 'tag.set', version: '1.0.0', data: { tag: 'beta' } },
      { type: 'access.changed', data: { access: 'restricted' } },
      { type: 'release.deprecated', data: { versions: 'not an object' } },
      { type: 'release.deprecated', data: { versions: { '1.0.0': 42 } } },
      { type: 'owner.added', data: {} },
    ]), []);
  });

  it('names publishers by person or CI identity, never by token id', () => {
    assert.deepEqual(publisherRef({ kind: 'token', user: 'alice', tokenId: 'tok-123' }), { kind: 'token', ref: 'alice' });
    assert.deepEqual(publisherRef({ kind: 'trusted-publisher', provider: 'github', reference: 'acme/widget@refs/tags/v1', configId: 'c1' }), { kind: 'trusted-publisher', ref: 'github:acme/widget@refs/tags/v1' });
  });
});
