import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PackageView, ReleaseView } from '../../src/core/packages/ecosystem.ts';
import { renderPackument, renderVersion, revOf } from '../../src/ecosystems/npm/documents.ts';
import type { ArtifactRecord, PackageRecord, ReleaseRecord } from '../../src/storage/metadata/store.ts';

type Json = Record<string, unknown>;

const T0 = Date.UTC(2025, 0, 1);
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();
const url = {
  tarball: (name: string, filename: string) => `http://r.test/${name}/-/${filename}`,
  attestations: (name: string, version: string) => `http://r.test/-/npm/v1/attestations/${name}@${version}`,
};

const ABBREVIATED_FIELDS = new Set([
  'name', 'version', 'deprecated', 'dependencies', 'optionalDependencies', 'devDependencies', 'peerDependencies',
  'peerDependenciesMeta', 'bundleDependencies', 'bundledDependencies', 'bin', 'directories', 'engines', 'os', 'cpu', 'libc',
  '_hasShrinkwrap', 'hasInstallScript', 'funding', 'acceptDependencies', 'dist',
]);

function artifact(name: string, version: string, over: Partial<ArtifactRecord> = {}): ArtifactRecord {
  const bare = name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
  return {
    id: 1, releaseId: 1, ecosystem: 'npm', packageName: name, filename: `${bare}-${version}.tgz`,
    blobKey: 'ab'.repeat(64), integrity: `sha512-real-${version}`, sha1: `sha1-real-${version}`, size: 123, ...over,
  };
}

const FACTS = { fileCount: 3, unpackedSize: 4567, hasInstallScript: false, hasShrinkwrap: false };

function releaseView(over: Partial<ReleaseView> = {}, metadata: Json = {}): ReleaseView {
  const name = over.name ?? 'pkg';
  const version = over.version ?? '1.0.0';
  return {
    name, version,
    metadata: { name, version, description: 'd', _artifactFacts: FACTS, ...metadata },
    deprecated: null,
    createdAt: T0,
    artifacts: [artifact(name, version)],
    publisher: { name: 'alice', email: 'alice@example.com' },
    publishedVia: null,
    signatures: [],
    provenance: null,
    logIndex: null,
    ...over,
  };
}

const parse = (s: string): Json => JSON.parse(s) as Json;
const render = (v: ReleaseView) => {
  const { full, abbrev } = renderVersion(v, url);
  return { full: parse(full), abbrev: parse(abbrev) };
};

// ---------- package fixtures ----------

function pkgRecord(over: Partial<PackageRecord> = {}): PackageRecord {
  return {
    id: 7, ecosystem: 'npm', name: 'pkg', createdAt: T0, modifiedAt: T0 + 10 * DAY, rev: 5, access: 'public',
    description: '', keywords: '', latestVersion: '2.0.0', deletedAt: null, trustedPublishingOnly: false, provenanceChangeUntil: null, critical: false, criticalAuto: false, mfaPolicy: 'none', ...over,
  };
}

let nextId = 1;
function release(version: string, createdAt: number, metadata: Json, over: Partial<ReleaseRecord> = {}): ReleaseRecord {
  const view = releaseView({ version, createdAt }, metadata);
  const { full, abbrev } = renderVersion(view, url);
  return {
    id: nextId++, packageId: 7, version, state: 'published', createdAt, unpublishedAt: null, publisherId: 1,
    metadata: JSON.stringify(view.metadata), deprecated: null, fragmentFull: full, fragmentAbbrev: abbrev, publishedVia: null, signatures: null, ...over,
  };
}

function packageView(over: Partial<PackageView> = {}): PackageView {
  return {
    pkg: pkgRecord(),
    releases: [
      release('1.0.0', T0 + DAY, { readme: '# one', description: 'first', keywords: ['old'] }),
      release('1.1.0', T0 + 2 * DAY, { readme: '# gone' }, { state: 'unpublished', unpublishedAt: T0 + 3 * DAY }),
      release('2.0.0', T0 + 4 * DAY, { readme: '# two', readmeFilename: 'README.md', description: 'second', keywords: ['new'], license: 'MIT', homepage: 'https://h.example' }),
      release('3.0.0-beta.1', T0 + 5 * DAY, { readme: '# beta', description: 'beta' }),
    ],
    tags: new Map([['latest', '2.0.0'], ['beta', '3.0.0-beta.1']]),
    owners: [{ name: 'alice', email: 'alice@example.com' }, { name: 'bob', email: 'bob@example.com' }],
    ...over,
  };
}

