// Deterministic benchmark corpus: package names, version histories, realistic package.json
// content, and real .tgz files, all derived from a seed with a small PRNG so every run (and
// every machine) publishes byte-identical data. Tarballs are cached under bench/.work.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tgz } from './tar.ts';

// ---------------------------------------------------------------------------------------------
// PRNG

/** mulberry32: tiny, fast, good enough for test data; the same seed gives the same stream. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of a string: derives an independent PRNG seed for one package or version. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

type Rand = () => number;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

// ---------------------------------------------------------------------------------------------
// Words

const ADJ = ['fast', 'tiny', 'smart', 'lazy', 'pure', 'safe', 'deep', 'async', 'simple', 'micro', 'super', 'plain',
  'quick', 'strict', 'fluent', 'robust', 'modern', 'native', 'solid', 'light', 'hyper', 'mini', 'mega', 'open'] as const;
const NOUN = ['parser', 'router', 'logger', 'cache', 'queue', 'stream', 'buffer', 'config', 'schema', 'glob', 'lexer',
  'format', 'color', 'date', 'path', 'merge', 'clone', 'diff', 'hash', 'token', 'event', 'signal', 'pool', 'retry',
  'limit', 'store', 'table', 'graph', 'tree', 'list', 'map', 'set', 'proxy', 'fetch', 'client', 'server', 'socket',
  'worker', 'task', 'job', 'timer', 'watch', 'build', 'bundle', 'lint', 'test', 'mock', 'spy', 'assert', 'trace'] as const;
const EXTRA = ['utils', 'core', 'js', 'kit', 'lite', 'plus', 'x', 'ng', 'io', 'lib', 'tools', 'helpers'] as const;
// Attestry ties a scope to the account (or org) of that name: the bench publishes as user "bench".
const SCOPES = ['bench'] as const;
const LICENSES = ['MIT', 'MIT', 'MIT', 'ISC', 'Apache-2.0', 'BSD-3-Clause'] as const;
const FIRST = ['Ada', 'Linus', 'Grace', 'Ken', 'Barbara', 'Dennis', 'Margaret', 'Guido', 'Anders', 'Brendan', 'Radia', 'Frances'] as const;
const LAST = ['Lovelace', 'Torvalds', 'Hopper', 'Thompson', 'Liskov', 'Ritchie', 'Hamilton', 'Rossum', 'Hejlsberg', 'Eich', 'Perlman', 'Allen'] as const;
const WORDS = ['the', 'a', 'fast', 'small', 'library', 'for', 'parsing', 'and', 'validating', 'data', 'with', 'zero',
  'dependencies', 'streams', 'objects', 'in', 'node', 'browsers', 'typed', 'api', 'helpers', 'that', 'make', 'it', 'easy',
  'to', 'work', 'config', 'files', 'caching', 'results', 'retrying', 'requests', 'safely', 'plugins', 'events'] as const;

function sentence(r: Rand, lo: number, hi: number): string {
  const n = int(r, lo, hi);
  const ws: string[] = [];
  for (let i = 0; i < n; i++) ws.push(pick(r, WORDS));
  const s = ws.join(' ');
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}.`;
}

function hex(r: Rand, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(r() * 16).toString(16);
  return s;
}

function readmeText(r: Rand, name: string, targetBytes: number): string {
  let s = `# ${name}\n\n${sentence(r, 8, 16)}\n\n## Install\n\n\`\`\`sh\nnpm install ${name}\n\`\`\`\n\n## Usage\n\n`;
  while (s.length < targetBytes) {
    s += `### ${pick(r, NOUN)}${pick(r, ['()', 'Sync()', 'Async()', ''])}\n\n${sentence(r, 12, 40)} ${sentence(r, 6, 20)}\n\n`;
    if (r() < 0.4) s += `\`\`\`js\nconst ${pick(r, NOUN)} = require('${name}');\n${pick(r, NOUN)}.${pick(r, NOUN)}({ ${pick(r, NOUN)}: ${int(r, 1, 999)} });\n\`\`\`\n\n`;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Corpus model

export interface CorpusVersion {
  version: string;
  /** package.json as published (the server adds _id, dist, _npmUser, ...). */
  manifest: Record<string, unknown>;
  /** Raw random bytes embedded (base64) in index.js: makes the tarball incompressible-ish. */
  payloadBytes: number;
}

