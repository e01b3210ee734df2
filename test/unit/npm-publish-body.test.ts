import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAttestryError } from '../../src/core/errors.ts';
import { NpmEcosystem } from '../../src/ecosystems/npm/npm-ecosystem.ts';
import { isPublishBody, parsePublishBody, validateTag, validateVersion } from '../../src/ecosystems/npm/publish-body.ts';

type Json = Record<string, unknown>;

const eco = new NpmEcosystem({
  publicUrl: 'http://r.test',
  archiveLimits: { maxCompressedBytes: 1e6, maxUncompressedBytes: 1e7, maxEntries: 100 },
  maxManifestBytes: 1e5,
});

const TARBALL = Buffer.from('not really a tarball: parsePublishBody never opens it');
const DATA = TARBALL.toString('base64');

/** A well-formed `npm publish` body for `name@version`; `edit` changes it in place. */
function publishBody(name = 'pkg', version = '1.0.0', edit: (b: Json, manifest: Json) => void = () => {}): Json {
  const bare = name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
  const manifest: Json = { name, version, description: 'from the version', dist: { integrity: 'sha512-claimed', shasum: 'claimedsha1' } };
  const body: Json = {
    _id: name,
    name,
    description: 'from the top level',
    'dist-tags': { latest: version },
    versions: { [version]: manifest },
    access: null,
    _attachments: { [`${bare}-${version}.tgz`]: { content_type: 'application/octet-stream', data: DATA, length: TARBALL.length } },
  };
  edit(body, manifest);
  return body;
}

function refuses(code: string, body: Json, urlName = 'pkg'): void {
  assert.throws(() => parsePublishBody(urlName, body, eco), (e: unknown) => {
    assert.ok(isAttestryError(e), `expected an AttestryError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.kind, 'invalid');
    return true;
  });
}

function refusesWith(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isAttestryError(e), `expected an AttestryError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.kind, 'invalid');
    return true;
  });
}

// ---------- refusals ----------

describe('validateTag: refusals', () => {
  it('refuses tags that are semver ranges (TAG_IS_RANGE)', () => {
    for (const t of ['1.x', '1', '1.0.0', '1.2', 'v1', 'x', 'X', '1.0.0-beta.1', '1.x.x', 'v1.0.0']) refusesWith(() => validateTag(t), 'TAG_IS_RANGE');
  });

  it('refuses ranges with operators, and other invalid characters (INVALID_TAG)', () => {
    for (const t of ['^1.0.0', '~1.0.0', '>=1.0.0', '*', '1.0.0 - 2.0.0', '1 || 2', '', ' latest', 'latest ', 'la test', 'next/1', 'tag@1', 'é', '-next', '.next', '_next', 'a'.repeat(65), 'next\n']) {
      refusesWith(() => validateTag(t), 'INVALID_TAG');
    }
  });
});

describe('validateVersion: refusals (INVALID_VERSION)', () => {
  it('refuses anything but a strict, canonical semver string', () => {
    for (const v of ['v1.0.0', '1.0', '1', '01.0.0', '1.01.0', '1.0.01', '=1.0.0', ' 1.0.0', '1.0.0 ', '1.0.0+build.1', '1.0.0-', '1.0.0-01', 'latest', '', '^1.0.0', '1.0.0.0', `1.0.0-${'a'.repeat(300)}`]) {
      refusesWith(() => validateVersion(v), 'INVALID_VERSION');
    }
  });

  it('refuses non-strings', () => {
    for (const v of [1, 1.0, null, undefined, {}, ['1.0.0'], true]) refusesWith(() => validateVersion(v), 'INVALID_VERSION');
  });
});