function documentsOf(view: PackageView): Map<string, string> {
  return new Map(renderPackument(view).map((d) => [d.form, d.body]));
}

// ---------- refusals: client-set server-owned fields ----------

describe('renderVersion: server-owned fields a client tried to set', () => {
  const forged: Json = {
    _id: 'evil@6.6.6',
    _rev: '99-forged',
    _npmUser: { name: 'mallory', email: 'm@evil.example' },
    maintainers: [{ name: 'mallory', email: 'm@evil.example' }],
    dist: { tarball: 'http://evil.example/pkg.tgz', integrity: 'sha512-forged', shasum: 'forged', fileCount: 1 },
    deprecated: 'forged deprecation',
    hasInstallScript: false,
    _hasShrinkwrap: true,
    _attachments: { 'x.tgz': { data: 'AAAA' } },
    _resolved: 'http://evil.example', _integrity: 'sha512-forged', _from: 'evil', _shasum: 'forged',
    readme: '# forged readme', readmeFilename: 'EVIL.md', _npmOperationalInternal: { host: 'evil' },
  };

  it('drops every forged field and recomputes the ones the registry owns', () => {
    const { full, abbrev } = render(releaseView({ deprecated: null }, { ...forged, _artifactFacts: { ...FACTS, hasInstallScript: true } }));
    assert.equal(full._id, 'pkg@1.0.0');
    assert.equal(full._rev, undefined);
    assert.deepEqual(full._npmUser, { name: 'alice', email: 'alice@example.com' });
    assert.equal(full.maintainers, undefined);
    assert.deepEqual(full.dist, { integrity: 'sha512-real-1.0.0', shasum: 'sha1-real-1.0.0', tarball: 'http://r.test/pkg/-/pkg-1.0.0.tgz', fileCount: 3, unpackedSize: 4567 });
    assert.equal(full.deprecated, undefined);
    assert.equal(full.hasInstallScript, true, 'from the inspected artifact, not the client');
    assert.equal(full._hasShrinkwrap, undefined);
    for (const k of ['_attachments', '_resolved', '_integrity', '_from', '_shasum', 'readme', 'readmeFilename', '_npmOperationalInternal', '_artifactFacts']) {
      assert.equal(full[k], undefined, k);
      assert.equal(abbrev[k], undefined, k);
    }
    assert.deepEqual(abbrev.dist, full.dist);
    assert.equal(abbrev.deprecated, undefined);
  });

  it('drops a forged publisher or dist even when the registry has none to put in their place', () => {
    const { full, abbrev } = render(releaseView({ publisher: null, artifacts: [] }, forged));
    assert.equal(full._npmUser, undefined);
    assert.equal(full.dist, undefined);
    assert.equal(abbrev.dist, undefined);
  });

  it('overrides a forged name and version with the release\'s own', () => {
    const { full, abbrev } = render(releaseView({}, { name: 'other', version: '9.9.9' }));
    assert.equal(full.name, 'pkg');
    assert.equal(full.version, '1.0.0');
    assert.equal(abbrev.name, 'pkg');
    assert.equal(abbrev.version, '1.0.0');
  });

  it('cannot be tricked through a "__proto__" key into serving server-owned fields', () => {
    const metadata = JSON.parse('{"name":"pkg","version":"1.0.0","__proto__":{"deprecated":"forged","hasInstallScript":true,"_hasShrinkwrap":true,"dist":{"tarball":"http://evil.example/x.tgz"}}}') as Json;
    const { full, abbrev } = render(releaseView({ deprecated: null, artifacts: [] }, metadata));
    for (const k of ['deprecated', 'hasInstallScript', '_hasShrinkwrap', 'dist']) {
      assert.equal(full[k], undefined, `full.${k}`);
      assert.equal(abbrev[k], undefined, `abbrev.${k}`);
    }
  });
});

// ---------- renderVersion ----------

describe('renderVersion: who published', () => {
  const npmUser = (publishedVia: Record<string, unknown> | null) => (JSON.parse(renderVersion(releaseView({ publishedVia }), url).full) as { _npmUser?: Record<string, unknown> })._npmUser;

  it('a login session: the user, nothing more', () => {
    assert.deepEqual(npmUser({ kind: 'user', user: 'alice' }), { name: 'alice', email: 'alice@example.com' });
    assert.deepEqual(npmUser(null), { name: 'alice', email: 'alice@example.com' });
  });

  it('an automation token: the user and the token id', () => {
    assert.deepEqual(npmUser({ kind: 'token', user: 'alice', tokenId: 't-123' }), { name: 'alice', email: 'alice@example.com', token: 't-123' });
  });

  it('a trusted publisher: the provider, the configuration and what ran, no user', () => {
    assert.deepEqual(npmUser({ kind: 'trusted-publisher', provider: 'github', configId: 'c-1', reference: 'acme/w/.github/workflows/r.yml@refs/tags/v1' }),
      { name: 'github', trustedPublisher: { id: 'github', oidcConfigId: 'c-1', reference: 'acme/w/.github/workflows/r.yml@refs/tags/v1' } });
  });
});