export interface CorpusPackage {
  index: number;
  name: string;
  versions: CorpusVersion[];
  /** Rough size of the served full document, for picking the measured packages. */
  estimatedDocBytes: number;
}

export interface CorpusRoles {
  /** A package whose full document is close to 66 KB. */
  midDocument: string;
  /** The package with the largest document (~1.2 MB). */
  largestDocument: string;
  /** A version whose tarball is ~31 KB. */
  tarball: { name: string; version: string };
}

export interface Corpus {
  seed: number;
  packages: CorpusPackage[];
  roles: CorpusRoles;
  totalVersions: number;
  /** Direct dependencies of the generated project for the cold `npm install` measurement. */
  installDeps: Record<string, string>;
}

export interface CorpusOptions {
  seed: number;
  packages: number;
  /** Version counts of the few very long histories (the first one is the largest document). */
  giants: number[];
  installDeps: number;
}

export const FULL_CORPUS: CorpusOptions = { seed: 20261123, packages: 1000, giants: [1000, 780, 610, 450, 320], installDeps: 100 };
export const QUICK_CORPUS: CorpusOptions = { seed: 20261123, packages: 60, giants: [300, 120], installDeps: 20 };

/** Bytes the server adds to each version object (dist, _id, _npmUser): calibrated against Attestry. */
const SERVER_BYTES_PER_VERSION = 330;
const MID_DOC_TARGET = 66 * 1024;
const TARBALL_TARGET_RAW = 26_800;

function nextVersion(r: Rand, prev: [number, number, number]): [number, number, number] {
  const x = r();
  if (x < 0.03) return [prev[0] + 1, 0, 0];
  if (x < 0.23) return [prev[0], prev[1] + 1, 0];
  return [prev[0], prev[1], prev[2] + 1];
}

function uniqueName(r: Rand, taken: Set<string>, i: number): string {
  for (let attempt = 0; ; attempt++) {
    let base = `${pick(r, ADJ)}-${pick(r, NOUN)}`;
    if (r() < 0.5 || attempt > 3) base += `-${pick(r, EXTRA)}`;
    if (attempt > 8) base += `-${i}`;
    const name = r() < 0.1 ? `@${pick(r, SCOPES)}/${base}` : base;
    if (!taken.has(name)) {
      taken.add(name);
      return name;
    }
  }
}

function versionCount(r: Rand): number {
  const x = r();
  if (x < 0.8) return int(r, 1, 8);
  if (x < 0.96) return int(r, 9, 20);
  return int(r, 21, 60);
}

/** Which earlier packages a package depends on: leaves (first 20 %) have none. */
function dependencyIndices(r: Rand, i: number, n: number): number[] {
  const leaves = Math.max(1, Math.floor(n * 0.2));
  const middle = Math.max(leaves + 1, Math.floor(n * 0.6));
  let pool: number;
  let count: number;
  if (i < leaves) return [];
  if (i < middle) {
    pool = leaves;
    count = int(r, 0, 2);
  } else {
    pool = middle;
    count = int(r, 0, 4);
  }
  const out = new Set<number>();
  for (let k = 0; k < count; k++) out.add(Math.floor(r() * pool));
  return [...out];
}

