import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isAttestryError } from '../../src/core/errors.ts';
import { DEFAULT_ARCHIVE_LIMITS, inspectTarGz } from '../../src/security/archive/tar-gz.ts';
import type { InspectOptions, InspectedArchive } from '../../src/security/archive/tar-gz.ts';
import { makeTar, makeTarGz, padded, paxHeader, setChecksum, tarHeader } from '../support/tar-writer.ts';
import type { TarEntrySpec } from '../support/tar-writer.ts';

const MiB = 1024 * 1024;
const EOA = Buffer.alloc(1024);
const manifest = JSON.stringify({ name: 'demo', version: '1.0.0' });

/** Asserts that inspecting `data` fails with `code`, and that the message names `path` when given. */
async function refuses(data: Buffer, code: string, opts: InspectOptions & { path?: string; kind?: string } = {}): Promise<void> {
  await assert.rejects(inspectTarGz(data, opts), (e: unknown) => {
    assert.ok(isAttestryError(e), `expected an AttestryError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (opts.kind !== undefined) assert.equal(e.kind, opts.kind);
    if (opts.path !== undefined) assert.ok(e.message.includes(opts.path), `message ${JSON.stringify(e.message)} should name ${opts.path}`);
    return true;
  });
}

const entriesOf = async (entries: TarEntrySpec[], opts?: InspectOptions): Promise<InspectedArchive> => inspectTarGz(makeTarGz(entries), opts);

/** A tar stream ending in the end-of-archive marker, from raw blocks. */
const rawTarGz = (...parts: Buffer[]): Buffer => gzipSync(Buffer.concat([...parts, EOA]));

/** `total` bytes of zeros as concatenated gzip members: compressing 1 MiB once is enough for any size. */
function zeroMembers(total: number): Buffer {
  const member = gzipSync(Buffer.alloc(MiB), { level: 9 });
  return Buffer.concat(Array.from({ length: Math.ceil(total / MiB) }, () => member));
}

/** Peak growth of the resident set while `run` runs, sampled every few milliseconds. */
async function peakRssGrowth(run: () => Promise<void>): Promise<number> {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  try {
    await run();
  } finally {
    clearInterval(sampler);
  }
  return Math.max(peak, process.memoryUsage.rss()) - baseline;
}

describe('inspectTarGz: well-formed packages', () => {
  it('lists entries, extracts requested files and sums file sizes', async () => {
    const tgz = makeTarGz([
      { path: 'package/', type: 'directory' },
      { path: 'package/package.json', content: manifest },
      { path: 'package/lib/', type: 'directory' },
      { path: 'package/lib/index.js', content: 'module.exports = 1;\n', mode: 0o755 },
      { path: 'package/README.md', content: '# demo\n' },
    ]);
    const result = await inspectTarGz(tgz, { extract: ['package/package.json', 'package/missing.json'] });
    assert.deepEqual(
      result.entries.map((e) => [e.path, e.type, e.size]),
      [
        ['package', 'directory', 0],
        ['package/package.json', 'file', manifest.length],
        ['package/lib', 'directory', 0],
        ['package/lib/index.js', 'file', 20],
        ['package/README.md', 'file', 7],
      ],
    );
    assert.equal(result.entries[3]?.mode, 0o755);
    assert.equal(result.fileCount, 3);
    assert.equal(result.unpackedSize, manifest.length + 20 + 7);
    assert.deepEqual([...result.files.keys()], ['package/package.json']);
    assert.equal(result.files.get('package/package.json')?.toString(), manifest);
  });

  it('strips one leading ./ and collapses empty and . segments', async () => {
    const result = await entriesOf([
      { path: './package/', type: 'directory' },
      { path: './package/package.json', content: manifest },
      { path: 'package//lib/./a.js', content: 'a' },
    ], { extract: ['package/package.json'] });
    assert.deepEqual(result.entries.map((e) => e.path), ['package', 'package/package.json', 'package/lib/a.js']);
    assert.equal(result.files.get('package/package.json')?.toString(), manifest);
  });

  it('returns an empty buffer for a requested empty file', async () => {
    const result = await entriesOf([{ path: 'package/empty.txt', content: '' }], { extract: ['package/empty.txt'] });
    assert.deepEqual(result.files.get('package/empty.txt'), Buffer.alloc(0));
  });

  it('reads a PAX long path (over 100 bytes)', async () => {
    const long = `package/${'deep/'.repeat(30)}file.js`;
    assert.ok(long.length > 100);
    const result = await entriesOf([{ path: long, content: 'x' }], { extract: [long] });
    assert.deepEqual(result.entries.map((e) => e.path), [long]);
    assert.equal(result.files.get(long)?.toString(), 'x');
  });

  it('reads a PAX path with non-ASCII characters', async () => {
    const result = await entriesOf([{ path: 'package/ünïcødé-文件.txt', content: 'u' }]);
    assert.equal(result.entries[0]?.path, 'package/ünïcødé-文件.txt');
  });

  it('honours a PAX size that overrides the header size', async () => {
    const data = Buffer.from('hello');
    const tgz = rawTarGz(paxHeader({ size: '5' }), tarHeader({ name: 'package/a.txt', typeflag: '0', size: 0 }), padded(data));
    const result = await inspectTarGz(tgz, { extract: ['package/a.txt'] });
    assert.equal(result.files.get('package/a.txt')?.toString(), 'hello');
    assert.equal(result.unpackedSize, 5);
  });

  it('reads GNU long names (L) and long link targets (K)', async () => {
    const long = `package/${'gnu/'.repeat(30)}file.js`;
    const target = `${'../'.repeat(0)}${'gnu/'.repeat(30)}file.js`;
    const result = await inspectTarGz(
      makeTarGz([
        { path: long, content: 'g' },
        { path: 'package/link', type: 'symlink', linkTarget: target },
      ], { gnuLongName: true }),
      { extract: [long] },
    );
    assert.deepEqual(result.entries.map((e) => e.path), [long, 'package/link']);
    assert.equal(result.entries[1]?.linkTarget, target);
    assert.equal(result.files.get(long)?.toString(), 'g');
  });

  it('joins the ustar prefix field and name', async () => {
    const prefix = `package/${'p'.repeat(120)}`;
    const tgz = rawTarGz(tarHeader({ name: 'file.js', prefix, typeflag: '0', size: 2 }), padded(Buffer.from('ok')));
    const result = await inspectTarGz(tgz);
    assert.equal(result.entries[0]?.path, `${prefix}/file.js`);
  });

  it('reads a GNU base-256 size', async () => {
    const tgz = rawTarGz(tarHeader({ name: 'package/b.bin', typeflag: '0', size: 3, base256Size: true }), padded(Buffer.from('abc')));
    const result = await inspectTarGz(tgz, { extract: ['package/b.bin'] });
    assert.equal(result.files.get('package/b.bin')?.toString(), 'abc');
  });

  it("treats typeflag '\\0' and '7' as files and a '0' with a trailing slash as a directory", async () => {
    const tgz = rawTarGz(
      tarHeader({ name: 'package/old', typeflag: '\0', size: 1 }),
      padded(Buffer.from('o')),
      tarHeader({ name: 'package/contig', typeflag: '7', size: 1 }),
      padded(Buffer.from('c')),
      tarHeader({ name: 'package/dir/', typeflag: '0' }),
    );
    const result = await inspectTarGz(tgz);
    assert.deepEqual(result.entries.map((e) => [e.path, e.type]), [
      ['package/old', 'file'],
      ['package/contig', 'file'],
      ['package/dir', 'directory'],
    ]);
  });

  it('never reads a body for a directory, whatever its size field says (as node-tar)', async () => {
    const tgz = rawTarGz(
      tarHeader({ name: 'package/d/', typeflag: '5', size: 512 }),
      tarHeader({ name: 'package/d/f', typeflag: '0', size: 1 }),
      padded(Buffer.from('f')),
    );
    const result = await inspectTarGz(tgz);
    assert.deepEqual(result.entries.map((e) => e.path), ['package/d', 'package/d/f']);
  });

  it('accepts a symlink that stays inside package/', async () => {
    const result = await entriesOf([
      { path: 'package/lib/cli.js', content: '#!/usr/bin/env node\n' },
      { path: 'package/bin/cli', type: 'symlink', linkTarget: '../lib/cli.js' },
      { path: 'package/root', type: 'symlink', linkTarget: '.' },
      { path: 'package/lib/dir-link', type: 'symlink', linkTarget: '../bin/' },
    ]);
    assert.deepEqual(result.entries.filter((e) => e.type === 'symlink').map((e) => e.linkTarget), ['../lib/cli.js', '.', '../bin/']);
    assert.equal(result.fileCount, 1);
  });

  it('accepts a hardlink to a file inside package/ and normalises its target', async () => {
    const result = await entriesOf([
      { path: 'package/index.js', content: 'x' },
      { path: 'package/copy.js', type: 'hardlink', linkTarget: './package/index.js' },
    ]);
    assert.deepEqual(result.entries[1], { path: 'package/copy.js', type: 'hardlink', size: 0, mode: 0o755, linkTarget: 'package/index.js' });
    assert.equal(result.fileCount, 1);
  });

  it('tolerates duplicate entries; the last one wins, as on disk', async () => {
    const result = await entriesOf([
      { path: 'package/package.json', content: '{"v":1}' },
      { path: 'package/package.json', content: '{"v":2}' },
    ], { extract: ['package/package.json'] });
    assert.equal(result.entries.length, 2);
    assert.equal(result.files.get('package/package.json')?.toString(), '{"v":2}');
  });

  it('drops an extracted file that a later non-file entry replaces', async () => {
    const result = await entriesOf([
      { path: 'package/package.json', content: manifest },
      { path: 'package/real.json', content: manifest },
      { path: 'package/package.json', type: 'symlink', linkTarget: 'real.json' },
    ], { extract: ['package/package.json'] });
    assert.equal(result.files.has('package/package.json'), false);
  });

  it('tolerates a missing end-of-archive marker when the stream ends between entries', async () => {
    const result = await inspectTarGz(makeTarGz([{ path: 'package/package.json', content: manifest }], { endOfArchive: false }), {
      extract: ['package/package.json'],
    });
    assert.equal(result.files.get('package/package.json')?.toString(), manifest);
  });

  it('tolerates a single zero block at the end', async () => {
    const tar = makeTar([{ path: 'package/a', content: 'a' }], { endOfArchive: false });
    const result = await inspectTarGz(gzipSync(Buffer.concat([tar, Buffer.alloc(512)])));
    assert.equal(result.fileCount, 1);
  });

  it('skips a lone zero block between entries, as node-tar does', async () => {
    const first = makeTar([{ path: 'package/a', content: 'a' }], { endOfArchive: false });
    const second = makeTar([{ path: 'package/b', content: 'b' }]);
    const result = await inspectTarGz(gzipSync(Buffer.concat([first, Buffer.alloc(512), second])));
    assert.deepEqual(result.entries.map((e) => e.path), ['package/a', 'package/b']);
  });

  it('ignores anything after the end-of-archive marker', async () => {
    const tar = makeTar([{ path: 'package/a', content: 'a' }]);
    const garbage = Buffer.concat([Buffer.from('not a header at all'), Buffer.alloc(2000, 0x41)]);
    const result = await inspectTarGz(gzipSync(Buffer.concat([tar, garbage])));
    assert.deepEqual(result.entries.map((e) => e.path), ['package/a']);
  });

  it('reads concatenated gzip members as one stream', async () => {
    const tar = makeTar([
      { path: 'package/package.json', content: manifest },
      { path: 'package/b.js', content: 'b'.repeat(3000) },
    ]);
    const tgz = Buffer.concat([gzipSync(tar.subarray(0, 700)), gzipSync(tar.subarray(700, 2100)), gzipSync(tar.subarray(2100))]);
    const result = await inspectTarGz(tgz, { extract: ['package/package.json'] });
    assert.equal(result.fileCount, 2);
    assert.equal(result.unpackedSize, manifest.length + 3000);
  });

  it('accepts a PAX global header without structural keys (git archive style)', async () => {
    const tgz = rawTarGz(paxHeader({ comment: 'a1b2c3' }, 'g', 'pax_global_header'), makeTar([{ path: 'package/a', content: 'a' }], { endOfArchive: false }));
    const result = await inspectTarGz(tgz);
    assert.deepEqual(result.entries.map((e) => e.path), ['package/a']);
  });

  it('tolerates PAX records it does not use, including binary xattrs with NULs', async () => {
    const result = await entriesOf([{ path: 'package/a', content: 'a', pax: { 'SCHILY.xattr.user.x': 'a\0b', mtime: '1700000000.5' } }]);
    assert.equal(result.entries[0]?.path, 'package/a');
  });

  it('accepts an empty archive (the caller decides whether a manifest is required)', async () => {
    const result = await inspectTarGz(gzipSync(Buffer.alloc(0)), { extract: ['package/package.json'] });
    assert.deepEqual(result, { entries: [], files: new Map(), fileCount: 0, unpackedSize: 0 });
  });

  it('exposes frozen defaults', () => {
    assert.deepEqual(DEFAULT_ARCHIVE_LIMITS, { maxCompressedBytes: 64 * MiB, maxUncompressedBytes: 256 * MiB, maxEntries: 20_000 });
    assert.ok(Object.isFrozen(DEFAULT_ARCHIVE_LIMITS));
  });

  it('rejects nonsensical limits as a programming error', async () => {
    await assert.rejects(inspectTarGz(makeTarGz([]), { limits: { maxEntries: -1 } }), RangeError);
    await assert.rejects(inspectTarGz(makeTarGz([]), { maxExtractBytes: Number.NaN }), RangeError);
  });
});

describe('inspectTarGz: a real npm pack tarball', () => {
  let dir = '';
  let tarball: Buffer;
  let packed: { unpackedSize: number; entryCount: number; files: Array<{ path: string; size: number }> };
  const pkg = { name: 'attestry-pack-fixture', version: '1.2.3', description: 'fixture', main: 'index.js', bin: { fixture: 'bin/cli.js' } };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'attestry-archive-'));
    const src = join(dir, 'src');
    mkdirSync(join(src, 'lib'), { recursive: true });
    mkdirSync(join(src, 'bin'));
    writeFileSync(join(src, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    writeFileSync(join(src, 'index.js'), "module.exports = require('./lib/util.js');\n");
    writeFileSync(join(src, 'lib', 'util.js'), 'module.exports = { answer: 42 };\n'.repeat(100));
    writeFileSync(join(src, 'bin', 'cli.js'), '#!/usr/bin/env node\nconsole.log(require("..").answer);\n');
    chmodSync(join(src, 'bin', 'cli.js'), 0o755);
    writeFileSync(join(src, 'README.md'), '# fixture\n');
    const out = join(dir, 'out');
    mkdirSync(out);
    // Under `npm test`, npm_execpath is the npm that runs us; otherwise use the one on PATH.
    const npm = process.env.npm_execpath;
    const args = ['pack', '--json', '--pack-destination', out, '--ignore-scripts', '--cache', join(dir, 'cache'), '--loglevel', 'error'];
    const stdout = npm !== undefined && npm.endsWith('.js')
      ? execFileSync(process.execPath, [npm, ...args], { cwd: src, encoding: 'utf8' })
      : execFileSync('npm', args, { cwd: src, encoding: 'utf8' });
    const [info] = JSON.parse(stdout) as Array<typeof packed & { filename: string }>;
    assert.ok(info);
    packed = info;
    tarball = readFileSync(join(out, info.filename));
  });

  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('extracts package/package.json and agrees with npm on files and unpacked size', async () => {
    const result = await inspectTarGz(tarball, { extract: ['package/package.json'] });
    const json = JSON.parse(result.files.get('package/package.json')?.toString() ?? '{}') as typeof pkg;
    assert.equal(json.name, pkg.name);
    assert.equal(json.version, pkg.version);
    assert.equal(result.fileCount, packed.entryCount);
    assert.equal(result.unpackedSize, packed.unpackedSize);
    assert.deepEqual(
      result.entries.filter((e) => e.type === 'file').map((e) => [e.path, e.size]).sort(),
      packed.files.map((f) => [`package/${f.path}`, f.size]).sort(),
    );
    assert.equal(result.entries.find((e) => e.path === 'package/bin/cli.js')?.mode, 0o755);
  });
});

describe('inspectTarGz: compression and limits', () => {
  it('ARCHIVE_NOT_GZIP for an uncompressed tar, an empty buffer and a single byte', async () => {
    await refuses(makeTar([{ path: 'package/a', content: 'a' }]), 'ARCHIVE_NOT_GZIP', { kind: 'invalid' });
    await refuses(Buffer.alloc(0), 'ARCHIVE_NOT_GZIP');
    await refuses(Buffer.from([0x1f]), 'ARCHIVE_NOT_GZIP');
  });

  it('ARCHIVE_CORRUPT for a truncated gzip stream', async () => {
    const tgz = makeTarGz([{ path: 'package/package.json', content: manifest }]);
    await refuses(tgz.subarray(0, tgz.length - 12), 'ARCHIVE_CORRUPT');
    await refuses(tgz.subarray(0, 10), 'ARCHIVE_CORRUPT');
  });

  it('ARCHIVE_CORRUPT for a damaged deflate stream or CRC', async () => {
    const tgz = makeTarGz([{ path: 'package/package.json', content: manifest }]);
    const badCrc = Buffer.from(tgz);
    badCrc[badCrc.length - 8] = (badCrc[badCrc.length - 8] ?? 0) ^ 0xff;
    await refuses(badCrc, 'ARCHIVE_CORRUPT');
    const garbage = Buffer.concat([tgz.subarray(0, 10), Buffer.alloc(64, 0xff)]);
    await refuses(garbage, 'ARCHIVE_CORRUPT');
  });

  it('ARCHIVE_COMPRESSED_TOO_LARGE before looking at the content', async () => {
    const tgz = makeTarGz([{ path: 'package/a', content: 'a' }]);
    await refuses(tgz, 'ARCHIVE_COMPRESSED_TOO_LARGE', { limits: { maxCompressedBytes: tgz.length - 1 }, kind: 'too_large' });
    await refuses(Buffer.alloc(100), 'ARCHIVE_COMPRESSED_TOO_LARGE', { limits: { maxCompressedBytes: 99 } });
    const ok = await inspectTarGz(tgz, { limits: { maxCompressedBytes: tgz.length } });
    assert.equal(ok.fileCount, 1);
  });

  it('ARCHIVE_TOO_MANY_ENTRIES once the limit is passed; PAX per-entry headers do not count', async () => {
    const files = (n: number): TarEntrySpec[] => Array.from({ length: n }, (_, i) => ({ path: `package/f${i}`, content: 'x' }));
    await refuses(makeTarGz(files(4)), 'ARCHIVE_TOO_MANY_ENTRIES', { limits: { maxEntries: 3 }, kind: 'too_large', path: 'package/f3' });
    const atLimit = await inspectTarGz(makeTarGz(files(3).map((f) => ({ ...f, pax: { comment: 'x' } }))), { limits: { maxEntries: 3 } });
    assert.equal(atLimit.entries.length, 3);
  });

  it('counts PAX global headers against the entry limit', async () => {
    const globals = Array.from({ length: 3 }, () => paxHeader({ comment: 'g' }, 'g'));
    await refuses(rawTarGz(...globals), 'ARCHIVE_TOO_MANY_ENTRIES', { limits: { maxEntries: 2 } });
  });

  it('ARCHIVE_UNCOMPRESSED_TOO_LARGE as the inflated bytes pass the limit', async () => {
    const files = Array.from({ length: 40 }, (_, i) => ({ path: `package/f${i}`, content: Buffer.alloc(32 * 1024, i) }));
    await refuses(makeTarGz(files), 'ARCHIVE_UNCOMPRESSED_TOO_LARGE', { limits: { maxUncompressedBytes: MiB }, kind: 'too_large' });
    const ok = await inspectTarGz(makeTarGz(files.slice(0, 20)), { limits: { maxUncompressedBytes: MiB } });
    assert.equal(ok.fileCount, 20);
  });

  it('ARCHIVE_UNCOMPRESSED_TOO_LARGE at once when a header declares more than the limit', async () => {
    // 1 GiB declared, then 2 MiB of the promised zeros: the header alone is enough to refuse.
    const tgz = Buffer.concat([gzipSync(tarHeader({ name: 'package/huge.bin', typeflag: '0', size: 1024 * MiB })), zeroMembers(2 * MiB)]);
    await refuses(tgz, 'ARCHIVE_UNCOMPRESSED_TOO_LARGE', { path: 'package/huge.bin' });
  });

  it('refuses a 10 MB zero bomb (about 10 KB compressed) under a 1 MiB limit', async () => {
    const bomb = gzipSync(Buffer.alloc(10 * MiB), { level: 9 });
    assert.ok(bomb.length < 20 * 1024);
    await refuses(bomb, 'ARCHIVE_UNCOMPRESSED_TOO_LARGE', { limits: { maxUncompressedBytes: MiB } });
  });

  it('refuses a 1 GB gzip bomb with the default limits and bounded memory', async (t) => {
    const bomb = zeroMembers(1024 * MiB);
    assert.ok(bomb.length < 2 * MiB);
    const growth = await peakRssGrowth(() => refuses(bomb, 'ARCHIVE_UNCOMPRESSED_TOO_LARGE', { kind: 'too_large' }));
    t.diagnostic(`rss growth while refusing the bomb: ${(growth / MiB).toFixed(1)} MiB`);
    assert.ok(growth < 64 * MiB, `rss grew by ${(growth / MiB).toFixed(1)} MiB`);
  });

  it('refuses a bomb of honestly declared zero-filled files at the default limit, without retaining them', async (t) => {
    // 300 files of 1 MiB: every header fits the budget until the 256 MiB limit is actually inflated.
    const member = zeroMembers(MiB);
    const parts: Buffer[] = [];
    for (let i = 0; i < 300; i++) parts.push(gzipSync(tarHeader({ name: `package/f${i}.bin`, typeflag: '0', size: MiB })), member);
    const bomb = Buffer.concat(parts);
    assert.ok(bomb.length < MiB);
    const growth = await peakRssGrowth(() => refuses(bomb, 'ARCHIVE_UNCOMPRESSED_TOO_LARGE', { kind: 'too_large' }));
    t.diagnostic(`rss growth while refusing 256 MiB of files: ${(growth / MiB).toFixed(1)} MiB`);
    // Every inflated chunk is a new buffer that V8 frees lazily (it lets about 64 MiB of dead
    // buffers accumulate before collecting), so the bound here has headroom above that; keeping
    // the inflated data would cost 256 MiB.
    assert.ok(growth < 96 * MiB, `rss grew by ${(growth / MiB).toFixed(1)} MiB`);
  });

  it('refuses more than 1 MiB of data after the end-of-archive marker, but not record padding', async () => {
    const tar = makeTar([{ path: 'package/package.json', content: manifest }]);
    const padding = await inspectTarGz(gzipSync(Buffer.concat([tar, Buffer.alloc(10 * 1024)])));
    assert.equal(padding.fileCount, 1);
    await refuses(Buffer.concat([gzipSync(tar), zeroMembers(2 * MiB)]), 'ARCHIVE_UNCOMPRESSED_TOO_LARGE', { kind: 'too_large' });
  });

  it('ARCHIVE_FILE_TOO_LARGE when a requested file exceeds its cap; other files are not capped', async () => {
    const entries = [
      { path: 'package/package.json', content: 'x'.repeat(11) },
      { path: 'package/big.bin', content: Buffer.alloc(100) },
    ];
    await refuses(makeTarGz(entries), 'ARCHIVE_FILE_TOO_LARGE', { extract: ['package/package.json'], maxExtractBytes: 10, kind: 'too_large', path: 'package/package.json' });
    const ok = await entriesOf(entries, { extract: ['package/package.json'], maxExtractBytes: 11 });
    assert.equal(ok.files.get('package/package.json')?.length, 11);
  });

  it('caps extracted files at 1 MiB by default', async () => {
    const entries = [{ path: 'package/package.json', content: Buffer.alloc(MiB + 1, 0x20) }];
    await refuses(makeTarGz(entries), 'ARCHIVE_FILE_TOO_LARGE', { extract: ['package/package.json'] });
  });
});

describe('inspectTarGz: tar structure', () => {
  it('ARCHIVE_CORRUPT when the stream ends inside a file body, naming the file', async () => {
    const tar = makeTar([{ path: 'package/package.json', content: manifest }]);
    await refuses(gzipSync(tar.subarray(0, 512 + 5)), 'ARCHIVE_CORRUPT', { path: 'package/package.json' });
  });

  it('ARCHIVE_CORRUPT when the stream ends inside padding or a header', async () => {
    const tar = makeTar([{ path: 'package/a', content: 'a' }, { path: 'package/b', content: 'b' }]);
    await refuses(gzipSync(tar.subarray(0, 512 + 100)), 'ARCHIVE_CORRUPT');
    await refuses(gzipSync(tar.subarray(0, 1024 + 300)), 'ARCHIVE_CORRUPT');
  });

  it('ARCHIVE_CORRUPT for a bad header checksum, naming the entry', async () => {
    const tar = makeTar([{ path: 'package/package.json', content: manifest }]);
    tar[120] = 0x31; // inside the uid field, checksum left stale
    await refuses(gzipSync(tar), 'ARCHIVE_CORRUPT', { path: 'package/package.json' });
  });

  it('ARCHIVE_CORRUPT for a non-octal or negative size', async () => {
    const bad = tarHeader({ name: 'package/a', typeflag: '0', size: 1 });
    bad.write('00000000x01\0', 124, 12, 'latin1');
    setChecksum(bad);
    await refuses(rawTarGz(bad, padded(Buffer.from('a'))), 'ARCHIVE_CORRUPT', { path: 'package/a' });
    const negative = tarHeader({ name: 'package/a', typeflag: '0' });
    negative.fill(0xff, 124, 136);
    setChecksum(negative);
    await refuses(rawTarGz(negative), 'ARCHIVE_CORRUPT');
  });

  it('ARCHIVE_CORRUPT for a name that node-tar would read on past its NUL', async () => {
    // node-tar reads this name as "package/package.json\nx"; we would read "package/package.json".
    const header = tarHeader({ name: 'package/package.json', typeflag: '0' });
    header.write('\0\nx', 'package/package.json'.length, 'latin1');
    setChecksum(header);
    await refuses(rawTarGz(header), 'ARCHIVE_CORRUPT', { path: 'package/package.json' });
    const long = Buffer.from('package/long-name\0\nx\0');
    await refuses(rawTarGz(tarHeader({ name: '././@LongLink', typeflag: 'L', size: long.length }), padded(long), tarHeader({ name: 'package/a', typeflag: '0' })), 'ARCHIVE_CORRUPT');
  });

  it('ARCHIVE_CORRUPT for a checksum field without a terminator (node-tar reads on into the typeflag)', async () => {
    const header = tarHeader({ name: 'package/a', typeflag: '0' });
    setChecksum(header);
    const sum = parseInt(header.toString('latin1', 148, 154), 8);
    header.write(sum.toString(8).padStart(8, '0'), 148, 8, 'latin1');
    await refuses(rawTarGz(header), 'ARCHIVE_CORRUPT', { path: 'package/a' });
  });

  it('ARCHIVE_CORRUPT for an extended header without a name (node-tar would skip it)', async () => {
    const data = Buffer.from('18 path=package/b\n');
    await refuses(rawTarGz(tarHeader({ name: '', typeflag: 'x', size: data.length }), padded(data), tarHeader({ name: 'package/a', typeflag: '0' })), 'ARCHIVE_CORRUPT');
  });

  it('ARCHIVE_CORRUPT for an entry with an empty name', async () => {
    await refuses(rawTarGz(tarHeader({ name: '', typeflag: '0' })), 'ARCHIVE_CORRUPT');
  });

  it('ARCHIVE_CORRUPT for malformed PAX records', async () => {
    const entry = tarHeader({ name: 'package/a', typeflag: '0' });
    const pax = (body: string): Buffer => {
      const data = Buffer.from(body);
      return Buffer.concat([tarHeader({ name: 'PaxHeader/a', typeflag: 'x', size: data.length }), padded(data)]);
    };
    const cases: Array<[body: string, reason: RegExp]> = [
      ['99 path=package/b\n', /malformed PAX record before/], // length past the end
      ['17 path=package/b', /malformed PAX record before/], // no newline
      ['x path=package/b\n', /malformed PAX record length/],
      ['18 path=package/b\nxyz', /malformed PAX record length/], // trailing garbage
      ['20 path=package/b\nc\n', /malformed PAX record before/], // newline inside a value: node-tar would split it
      ['14 =package/b\n', /malformed PAX record before/], // empty key
      ['8 path=\n', /empty path or linkpath/],
      ['12 size=abc\n', /invalid size/],
      ['11 size=-1\n', /invalid size/],
      ['18 path=pack\0ge/b\n', /contains a NUL byte/],
    ];
    for (const [body, reason] of cases) {
      await assert.rejects(inspectTarGz(rawTarGz(pax(body), entry)), (e: unknown) => {
        assert.ok(isAttestryError(e));
        assert.equal(e.code, 'ARCHIVE_CORRUPT', JSON.stringify(body));
        assert.match(e.message, reason, JSON.stringify(body));
        return true;
      });
    }
    // The same record, well-formed, is accepted.
    const ok = await inspectTarGz(rawTarGz(pax('18 path=package/b\n'), entry));
    assert.equal(ok.entries[0]?.path, 'package/b');
  });

  it('ARCHIVE_CORRUPT for an extended header that describes no entry', async () => {
    await refuses(rawTarGz(paxHeader({ path: 'package/a' })), 'ARCHIVE_CORRUPT');
    await refuses(gzipSync(paxHeader({ path: 'package/a' })), 'ARCHIVE_CORRUPT');
  });

  it('ARCHIVE_CORRUPT for an extended header over 1 MiB', async () => {
    const huge = tarHeader({ name: 'PaxHeader/a', typeflag: 'x', size: MiB + 1 });
    await refuses(gzipSync(Buffer.concat([huge, Buffer.alloc(MiB + 512)])), 'ARCHIVE_CORRUPT');
  });

  it('ARCHIVE_CORRUPT for an empty GNU long name and one that carries a link target', async () => {
    const empty = tarHeader({ name: '././@LongLink', typeflag: 'L', size: 1 });
    await refuses(rawTarGz(empty, padded(Buffer.alloc(1)), tarHeader({ name: 'package/a', typeflag: '0' })), 'ARCHIVE_CORRUPT');
    const withLink = tarHeader({ name: '././@LongLink', typeflag: 'L', size: 10, linkname: 'x' });
    await refuses(rawTarGz(withLink, padded(Buffer.from('package/b\0')), tarHeader({ name: 'package/a', typeflag: '0' })), 'ARCHIVE_CORRUPT');
  });

  it('ARCHIVE_CORRUPT for links without a target and non-links with one (node-tar would skip them)', async () => {
    await refuses(rawTarGz(tarHeader({ name: 'package/l', typeflag: '2' })), 'ARCHIVE_CORRUPT', { path: 'package/l' });
    await refuses(rawTarGz(tarHeader({ name: 'package/f', typeflag: '0', linkname: 'x' })), 'ARCHIVE_CORRUPT', { path: 'package/f' });
  });

  it('ARCHIVE_UNSUPPORTED_ENTRY for FIFOs, devices and unknown types', async () => {
    await refuses(makeTarGz([{ path: 'package/pipe', type: 'fifo' }]), 'ARCHIVE_UNSUPPORTED_ENTRY', { path: 'package/pipe', kind: 'invalid' });
    for (const typeflag of ['3', '4', '6', 'S', 'N', 'D', 'V', 'Z']) {
      await refuses(makeTarGz([{ path: 'package/dev', typeflag }]), 'ARCHIVE_UNSUPPORTED_ENTRY', { path: 'package/dev' });
    }
  });

  it('ARCHIVE_UNSUPPORTED_ENTRY for PAX headers that would change an entry type or every later entry', async () => {
    await refuses(makeTarGz([{ path: 'package/a', content: 'a', pax: { type: '2' } }]), 'ARCHIVE_UNSUPPORTED_ENTRY');
    for (const key of ['path', 'linkpath', 'size', 'type']) {
      await refuses(rawTarGz(paxHeader({ [key]: '1' }, 'g'), tarHeader({ name: 'package/a', typeflag: '0' })), 'ARCHIVE_UNSUPPORTED_ENTRY');
    }
  });
});

describe('inspectTarGz: paths', () => {
  it('accepts the bare package/ directory', async () => {
    const result = await entriesOf([{ path: 'package/', type: 'directory' }]);
    assert.deepEqual(result.entries.map((e) => [e.path, e.type]), [['package', 'directory']]);
  });

  it('ARCHIVE_ABSOLUTE_PATH for POSIX, Windows drive and backslash-rooted paths', async () => {
    for (const path of ['/etc/passwd', '/package/index.js', 'C:/package/x', 'c:package', '\\package\\x', '\\\\server\\share\\x', './/etc/passwd']) {
      await refuses(makeTarGz([{ path, content: 'x' }]), 'ARCHIVE_ABSOLUTE_PATH', { path: JSON.stringify(path).slice(1, -1) });
    }
  });

  it('ARCHIVE_PATH_TRAVERSAL for any .. segment, including Windows-style ones', async () => {
    for (const path of ['../package/x', 'package/../../etc/passwd', 'package/a/../../../x', 'package/a/../b', 'package/..\\..\\evil', 'package\\..\\..\\evil', 'package/..', 'package/.. /x', 'package/.../x']) {
      await refuses(makeTarGz([{ path, content: 'x' }]), 'ARCHIVE_PATH_TRAVERSAL', { path: JSON.stringify(path).slice(1, -1) });
    }
  });

  it('ARCHIVE_PATH_TRAVERSAL for a traversal hidden in a PAX or GNU long path', async () => {
    const long = `package/${'a/'.repeat(60)}${'../'.repeat(70)}etc/passwd`;
    await refuses(makeTarGz([{ path: long, content: 'x' }]), 'ARCHIVE_PATH_TRAVERSAL');
    await refuses(makeTarGz([{ path: long, content: 'x' }], { gnuLongName: true }), 'ARCHIVE_PATH_TRAVERSAL');
    await refuses(makeTarGz([{ path: 'package/ok', content: 'x', pax: { path: 'package/../../x' } }]), 'ARCHIVE_PATH_TRAVERSAL');
  });

  it('ARCHIVE_ENTRY_OUTSIDE_PACKAGE for entries not under package/', async () => {
    for (const path of ['index.js', 'other/index.js', 'packages/x', 'Package/x', 'package\\x', '././package/x', 'package.json']) {
      await refuses(makeTarGz([{ path, content: 'x' }]), 'ARCHIVE_ENTRY_OUTSIDE_PACKAGE', { path: JSON.stringify(path).slice(1, -1) });
    }
  });

  it('ARCHIVE_ENTRY_OUTSIDE_PACKAGE when package itself is not a directory', async () => {
    await refuses(makeTarGz([{ path: 'package', content: 'x' }]), 'ARCHIVE_ENTRY_OUTSIDE_PACKAGE');
    await refuses(makeTarGz([{ path: 'package', type: 'symlink', linkTarget: 'package/lib' }]), 'ARCHIVE_ENTRY_OUTSIDE_PACKAGE');
  });

  it('reads the ustar prefix as node-tar does: a set last byte joins even an empty prefix', async () => {
    const header = tarHeader({ name: 'package/x', typeflag: '0' });
    header[475] = 0x41; // node-tar now reads the path as "/package/x"
    setChecksum(header);
    await refuses(rawTarGz(header), 'ARCHIVE_ABSOLUTE_PATH', { path: '/package/x' });
  });

  it('truncates long paths in messages to 200 characters', async () => {
    const path = `outside/${'y'.repeat(500)}`;
    await assert.rejects(inspectTarGz(makeTarGz([{ path, content: 'x' }])), (e: unknown) => {
      assert.ok(isAttestryError(e));
      assert.equal(e.code, 'ARCHIVE_ENTRY_OUTSIDE_PACKAGE');
      assert.ok(e.message.includes(`${path.slice(0, 200)}…`));
      assert.ok(!e.message.includes(path.slice(0, 201)));
      assert.equal(e.detail?.path, path.slice(0, 200));
      return true;
    });
  });
});

describe('inspectTarGz: links', () => {
  const symlink = (path: string, linkTarget: string): TarEntrySpec => ({ path, type: 'symlink', linkTarget });
  const hardlink = (path: string, linkTarget: string): TarEntrySpec => ({ path, type: 'hardlink', linkTarget });

  it('ARCHIVE_LINK_ESCAPES for symlinks that resolve outside package/', async () => {
    for (const target of ['../../etc/passwd', '..', '../', '../other/x', 'lib/../../x', '..\\..\\etc\\passwd', `${'../'.repeat(40)}etc`, '.. /x', 'lib/.../x']) {
      await refuses(makeTarGz([symlink('package/evil', target)]), 'ARCHIVE_LINK_ESCAPES', { path: 'package/evil', kind: 'invalid' });
    }
  });

  it('ARCHIVE_LINK_ESCAPES for absolute symlink targets', async () => {
    for (const target of ['/etc/passwd', '/', 'C:\\Windows\\System32', '\\\\server\\share']) {
      await refuses(makeTarGz([symlink('package/evil', target)]), 'ARCHIVE_LINK_ESCAPES', { path: 'package/evil' });
    }
  });

  it("ARCHIVE_LINK_ESCAPES for a '..' after a directory name, which another symlink could redirect", async () => {
    // package/sub/up -> .. is fine alone, but then package/l -> sub/up/.. really means package/..
    await refuses(makeTarGz([symlink('package/l', 'sub/up/..'), symlink('package/sub/up', '..')]), 'ARCHIVE_LINK_ESCAPES', { path: 'package/l' });
  });

  it('ARCHIVE_LINK_ESCAPES for an entry written through an earlier symlink', async () => {
    await refuses(makeTarGz([symlink('package/sub/up', '..'), { path: 'package/sub/up/x', content: 'x' }]), 'ARCHIVE_LINK_ESCAPES', { path: 'package/sub/up/x' });
    // Case-insensitive filesystems treat Lib and lib as the same directory.
    await refuses(makeTarGz([symlink('package/Lib', 'dist'), { path: 'package/lib/x.js', content: 'x' }]), 'ARCHIVE_LINK_ESCAPES');
  });

  it('ARCHIVE_LINK_ESCAPES for a long symlink target that escapes (PAX and GNU)', async () => {
    const target = `${'../'.repeat(50)}etc/passwd`;
    await refuses(makeTarGz([symlink('package/evil', target)]), 'ARCHIVE_LINK_ESCAPES');
    await refuses(makeTarGz([symlink('package/evil', target)], { gnuLongName: true }), 'ARCHIVE_LINK_ESCAPES');
  });

  it('ARCHIVE_LINK_ESCAPES for hardlinks whose target is outside package/', async () => {
    for (const target of ['../etc/passwd', '/etc/passwd', 'other/file', 'package/../../etc/passwd', 'package\\..\\..\\x', 'C:/x']) {
      await refuses(makeTarGz([hardlink('package/h', target)]), 'ARCHIVE_LINK_ESCAPES', { path: 'package/h' });
    }
  });

  it('ARCHIVE_LINK_ESCAPES for a hardlink to a symlink, which would move the symlink', async () => {
    await refuses(makeTarGz([symlink('package/a/b/s', '../..'), hardlink('package/h', 'package/a/b/s')]), 'ARCHIVE_LINK_ESCAPES', { path: 'package/h' });
    await refuses(makeTarGz([symlink('package/d', 'lib'), hardlink('package/h', 'package/d/file')]), 'ARCHIVE_LINK_ESCAPES');
  });
});