describe('renderVersion', () => {
  it('builds dist from the artifact, with the tarball URL from the callback', () => {
    const calls: [string, string][] = [];
    const { full } = renderVersion(releaseView({ name: '@s/n', version: '2.0.0' }), { ...url, tarball: (name, filename) => {
      calls.push([name, filename]);
      return `http://r.test/${name}/-/${filename}`;
    } });
    assert.deepEqual(calls, [['@s/n', 'n-2.0.0.tgz']]);
    assert.deepEqual(parse(full).dist, { integrity: 'sha512-real-2.0.0', shasum: 'sha1-real-2.0.0', tarball: 'http://r.test/@s/n/-/n-2.0.0.tgz', fileCount: 3, unpackedSize: 4567 });
    assert.equal(parse(full)._id, '@s/n@2.0.0');
  });

  it('leaves fileCount and unpackedSize out when the artifact was not inspected', () => {
    const v = releaseView();
    delete v.metadata._artifactFacts;
    assert.deepEqual(render(v).full.dist, { integrity: 'sha512-real-1.0.0', shasum: 'sha1-real-1.0.0', tarball: 'http://r.test/pkg/-/pkg-1.0.0.tgz' });
  });

  it('serves the registry signatures and the provenance pointer in dist, in both forms', () => {
    const sigs = [{ keyid: 'SHA256:k', sig: 'MEUC' }];
    const v = render(releaseView({ name: '@s/n', version: '1.2.3', signatures: sigs, provenance: { predicateType: 'https://slsa.dev/provenance/v1' } }));
    for (const form of [v.full, v.abbrev]) {
      const dist = form.dist as Json;
      assert.deepEqual(dist.signatures, sigs);
      assert.deepEqual(dist.attestations, { url: 'http://r.test/-/npm/v1/attestations/@s/n@1.2.3', provenance: { predicateType: 'https://slsa.dev/provenance/v1' } });
    }
  });

  it('leaves signatures and attestations out when the version has none', () => {
    const dist = render(releaseView()).full.dist as Json;
    assert.equal(dist.signatures, undefined);
    assert.equal(dist.attestations, undefined);
  });

  it('serves the transparency-log index in dist, in both forms, only once logged', () => {
    const v = render(releaseView({ logIndex: 41 }));
    for (const form of [v.full, v.abbrev]) assert.equal((form.dist as Json).logIndex, 41);
    assert.equal(Object.hasOwn(render(releaseView()).full.dist as Json, 'logIndex'), false);
  });

  it('sets deprecated from the release', () => {
    const { full, abbrev } = render(releaseView({ deprecated: 'use 2.x' }));
    assert.equal(full.deprecated, 'use 2.x');
    assert.equal(abbrev.deprecated, 'use 2.x');
  });

  it('sets hasInstallScript and _hasShrinkwrap from the artifact facts only when true', () => {
    const yes = render(releaseView({}, { _artifactFacts: { ...FACTS, hasInstallScript: true, hasShrinkwrap: true } }));
    assert.equal(yes.full.hasInstallScript, true);
    assert.equal(yes.full._hasShrinkwrap, true);
    assert.equal(yes.abbrev.hasInstallScript, true);
    assert.equal(yes.abbrev._hasShrinkwrap, true);
    const no = render(releaseView({}, { hasInstallScript: true, _hasShrinkwrap: true }));
    assert.equal(no.full.hasInstallScript, undefined);
    assert.equal(no.full._hasShrinkwrap, undefined);
    assert.equal(no.abbrev.hasInstallScript, undefined);
  });

  it('keeps the client\'s ordinary fields in the full fragment', () => {
    const { full } = render(releaseView({}, { scripts: { test: 'node --test' }, main: 'index.js', repository: 'git+https://x', gitHead: 'abc', license: 'MIT' }));
    assert.deepEqual(full.scripts, { test: 'node --test' });
    assert.equal(full.main, 'index.js');
    assert.equal(full.license, 'MIT');
    assert.equal(full.gitHead, 'abc');
  });

  it('abbreviated fragment has only the installer fields', () => {
    const meta: Json = {
      dependencies: { a: '1' }, optionalDependencies: { b: '1' }, devDependencies: { c: '1' }, peerDependencies: { d: '1' },
      peerDependenciesMeta: { d: { optional: true } }, bundleDependencies: ['a'], bin: { x: 'x.js' }, directories: { lib: 'lib' },
      engines: { node: '>=20' }, os: ['linux'], cpu: ['x64'], libc: ['glibc'], funding: 'https://f', acceptDependencies: { a: '2' },
      scripts: { postinstall: 'x' }, main: 'index.js', description: 'd', keywords: ['k'], repository: 'r', author: 'a', license: 'MIT', gitHead: 'g',
    };
    const { full, abbrev } = render(releaseView({ deprecated: 'old' }, meta));
    for (const k of Object.keys(abbrev)) assert.ok(ABBREVIATED_FIELDS.has(k), `unexpected abbreviated field ${k}`);
    for (const k of ABBREVIATED_FIELDS) if (full[k] !== undefined) assert.deepEqual(abbrev[k], full[k], k);
    for (const k of ['scripts', 'main', 'description', 'keywords', 'repository', 'author', 'license', 'gitHead', '_id', '_npmUser']) assert.equal(abbrev[k], undefined, k);
    assert.ok(JSON.stringify(abbrev).length < JSON.stringify(full).length);
  });
});