export function generateCorpus(opts: CorpusOptions): Corpus {
  const r = prng(opts.seed);
  const n = opts.packages;
  const taken = new Set<string>();
  const names: string[] = [];
  for (let i = 0; i < n; i++) names.push(uniqueName(r, taken, i));

  // Fixed positions for the special packages (spread over the tiers, all unscoped for simple URLs).
  const giantAt = opts.giants.map((_, k) => Math.floor((k * n) / opts.giants.length) + Math.floor(n / 40));
  const midAt = Math.floor(n * 0.33) + 1;
  const tarballAt = Math.floor(n * 0.44) + 1;
  for (const i of [...giantAt, midAt, tarballAt]) {
    if ((names[i] as string).startsWith('@')) names[i] = (names[i] as string).split('/')[1] + `-${i}`;
  }

  // Version lists first (dependencies need to know which versions exist).
  const counts = names.map((_, i) => {
    const g = giantAt.indexOf(i);
    if (g >= 0) return opts.giants[g] as number;
    if (i === tarballAt) return 3;
    if (i === midAt) return 0; // filled up to the target size below
    return versionCount(r);
  });
  const versionLists = counts.map((c) => {
    const total = c === 0 ? 400 : c; // the mid-size package is cut to its target size below
    let v: [number, number, number] = r() < 0.3 ? [0, 1, 0] : [1, 0, 0];
    const list = [v.join('.')];
    while (list.length < total) {
      v = nextVersion(r, v);
      list.push(v.join('.'));
    }
    return list;
  });

  const packages: CorpusPackage[] = [];
  for (let i = 0; i < n; i++) {
    const name = names[i] as string;
    const pr = prng(hash32(`${opts.seed}:${name}`));
    const deps: Record<string, string> = {};
    for (const d of dependencyIndices(pr, i, n)) {
      const list = versionLists[d] as string[];
      deps[names[d] as string] = `^${pick(pr, list)}`;
    }
    const devDeps: Record<string, string> = {};
    for (let k = 0; k < int(pr, 1, 4); k++) {
      const d = Math.floor(pr() * n);
      if (d !== i) devDeps[names[d] as string] = `^${(versionLists[d] as string[])[0]}`;
    }
    const owner = pick(pr, ['acme', 'octo', 'devs', 'oss', 'team']);
    const bare = name.startsWith('@') ? (name.split('/')[1] as string) : name;
    const repo = `https://git.example.com/${owner}/${bare}`;
    const author = `${pick(pr, FIRST)} ${pick(pr, LAST)}`;
    const keywords = Array.from({ length: int(pr, 2, 6) }, () => pick(pr, NOUN));
    const license = pick(pr, LICENSES);
    const heavy = i === tarballAt || pr() < 0.03;
    const basePayload = heavy ? int(pr, 20_000, 40_000) : 0;
    const description = sentence(pr, 6, 18);
    const readmeSize = int(pr, 2_000, 6_000);

    const list = versionLists[i] as string[];
    const versions: CorpusVersion[] = [];
    let estimate = 0;
    for (let k = 0; k < list.length; k++) {
      const version = list[k] as string;
      const isRecent = k >= list.length - 3;
      const manifest: Record<string, unknown> = {
        name,
        version,
        description,
        main: 'index.js',
        types: 'index.d.ts',
        files: ['index.js', 'README.md'],
        scripts: { test: 'node --test', lint: 'eslint .', build: 'tsc -p tsconfig.build.json' },
        repository: { type: 'git', url: `git+${repo}.git` },
        keywords,
        author: { name: author, email: `${author.split(' ')[0]?.toLowerCase()}@example.com` },
        license,
        bugs: { url: `${repo}/issues` },
        homepage: `${repo}#readme`,
        engines: { node: pick(pr, ['>=18', '>=18', '>=20', '>=16']) },
        dependencies: deps,
        devDependencies: devDeps,
        gitHead: hex(pr, 40),
        _nodeVersion: '24.15.0',
        _npmVersion: '11.6.2',
      };
      if (isRecent) manifest.readme = readmeText(pr, name, readmeSize);
      const payloadBytes = i === tarballAt ? TARBALL_TARGET_RAW : basePayload;
      versions.push({ version, manifest, payloadBytes });
      const { readme: _readme, ...rest } = manifest;
      estimate += JSON.stringify(rest).length + SERVER_BYTES_PER_VERSION + 60;
      if (i === midAt && estimate + readmeSize >= MID_DOC_TARGET) {
        // Dependencies only point at lower indices, so later packages see the cut list.
        versionLists[i] = list.slice(0, k + 1);
        break;
      }
    }
    if (i === midAt) {
      // The last three carry the readme, as with every package.
      for (const v of versions.slice(-3)) v.manifest.readme ??= readmeText(prng(hash32(v.version)), name, readmeSize);
      for (const v of versions.slice(0, -3)) delete v.manifest.readme;
    }
    packages.push({ index: i, name, versions, estimatedDocBytes: estimate + readmeSize });
  }

  const installDeps: Record<string, string> = {};
  const ir = prng(opts.seed ^ 0x5eed);
  const candidates = packages.filter((p) => p.index >= Math.floor(n * 0.2) && !giantAt.includes(p.index));
  while (Object.keys(installDeps).length < Math.min(opts.installDeps, candidates.length)) {
    const p = pick(ir, candidates);
    installDeps[p.name] = `^${(p.versions[p.versions.length - 1] as CorpusVersion).version}`;
  }

  const tarballPkg = packages[tarballAt] as CorpusPackage;
  return {
    seed: opts.seed,
    packages,
    roles: {
      midDocument: (packages[midAt] as CorpusPackage).name,
      largestDocument: (packages[giantAt[0] as number] as CorpusPackage).name,
      tarball: { name: tarballPkg.name, version: (tarballPkg.versions[tarballPkg.versions.length - 1] as CorpusVersion).version },
    },
    totalVersions: packages.reduce((s, p) => s + p.versions.length, 0),
    installDeps,
  };
}