describe('parsePublishBody: refusals', () => {
  it('NAME_MISMATCH: body name, _id or version name differ from the URL', () => {
    refuses('NAME_MISMATCH', publishBody('other'));
    refuses('NAME_MISMATCH', publishBody('pkg', '1.0.0', (b) => { b.name = 'other'; }));
    refuses('NAME_MISMATCH', publishBody('pkg', '1.0.0', (b) => { delete b.name; }));
    refuses('NAME_MISMATCH', publishBody('pkg', '1.0.0', (b) => { b._id = 'other'; }));
    refuses('NAME_MISMATCH', publishBody('pkg', '1.0.0', (_b, m) => { m.name = 'other'; }));
    refuses('NAME_MISMATCH', publishBody('pkg', '1.0.0', (_b, m) => { delete m.name; }));
    refuses('NAME_MISMATCH', publishBody('PKG'), 'pkg');
    refuses('NAME_MISMATCH', publishBody('@s/pkg'), '@t/pkg');
  });

  it('ONE_VERSION_PER_PUBLISH: versions missing, not an object, empty or with several versions', () => {
    for (const versions of [undefined, null, 'x', [], [{}], {}]) refuses('ONE_VERSION_PER_PUBLISH', publishBody('pkg', '1.0.0', (b) => { b.versions = versions; }));
    refuses('ONE_VERSION_PER_PUBLISH', publishBody('pkg', '1.0.0', (b, m) => { b.versions = { '1.0.0': m, '1.0.1': { ...m, version: '1.0.1' } }; }));
  });

  it('INVALID_VERSION: the version key is not strict semver', () => {
    for (const v of ['v1.0.0', '1.0', '01.0.0', 'latest']) refuses('INVALID_VERSION', publishBody('pkg', v));
  });

  it('BAD_VERSION_OBJECT: the version is not an object', () => {
    for (const m of [null, 'x', 1, [], true]) refuses('BAD_VERSION_OBJECT', publishBody('pkg', '1.0.0', (b) => { b.versions = { '1.0.0': m }; }));
  });

  it('VERSION_MISMATCH: the version object names another version', () => {
    refuses('VERSION_MISMATCH', publishBody('pkg', '1.0.0', (_b, m) => { m.version = '1.0.1'; }));
    refuses('VERSION_MISMATCH', publishBody('pkg', '1.0.0', (_b, m) => { m.version = 'v1.0.0'; }));
    refuses('VERSION_MISMATCH', publishBody('pkg', '1.0.0', (_b, m) => { delete m.version; }));
  });

  it('takes the provenance bundle from <name>-<version>.sigstore as JSON text, byte for byte', () => {
    const bundle = '{ "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json" }';
    for (const name of ['pkg', '@s/pkg']) {
      const input = parsePublishBody(name, publishBody(name, '1.0.0', (b) => {
        (b._attachments as Json)[`${name}-1.0.0.sigstore`] = { content_type: 'application/vnd.dev.sigstore.bundle.v0.3+json', data: bundle, length: bundle.length };
      }), eco);
      assert.equal(input.provenanceBundle, bundle);
    }
    assert.equal(parsePublishBody('pkg', publishBody(), eco).provenanceBundle, null);
  });

  it('PROVENANCE_BAD_ATTACHMENT / ATTACHMENT_LENGTH_MISMATCH: a malformed .sigstore attachment', () => {
    const attach = (att: unknown) => publishBody('pkg', '1.0.0', (b) => { (b._attachments as Json)['pkg-1.0.0.sigstore'] = att; });
    refuses('PROVENANCE_BAD_ATTACHMENT', attach({ content_type: 'application/vnd.dev.sigstore.bundle.v0.3+json', data: '' }));
    refuses('PROVENANCE_BAD_ATTACHMENT', attach({ content_type: 'application/vnd.dev.sigstore.bundle.v0.3+json' }));
    refuses('PROVENANCE_BAD_ATTACHMENT', attach('{}'));
    refuses('PROVENANCE_BAD_ATTACHMENT', attach({ content_type: 'application/json', data: '{}' }));
    refuses('ATTACHMENT_LENGTH_MISMATCH', attach({ content_type: 'application/vnd.dev.sigstore.bundle.v0.3+json', data: '{}', length: 3 }));
    // Anything else named .sigstore is not the version's bundle.
    refuses('BAD_ATTACHMENTS', publishBody('pkg', '1.0.0', (b) => { (b._attachments as Json)['pkg@1.0.0.sigstore'] = { data: '{}' }; }));
  });

  it('BAD_ATTACHMENTS: wrong file name, or more than one attachment', () => {
    for (const name of ['pkg-1.0.1.tgz', 'other-1.0.0.tgz', 'pkg-1.0.0.tar.gz', '../pkg-1.0.0.tgz', 'pkg-1.0.0.tgz/x']) {
      refuses('BAD_ATTACHMENTS', publishBody('pkg', '1.0.0', (b) => { b._attachments = { [name]: { data: DATA } }; }));
    }
    refuses('BAD_ATTACHMENTS', publishBody('pkg', '1.0.0', (b) => { (b._attachments as Json)['extra.tgz'] = { data: DATA }; }));
    refuses('BAD_ATTACHMENTS', publishBody('@s/pkg', '1.0.0', (b) => { b._attachments = { '@t/pkg-1.0.0.tgz': { data: DATA } }; }), '@s/pkg');
  });

  it('BAD_ATTACHMENT_DATA: attachment not an object, or data missing, not a string or not base64', () => {
    for (const att of [null, 'x', [], { data: 1 }, {}, { data: null }, { data: 'not base64!' }, { data: 'aGVsbG8=\n' }, { data: 'aGVsbG8===' }, { data: '<script>' }]) {
      refuses('BAD_ATTACHMENT_DATA', publishBody('pkg', '1.0.0', (b) => { b._attachments = { 'pkg-1.0.0.tgz': att }; }));
    }
  });

  it('ATTACHMENT_LENGTH_MISMATCH: the declared length differs from the decoded data', () => {
    for (const length of [TARBALL.length + 1, TARBALL.length - 1, 0, String(TARBALL.length), null]) {
      refuses('ATTACHMENT_LENGTH_MISMATCH', publishBody('pkg', '1.0.0', (b) => { (b._attachments as Record<string, Json>)['pkg-1.0.0.tgz'] = { data: DATA, length }; }));
    }
  });

  it('BAD_DIST_TAGS: dist-tags not an object, or a tag pointing at another version', () => {
    for (const tags of [null, 'latest', ['latest'], 1]) refuses('BAD_DIST_TAGS', publishBody('pkg', '1.0.0', (b) => { b['dist-tags'] = tags; }));
    refuses('BAD_DIST_TAGS', publishBody('pkg', '1.0.0', (b) => { b['dist-tags'] = { latest: '0.9.0' }; }));
    refuses('BAD_DIST_TAGS', publishBody('pkg', '1.0.0', (b) => { b['dist-tags'] = { next: '1.0.0', latest: '2.0.0' }; }));
  });

  it('INVALID_TAG and TAG_IS_RANGE: a dist-tag that is not a valid tag', () => {
    refuses('INVALID_TAG', publishBody('pkg', '1.0.0', (b) => { b['dist-tags'] = { 'bad tag': '1.0.0' }; }));
    refuses('INVALID_TAG', publishBody('pkg', '1.0.0', (b) => { b['dist-tags'] = { '^1.0.0': '1.0.0' }; }));
    refuses('TAG_IS_RANGE', publishBody('pkg', '1.0.0', (b) => { b['dist-tags'] = { '1.x': '1.0.0' }; }));
  });

  it('BAD_ACCESS: access other than public, restricted or null', () => {
    for (const access of ['private', 'PUBLIC', '', 1, true, {}]) refuses('BAD_ACCESS', publishBody('@s/pkg', '1.0.0', (b) => { b.access = access; }), '@s/pkg');
  });

  it('UNSCOPED_CANNOT_BE_RESTRICTED: restricted access for an unscoped name', () => {
    refuses('UNSCOPED_CANNOT_BE_RESTRICTED', publishBody('pkg', '1.0.0', (b) => { b.access = 'restricted'; }));
  });
});