// ---------- renderPackument ----------

describe('renderPackument: live packages', () => {
  const view = packageView();
  const docs = documentsOf(view);
  const full = parse(docs.get('full') as string);
  const abbrev = parse(docs.get('abbrev') as string);

  it('renders exactly a full and an abbreviated form, as valid JSON, that differ', () => {
    assert.deepEqual([...docs.keys()].sort(), ['abbrev', 'full']);
    assert.notEqual(docs.get('full'), docs.get('abbrev'));
    assert.notDeepEqual(full, abbrev);
  });

  it('full: identity, _rev and dist-tags', () => {
    assert.equal(full._id, 'pkg');
    assert.equal(full.name, 'pkg');
    assert.equal(full._rev, revOf('pkg', 5));
    assert.deepEqual(full['dist-tags'], { latest: '2.0.0', beta: '3.0.0-beta.1' });
  });

  it('full: versions are the stored fragments of live releases only', () => {
    const versions = full.versions as Record<string, Json>;
    assert.deepEqual(Object.keys(versions), ['1.0.0', '2.0.0', '3.0.0-beta.1']);
    for (const r of view.releases.filter((x) => x.state === 'published')) assert.deepEqual(versions[r.version], parse(r.fragmentFull));
  });

  it('time has created, modified and every live version, and no unpublished one', () => {
    assert.deepEqual(full.time, {
      created: iso(T0), modified: iso(T0 + 10 * DAY),
      '1.0.0': iso(T0 + DAY), '2.0.0': iso(T0 + 4 * DAY), '3.0.0-beta.1': iso(T0 + 5 * DAY),
    });
    assert.deepEqual(abbrev.time, full.time);
  });

  it('full: maintainers are the owners, and top-level fields and readme come from the latest version', () => {
    assert.deepEqual(full.maintainers, [{ name: 'alice', email: 'alice@example.com' }, { name: 'bob', email: 'bob@example.com' }]);
    assert.equal(full.readme, '# two');
    assert.equal(full.readmeFilename, 'README.md');
    assert.equal(full.description, 'second');
    assert.deepEqual(full.keywords, ['new']);
    assert.equal(full.license, 'MIT');
    assert.equal(full.homepage, 'https://h.example');
    assert.deepEqual(full.users, {});
  });

  it('abbreviated: only the installer document', () => {
    assert.deepEqual(Object.keys(abbrev).sort(), ['_rev', 'dist-tags', 'modified', 'name', 'time', 'versions']);
    assert.equal(abbrev.name, 'pkg');
    assert.equal(abbrev._rev, full._rev);
    assert.equal(abbrev.modified, iso(T0 + 10 * DAY));
    assert.deepEqual(abbrev['dist-tags'], full['dist-tags']);
    const versions = abbrev.versions as Record<string, Json>;
    assert.deepEqual(Object.keys(versions), ['1.0.0', '2.0.0', '3.0.0-beta.1']);
    for (const r of view.releases.filter((x) => x.state === 'published')) assert.deepEqual(versions[r.version], parse(r.fragmentAbbrev));
  });

  it('falls back to the newest live release when no latest tag points at a live one', () => {
    const noLatest = parse(documentsOf(packageView({ tags: new Map([['beta', '3.0.0-beta.1']]) })).get('full') as string);
    assert.equal(noLatest.readme, '# beta');
    assert.deepEqual(noLatest['dist-tags'], { beta: '3.0.0-beta.1' });
    const stale = parse(documentsOf(packageView({ tags: new Map([['latest', '1.1.0']]) })).get('full') as string);
    assert.equal(stale.readme, '# beta', 'latest pointing at an unpublished version is not used');
  });

  it('serves an empty readme when the latest version has none', () => {
    const v = packageView({ releases: [release('1.0.0', T0, {})], tags: new Map([['latest', '1.0.0']]) });
    assert.equal(parse(documentsOf(v).get('full') as string).readme, '');
  });

  it('escapes names and values so the body stays valid JSON', () => {
    const v = packageView({
      pkg: pkgRecord({ name: '@s/n' }),
      releases: [release('1.0.0', T0, { readme: '"quoted" </script>\n\u2028', description: '\\' })],
      tags: new Map([['latest', '1.0.0']]),
      owners: [{ name: 'a"b', email: 'x@y' }],
    });
    for (const body of documentsOf(v).values()) assert.doesNotThrow(() => JSON.parse(body));
    const doc = parse(documentsOf(v).get('full') as string);
    assert.equal(doc.name, '@s/n');
    assert.equal(doc.readme, '"quoted" </script>\n\u2028');
  });
});