// ---------------------------------------------------------------------------------------------
// Tarballs

export function bareName(name: string): string {
  return name.startsWith('@') ? (name.split('/')[1] as string) : name;
}

export function tarballFilename(name: string, version: string): string {
  return `${bareName(name)}-${version}.tgz`;
}

function indexJs(r: Rand, name: string, version: string, payloadBytes: number): string {
  let s = `'use strict';\n// ${name}@${version}\n\n`;
  const fns = int(r, 3, 40);
  for (let k = 0; k < fns; k++) {
    const fn = `${pick(r, NOUN)}${pick(r, ['', 'Sync', 'Async', 'Of', 'To'])}${k}`;
    s += `function ${fn}(${pick(r, NOUN)}, options = {}) {\n  const ${pick(r, NOUN)} = options.${pick(r, NOUN)} ?? ${int(r, 0, 9999)};\n`;
    s += `  if (!${pick(r, NOUN)}) throw new TypeError('${sentence(r, 3, 8)}');\n  return { ${pick(r, NOUN)}: ${int(r, 0, 99)}, ${pick(r, NOUN)} };\n}\nexports.${fn} = ${fn};\n\n`;
  }
  if (payloadBytes > 0) {
    const raw = Buffer.alloc(payloadBytes);
    for (let k = 0; k < payloadBytes; k += 4) raw.writeUInt32LE(Math.floor(r() * 4294967296), Math.min(k, payloadBytes - 4));
    s += `exports.table = Buffer.from(\n  '${raw.toString('base64').replace(/.{76}/g, "$&' +\n  '")}',\n  'base64');\n`;
  }
  return s;
}

/** Builds the version's .tgz (package/package.json, package/index.js, package/README.md). */
export function buildTarball(seed: number, pkg: CorpusPackage, v: CorpusVersion): Buffer {
  const r = prng(hash32(`${seed}:${pkg.name}@${v.version}:tgz`));
  const { readme, ...pj } = v.manifest;
  const readmeMd = typeof readme === 'string' ? readme : readmeText(r, pkg.name, int(r, 800, 3000));
  return tgz([
    { path: 'package/package.json', data: `${JSON.stringify(pj, null, 2)}\n` },
    { path: 'package/index.js', data: indexJs(r, pkg.name, v.version, v.payloadBytes) },
    { path: 'package/README.md', data: readmeMd },
  ]);
}

/** The tarball from the on-disk cache, building (and caching) it on a miss. */
export function cachedTarball(cacheDir: string, seed: number, pkg: CorpusPackage, v: CorpusVersion): Buffer {
  const file = path.join(cacheDir, `${pkg.name.replace('/', '__')}-${v.version}.tgz`);
  if (existsSync(file)) return readFileSync(file);
  const data = buildTarball(seed, pkg, v);
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
  return data;
}

// ---------------------------------------------------------------------------------------------
// Publish bodies (npm wire format, as `npm publish` sends them)

export function integrityOf(data: Buffer): { integrity: string; shasum: string } {
  return {
    integrity: `sha512-${createHash('sha512').update(data).digest('base64')}`,
    shasum: createHash('sha1').update(data).digest('hex'),
  };
}

/** URL path of a package document: scoped names keep `@` and escape the slash. */
export function docPath(name: string): string {
  return `/${name.replace('/', '%2f')}`;
}

export function publishBody(registryUrl: string, name: string, version: string, manifest: Record<string, unknown>, tarball: Buffer, tag = 'latest'): string {
  const { integrity, shasum } = integrityOf(tarball);
  const filename = `${name}-${version}.tgz`;
  const body = {
    _id: name,
    name,
    description: manifest.description,
    'dist-tags': { [tag]: version },
    versions: {
      [version]: {
        ...manifest,
        _id: `${name}@${version}`,
        dist: { integrity, shasum, tarball: `${registryUrl}/${name}/-/${filename}` },
      },
    },
    access: null,
    _attachments: {
      [filename]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length },
    },
  };
  return JSON.stringify(body);
}