// ---------- accepted ----------

describe('validateTag / validateVersion: accepted', () => {
  it('accepts ordinary tags', () => {
    for (const t of ['latest', 'next', 'beta', 'canary', 'rc-2', 'v1-lts', 'release.candidate', 'a_b', '2024-06', 'a'.repeat(64)]) assert.equal(validateTag(t), t);
  });

  it('accepts strict semver, with prerelease', () => {
    for (const v of ['1.0.0', '0.0.0', '10.20.30', '1.0.0-beta.1', '1.0.0-0.3.7', '1.0.0-x.7.z.92']) assert.equal(validateVersion(v), v);
  });
});

describe('parsePublishBody: accepted bodies', () => {
  it('recognises publish bodies by their attachments', () => {
    assert.equal(isPublishBody(publishBody()), true);
    // An empty _attachments is still a publish (and parsePublishBody refuses it as BAD_ATTACHMENTS).
    assert.equal(isPublishBody({ ...publishBody(), _attachments: {} }), true);
    assert.equal(isPublishBody({ name: 'pkg', versions: {} }), false);
  });

  it('derives the publish input from a minimal body', () => {
    const input = parsePublishBody('pkg', publishBody(), eco);
    assert.equal(input.ecosystem, eco);
    assert.equal(input.name, 'pkg');
    assert.equal(input.version, '1.0.0');
    assert.deepEqual(input.tags, ['latest']);
    assert.equal(input.access, null);
    assert.equal(input.artifacts.length, 1);
    const [art] = input.artifacts;
    assert.equal(art?.filename, 'pkg-1.0.0.tgz');
    assert.deepEqual(art?.data, TARBALL);
  });

  it('defaults the tag to latest when dist-tags are absent or empty', () => {
    assert.deepEqual(parsePublishBody('pkg', publishBody('pkg', '1.0.0', (b) => { delete b['dist-tags']; }), eco).tags, ['latest']);
    assert.deepEqual(parsePublishBody('pkg', publishBody('pkg', '1.0.0', (b) => { b['dist-tags'] = {}; }), eco).tags, ['latest']);
  });

  it('uses the tags given, without adding latest', () => {
    const input = parsePublishBody('pkg', publishBody('pkg', '2.0.0-rc.1', (b) => { b['dist-tags'] = { next: '2.0.0-rc.1', rc: '2.0.0-rc.1' }; }), eco);
    assert.deepEqual(input.tags, ['next', 'rc']);
  });

  it('collects dependencies, optional and peer dependencies, but not dev dependencies', () => {
    const input = parsePublishBody('pkg', publishBody('pkg', '1.0.0', (_b, m) => {
      m.dependencies = { a: '^1.0.0', shared: '1' };
      m.optionalDependencies = { b: '*', shared: '1' };
      m.peerDependencies = { '@s/c': '>=2' };
      m.devDependencies = { 'dev-only': '1' };
      m.bundleDependencies = ['bundled'];
    }), eco);
    assert.deepEqual([...input.dependencies].sort(), ['@s/c', 'a', 'b', 'shared']);
  });

  it('ignores dependency fields that are not objects', () => {
    const input = parsePublishBody('pkg', publishBody('pkg', '1.0.0', (_b, m) => {
      m.dependencies = ['a'];
      m.peerDependencies = 'b';
    }), eco);
    assert.deepEqual(input.dependencies, []);
  });

  it('takes the description from the version, else the top level, else empty', () => {
    assert.equal(parsePublishBody('pkg', publishBody(), eco).description, 'from the version');
    assert.equal(parsePublishBody('pkg', publishBody('pkg', '1.0.0', (_b, m) => { delete m.description; }), eco).description, 'from the top level');
    assert.equal(parsePublishBody('pkg', publishBody('pkg', '1.0.0', (b, m) => { delete m.description; delete b.description; }), eco).description, '');
    assert.equal(parsePublishBody('pkg', publishBody('pkg', '1.0.0', (b, m) => { m.description = 5; delete b.description; }), eco).description, '');
  });

  it('keeps only string keywords', () => {
    assert.deepEqual(parsePublishBody('pkg', publishBody('pkg', '1.0.0', (_b, m) => { m.keywords = ['a', 1, 'b', null, { c: 1 }]; }), eco).keywords, ['a', 'b']);
    assert.deepEqual(parsePublishBody('pkg', publishBody('pkg', '1.0.0', (_b, m) => { m.keywords = 'a, b'; }), eco).keywords, []);
    assert.deepEqual(parsePublishBody('pkg', publishBody(), eco).keywords, []);
  });

  it('takes the readme from the top level when the version lacks one, and prefers the version\'s', () => {
    const top = parsePublishBody('pkg', publishBody('pkg', '1.0.0', (b) => { b.readme = '# top'; }), eco);
    assert.equal(top.metadata.readme, '# top');
    const own = parsePublishBody('pkg', publishBody('pkg', '1.0.0', (b, m) => { b.readme = '# top'; m.readme = '# version'; }), eco);
    assert.equal(own.metadata.readme, '# version');
    const none = parsePublishBody('pkg', publishBody(), eco);
    assert.equal(none.metadata.readme, undefined);
  });

  it('truncates a huge readme', () => {
    const input = parsePublishBody('pkg', publishBody('pkg', '1.0.0', (b) => { b.readme = 'x'.repeat(600 * 1024); }), eco);
    const readme = input.metadata.readme as string;
    assert.ok(readme.length < 600 * 1024);
    assert.ok(readme.startsWith('x'.repeat(1000)));
  });

  it('passes the claimed integrity and shasum through, and null when absent or not strings', () => {
    const art = parsePublishBody('pkg', publishBody(), eco).artifacts[0];
    assert.equal(art?.claimedIntegrity, 'sha512-claimed');
    assert.equal(art?.claimedSha1, 'claimedsha1');
    const none = parsePublishBody('pkg', publishBody('pkg', '1.0.0', (_b, m) => { delete m.dist; }), eco).artifacts[0];
    assert.equal(none?.claimedIntegrity, null);
    assert.equal(none?.claimedSha1, null);
    const wrong = parsePublishBody('pkg', publishBody('pkg', '1.0.0', (_b, m) => { m.dist = { integrity: 1, shasum: ['x'] }; }), eco).artifacts[0];
    assert.equal(wrong?.claimedIntegrity, null);
    assert.equal(wrong?.claimedSha1, null);
  });

  it('keeps the version object as metadata, without trusting it for anything computed', () => {
    const input = parsePublishBody('pkg', publishBody('pkg', '1.0.0', (_b, m) => { m.scripts = { test: 'x' }; }), eco);
    assert.equal(input.metadata.name, 'pkg');
    assert.equal(input.metadata.version, '1.0.0');
    assert.deepEqual(input.metadata.scripts, { test: 'x' });
  });

  it('accepts scoped names with either attachment spelling, and restricted or public access', () => {
    const scoped = parsePublishBody('@s/pkg', publishBody('@s/pkg', '1.0.0', (b) => { b.access = 'restricted'; }), eco);
    assert.equal(scoped.artifacts[0]?.filename, 'pkg-1.0.0.tgz');
    assert.equal(scoped.access, 'restricted');
    const full = parsePublishBody('@s/pkg', publishBody('@s/pkg', '1.0.0', (b) => { b._attachments = { '@s/pkg-1.0.0.tgz': { data: DATA } }; b.access = 'public'; }), eco);
    assert.equal(full.artifacts[0]?.filename, 'pkg-1.0.0.tgz', 'the stored file name is always the conventional one');
    assert.equal(full.access, 'public');
  });

  it('accepts a body without _id or length, and an empty tarball', () => {
    const input = parsePublishBody('pkg', publishBody('pkg', '1.0.0', (b) => { delete b._id; b._attachments = { 'pkg-1.0.0.tgz': { data: '' } }; }), eco);
    assert.equal(input.artifacts[0]?.data.length, 0);
  });
});