describe('renderPackument: packages with no live releases', () => {
  const view = packageView({
    pkg: pkgRecord({ deletedAt: T0 + 6 * DAY, latestVersion: null }),
    releases: [
      release('1.0.0', T0 + DAY, {}, { state: 'unpublished', unpublishedAt: T0 + 2 * DAY }),
      release('1.1.0', T0 + 3 * DAY, {}, { state: 'unpublished', unpublishedAt: T0 + 6 * DAY }),
    ],
    tags: new Map(),
  });
  const docs = renderPackument(view);

  it('renders a single tombstone form', () => {
    assert.equal(docs.length, 1);
    assert.equal(docs[0]?.form, 'tombstone');
  });

  it('lists the unpublished versions and when, and serves no versions', () => {
    const tomb = parse(docs[0]?.body as string);
    assert.equal(tomb._id, 'pkg');
    assert.equal(tomb.name, 'pkg');
    assert.equal(tomb._rev, revOf('pkg', 5));
    assert.equal(tomb.versions, undefined);
    assert.equal(tomb['dist-tags'], undefined);
    assert.equal(tomb.maintainers, undefined);
    assert.equal(typeof tomb.error, 'string');
    const time = tomb.time as { created: string; modified: string; unpublished: { time: string; versions: string[] } };
    assert.equal(time.created, iso(T0));
    assert.equal(time.modified, iso(T0 + 10 * DAY));
    assert.deepEqual(time.unpublished.versions, ['1.0.0', '1.1.0']);
    assert.equal(time.unpublished.time, iso(T0 + 6 * DAY));
  });

  it('leaks no readme or metadata of the unpublished versions', () => {
    const v = packageView({
      pkg: pkgRecord({ deletedAt: T0 + 2 * DAY }),
      releases: [release('1.0.0', T0, { readme: 'SECRET-README', description: 'SECRET-DESC' }, { state: 'unpublished', unpublishedAt: T0 + DAY })],
      tags: new Map(),
    });
    const body = renderPackument(v)[0]?.body as string;
    assert.ok(!body.includes('SECRET'));
    assert.equal((parse(body).time as { unpublished: { time: string } }).unpublished.time, iso(T0 + 2 * DAY), 'the later of deletedAt and unpublishedAt');
  });
});

describe('revOf', () => {
  it('is URL-safe and starts with the counter', () => {
    for (const [name, rev] of [['pkg', 1], ['@s/n', 42], ['a"b c', 0], ['x', 123456789]] as const) {
      const r = revOf(name, rev);
      assert.match(r, /^\d+-[0-9a-f]{16}$/);
      assert.ok(r.startsWith(`${rev}-`));
      assert.equal(encodeURIComponent(r), r);
    }
  });

  it('is deterministic and changes with the counter and the name', () => {
    assert.equal(revOf('pkg', 3), revOf('pkg', 3));
    const revs = new Set(Array.from({ length: 100 }, (_, i) => revOf('pkg', i)));
    assert.equal(revs.size, 100);
    assert.notEqual(revOf('pkg', 3), revOf('pkh', 3));
    assert.notEqual(revOf('pkg', 3).split('-')[1], revOf('pkg', 4).split('-')[1]);
  });
});
