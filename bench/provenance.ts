// `npm run bench:provenance`: what verifying a Sigstore provenance bundle adds to a publish.
// One Attestry server (pinned to core 0, as `npm run bench` starts it) trusts the local Sigstore
// services' root besides public-good; this process (core 1) publishes, one request at a time,
// versions without provenance (A) and versions with a bundle minted for each (B), interleaved
// ABBA so the machine's drift hits both alike. Minted bundles are cheaper to verify than real
// ones, so the same server then answers identical re-publishes of sigstore@2.1.0 with and without
// its real public-good bundle (a re-publish is verified, then answered 200 without a write).
// Last, in this process with the server stopped, verifyNpmProvenance on the real bundle and on a
// minted one. Bundles and bodies are made before any clock starts. Results:
// bench/.work/provenance-results.json (and a copy per run under bench/.work/runs/).
import { createHash } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { docPath } from './corpus.ts';
import { cpuSecondsOf, processTree, watchCores } from './cpu.ts';
import { closeAgent, request } from './http.ts';
import { installCleanup, run, stop, stopAll, which } from './procs.ts';
import { CLIENT_CORE, SERVER_CORE, startAttestry } from './servers.ts';
import type { Server } from './servers.ts';
import { packageTarball, publishBody } from '../test/support/publish-body.ts';
import { startSigstoreServices } from '../test/support/sigstore-services.ts';
import type { SigstoreServices } from '../test/support/sigstore-services.ts';
import { verifyNpmProvenance } from '../src/security/provenance/npm-provenance.ts';
import type { NpmProvenanceExpectation } from '../src/security/provenance/npm-provenance.ts';
import { buildTrustRoots, publicGoodTrustedRoot } from '../src/security/provenance/trust-roots.ts';
import type { TrustRoots } from '../src/security/provenance/trust-roots.ts';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH_DIR);
const WORK = path.join(BENCH_DIR, '.work');
const SCRATCH = path.join(WORK, 'provenance');
const NPM_FIXTURES = path.resolve(ROOT, '..', 'shared', 'fixtures', 'sigstore', 'npm');
/** The issue's budget for what verification may add to a publish's median latency. */
const BUDGET_MS = 15;
/** Versions per package, as the publish-throughput test does (keeps every document small). */
const VERSIONS_PER_PACKAGE = 10;
const VERIFY_WARMUP = 20;
const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

const USAGE = `Usage: npm run bench:provenance -- [options]

  --count <n>          measured publishes per variant, with and without provenance (default 200)
  --warmup <n>         unmeasured publishes per variant first (default 20)
  --verify-count <n>   measured in-process verifications per bundle (default 100, after 20 unmeasured)
  --cpu-prof           run Attestry with --cpu-prof (profile in bench/.work/profiles)
`;

interface Options {
  count: number;
  warmup: number;
  verifyCount: number;
  cpuProf: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string' },
      warmup: { type: 'string' },
      'verify-count': { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const int = (v: string | undefined, dflt: number, name: string, min: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > 100_000) throw new Error(`--${name}: expected an integer from ${min} to 100000, got ${v}`);
    return n;
  };
  return { count: int(values.count, 200, 'count', 1), warmup: int(values.warmup, 20, 'warmup', 0), verifyCount: int(values['verify-count'], 100, 'verify-count', 1), cpuProf: values['cpu-prof'] };
}

const log = (m: string) => process.stdout.write(`${m}\n`);
const sha512hex = (b: Buffer) => createHash('sha512').update(b).digest('hex');

// ---------------------------------------------------------------------------------------------
// Statistics

interface Summary {
  n: number;
  medianMs: number;
  p90Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
}

/** Linear interpolation between order statistics (the median of an even count is the midpoint). */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (at - lo);
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;
const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

function summarize(xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  return {
    n: s.length,
    medianMs: r3(quantile(s, 0.5)),
    p90Ms: r3(quantile(s, 0.9)),
    meanMs: r3(meanOf(s)),
    minMs: r3(s[0] ?? NaN),
    maxMs: r3(s.at(-1) ?? NaN),
  };
}

// ---------------------------------------------------------------------------------------------
// Publishing

interface Item {
  variant: 'plain' | 'provenance';
  name: string;
  version: string;
  body: string;
  tarballBytes: number;
}

/**
 * A ~3 KB tarball like the publish-throughput test's, the same for A and B but for the name
 * (equal length) and the version; filler text varies per version so gzip does not fold it away.
 */
function tarballFor(name: string, version: string, k: number): Buffer {
  let seed = 0x9e3779b9 ^ k;
  const words: string[] = [];
  for (let i = 0; i < 700; i++) {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    words.push(seed.toString(36).slice(0, 2 + (seed % 5)));
  }
  return packageTarball(name, version, { 'README.md': `# ${name}\n\n${words.join(' ')}\n` }, { description: `bench package ${name}`, license: 'MIT' });
}

/** Bodies for A and B, k-th of each built alike; B's carry a bundle minted for their tarball, the way npm attaches it. */
async function buildItems(services: SigstoreServices, total: number): Promise<{ plain: Item[]; provenance: Item[] }> {
  const plain: Item[] = [];
  const provenance: Item[] = [];
  for (let k = 0; k < total; k++) {
    const group = String(Math.floor(k / VERSIONS_PER_PACKAGE)).padStart(3, '0');
    const version = `1.0.${k % VERSIONS_PER_PACKAGE}`;
    for (const variant of ['plain', 'provenance'] as const) {
      const name = `bench-prov-${variant === 'plain' ? 'a' : 'b'}-${group}`;
      const tarball = tarballFor(name, version, k);
      const body = publishBody({ name, version, tarball });
      if (variant === 'provenance') {
        const bundle = await services.provenanceBundle({ name, version, tarball });
        body._attachments[`${name}-${version}.sigstore`] = { content_type: BUNDLE_MEDIA_TYPE, data: bundle, length: bundle.length };
      }
      (variant === 'plain' ? plain : provenance).push({ variant, name, version, body: JSON.stringify(body), tarballBytes: tarball.length });
    }
  }
  return { plain, provenance };
}

interface Sample {
  status: number;
  ms: number;
  /** Server CPU while this request ran, from /proc (tick-sampled: meaningful only as a mean over many). */
  serverCpuMs: number;
}

async function publishOne(s: Server, it: Item): Promise<Sample> {
  const headers = { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${s.token}`, 'npm-command': 'publish' };
  const cpu0 = cpuSecondsOf(s.proc.pid);
  const t0 = performance.now();
  const r = await request('PUT', `${s.url}${docPath(it.name)}`, { headers, body: it.body, timeoutMs: 60_000 });
  const ms = performance.now() - t0;
  const cpu1 = cpuSecondsOf(s.proc.pid);
  // A refused publish would be cheap and would make B look free: stop instead of measuring it.
  if (r.status < 200 || r.status >= 300) throw new Error(`${it.variant} publish ${it.name}@${it.version}: HTTP ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
  return { status: r.status, ms, serverCpuMs: (cpu1 - cpu0) * 1000 };
}

/** Pair k publishes A_k then B_k for even k, B_k then A_k for odd k; every answer must have `status`. */
async function interleaved(s: Server, plain: Item[], prov: Item[], status: number): Promise<{ plain: Sample[]; provenance: Sample[] }> {
  const out = { plain: [] as Sample[], provenance: [] as Sample[] };
  for (let k = 0; k < plain.length; k++) {
    const pair = k % 2 === 0 ? [plain[k], prov[k]] : [prov[k], plain[k]];
    for (const it of pair as Item[]) {
      const sample = await publishOne(s, it);
      // 201 is a new version, 200 an identical retry: either answered for the other would measure another path.
      if (sample.status !== status) throw new Error(`${it.variant} publish ${it.name}@${it.version}: HTTP ${sample.status}, expected ${status}`);
      out[it.variant].push(sample);
    }
  }
  return out;
}

/** sigstore@2.1.0 with its own tarball, with and without the real bundle that names it. */
function realItems(): { plain: Item; provenance: Item } {
  const name = 'sigstore';
  const version = '2.1.0';
  const tarball = readFileSync(path.join(NPM_FIXTURES, 'sigstore-2.1.0.tgz'));
  const bundle = readFileSync(path.join(NPM_FIXTURES, 'sigstore-2.1.0.provenance.v0.3.sigstore.json'), 'utf8');
  const plain = publishBody({ name, version, tarball });
  const withBundle = publishBody({ name, version, tarball });
  withBundle._attachments[`${name}-${version}.sigstore`] = { content_type: BUNDLE_MEDIA_TYPE, data: bundle, length: bundle.length };
  return {
    plain: { variant: 'plain', name, version, body: JSON.stringify(plain), tarballBytes: tarball.length },
    provenance: { variant: 'provenance', name, version, body: JSON.stringify(withBundle), tarballBytes: tarball.length },
  };
}

/** Every B version must be served with its attestation and no A version with one: proof the bundles were verified and kept. */
async function checkServed(s: Server, items: Item[]): Promise<void> {
  const names = [...new Set(items.map((i) => i.name))];
  for (const name of names) {
    const r = await request('GET', `${s.url}${docPath(name)}`, { headers: { accept: 'application/json', 'cache-control': 'no-cache' } });
    if (r.status !== 200) throw new Error(`GET ${name}: HTTP ${r.status}`);
    const doc = JSON.parse(r.body.toString('utf8')) as { versions?: Record<string, { dist?: { attestations?: unknown } }> };
    for (const it of items.filter((i) => i.name === name)) {
      const has = doc.versions?.[it.version]?.dist?.attestations !== undefined;
      if (!doc.versions?.[it.version]) throw new Error(`${name}@${it.version} was acknowledged but is not served`);
      if (has !== (it.variant === 'provenance')) throw new Error(`${name}@${it.version}: dist.attestations ${has ? 'present' : 'missing'}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// In-process verification

interface VerifyCase {
  id: string;
  label: string;
  bundle: string;
  roots: TrustRoots;
  expect: NpmProvenanceExpectation;
}

function verifyCases(services: SigstoreServices, minted: Item): VerifyCase[] {
  const publicGood = { name: 'public-good', json: publicGoodTrustedRoot() };
  const local = { name: 'local-sigstore', json: services.trustedRoot };
  // The server's order: public-good first, then the operator's roots; a minted bundle is tried
  // against public-good first and refused there before its own root accepts it.
  const asServer = buildTrustRoots([publicGood, local]);
  const localOnly = buildTrustRoots([local]);
  const tgz = readFileSync(path.join(NPM_FIXTURES, 'sigstore-2.1.0.tgz'));
  const mintedBody = JSON.parse(minted.body) as { _attachments: Record<string, { data: string }> };
  const mintedBundle = mintedBody._attachments[`${minted.name}-${minted.version}.sigstore`]?.data;
  const mintedTgz = Buffer.from(mintedBody._attachments[`${minted.name}-${minted.version}.tgz`]?.data ?? '', 'base64');
  if (mintedBundle === undefined) throw new Error('the minted body carries no bundle');
  const any = () => true;
  return [
    {
      id: 'public-good',
      label: 'real public-good bundle (sigstore@2.1.0, v0.3)',
      bundle: readFileSync(path.join(NPM_FIXTURES, 'sigstore-2.1.0.provenance.v0.3.sigstore.json'), 'utf8'),
      roots: asServer,
      expect: { name: 'sigstore', version: '2.1.0', sha512hex: sha512hex(tgz), issuerSupported: any },
    },
    {
      id: 'minted',
      label: 'minted bundle, roots as the server has them',
      bundle: mintedBundle,
      roots: asServer,
      expect: { name: minted.name, version: minted.version, sha512hex: sha512hex(mintedTgz), issuerSupported: any },
    },
    {
      id: 'minted-own-root',
      label: 'minted bundle, its own root only',
      bundle: mintedBundle,
      roots: localOnly,
      expect: { name: minted.name, version: minted.version, sha512hex: sha512hex(mintedTgz), issuerSupported: any },
    },
  ];
}

function timeVerify(c: VerifyCase): number {
  const t0 = performance.now();
  const v = verifyNpmProvenance(c.bundle, c.roots, c.expect);
  const ms = performance.now() - t0;
  if (v.subjectName === '') throw new Error(`${c.id}: verified without a subject`);
  return ms;
}

interface InProcessResult {
  id: string;
  label: string;
  firstCallMs: number;
  summary: Summary;
}

/** Cases interleaved run by run; the first call of each is reported apart (cold caches, lazy parsing). */
function measureVerify(cases: VerifyCase[], warmup: number, count: number): InProcessResult[] {
  const first = cases.map((c) => timeVerify(c));
  const samples = cases.map(() => [] as number[]);
  for (let i = 0; i < warmup + count; i++) {
    const order = i % 2 === 0 ? cases.map((_, j) => j) : cases.map((_, j) => cases.length - 1 - j);
    for (const j of order) {
      const ms = timeVerify(cases[j] as VerifyCase);
      if (i >= warmup) samples[j]?.push(ms);
    }
  }
  return cases.map((c, j) => ({ id: c.id, label: c.label, firstCallMs: r3(first[j] as number), summary: summarize(samples[j] as number[]) }));
}

// ---------------------------------------------------------------------------------------------
// Report

const ms = (x: number) => `${x.toFixed(2)} ms`;
const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)} ms`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}

function gitCommit(): string | null {
  try {
    return run('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).trim();
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < 24) throw new Error(`run with the project's Node 24 (npm run bench:provenance), not Node ${process.versions.node}`);
  if (!which('taskset')) throw new Error('taskset (util-linux) is needed to pin the server and the client to their cores');
  installCleanup();
  run('taskset', ['-a', '-p', '-c', CLIENT_CORE, String(process.pid)]);
  mkdirSync(SCRATCH, { recursive: true });
  const startedAt = new Date();
  const loadAtStart = loadavg();
  const t0 = Date.now();

  log('minting bundles with the local Sigstore services ...');
  const services = await startSigstoreServices();
  let server: Server | undefined;
  try {
    const tm = performance.now();
    const items = await buildItems(services, o.warmup + o.count);
    const mintSec = (performance.now() - tm) / 1000;
    const bundleLengths = items.provenance.map((i) => (JSON.parse(i.body) as { _attachments: Record<string, { length: number }> })._attachments[`${i.name}-${i.version}.sigstore`]?.length ?? 0);
    const bundleBytes = { mean: Math.round(meanOf(bundleLengths)), min: Math.min(...bundleLengths), max: Math.max(...bundleLengths) };
    log(`  ${items.provenance.length} bundles and ${2 * items.plain.length} bodies in ${mintSec.toFixed(1)} s`);

    const configFile = path.join(SCRATCH, 'config.json');
    writeFileSync(configFile, `${JSON.stringify({ provenance: { trustedRoots: [services.writeTrustedRoot(SCRATCH)] } })}\n`);
    server = await startAttestry({
      root: ROOT, nodeBin: process.execPath, dataDir: path.join(SCRATCH, 'attestry-data'), logFile: path.join(WORK, 'logs', 'attestry-provenance.log'),
      env: { ATTESTRY_CONFIG: configFile },
      extraNodeArgs: o.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(WORK, 'profiles')}`] : [],
    });
    const s = server;
    log(`attestry at ${s.url} (pid ${s.proc.pid}, core ${SERVER_CORE}); publishing ${o.warmup} + ${o.count} of each, interleaved ...`);

    await interleaved(s, items.plain.slice(0, o.warmup), items.provenance.slice(0, o.warmup), 201);
    const serverPids = () => processTree(s.proc.pid);
    const ours = () => {
      const srv = new Set(serverPids());
      return processTree(process.pid).filter((p) => !srv.has(p));
    };
    const watch = watchCores({ [Number(SERVER_CORE)]: serverPids, [Number(CLIENT_CORE)]: ours });
    const tp = performance.now();
    const measured = await interleaved(s, items.plain.slice(o.warmup), items.provenance.slice(o.warmup), 201);
    const publishSec = (performance.now() - tp) / 1000;
    const cores = watch.stop();
    await checkServed(s, [...items.plain, ...items.provenance]);

    log(`re-publishing sigstore@2.1.0 with and without its real bundle, ${o.warmup} + ${o.count} of each, interleaved ...`);
    const real = realItems();
    const first = await publishOne(s, real.provenance);
    if (first.status !== 201) throw new Error(`the first publish of sigstore@2.1.0 with its real bundle was answered ${first.status}`);
    const times = (it: Item, n: number) => Array.from({ length: n }, () => it);
    await interleaved(s, times(real.plain, o.warmup), times(real.provenance, o.warmup), 200);
    const retryWatch = watchCores({ [Number(SERVER_CORE)]: serverPids, [Number(CLIENT_CORE)]: ours });
    const retried = await interleaved(s, times(real.plain, o.count), times(real.provenance, o.count), 200);
    const retryCores = retryWatch.stop();
    await stop(s.proc);
    server = undefined;

    const plain = summarize(measured.plain.map((x) => x.ms));
    const prov = summarize(measured.provenance.map((x) => x.ms));
    // Pair k's two publishes ran back to back, so their difference is the least drift-exposed figure.
    const paired = summarize(measured.provenance.map((x, k) => x.ms - (measured.plain[k] as Sample).ms));
    const cpuMean = (xs: Sample[]) => r3(meanOf(xs.map((x) => x.serverCpuMs)));
    const publish = {
      plain, provenance: prov,
      medianDifferenceMs: r3(prov.medianMs - plain.medianMs),
      p90DifferenceMs: r3(prov.p90Ms - plain.p90Ms),
      pairedDifference: paired,
      serverCpuMsPerPublish: { plain: cpuMean(measured.plain), provenance: cpuMean(measured.provenance) },
      budgetMs: BUDGET_MS,
      met: prov.medianMs - plain.medianMs <= BUDGET_MS,
      seconds: r3(publishSec),
      tarballBytesMean: { plain: Math.round(meanOf(items.plain.map((i) => i.tarballBytes))), provenance: Math.round(meanOf(items.provenance.map((i) => i.tarballBytes))) },
      bundleBytes,
      disturbance: { serverCore: r3(cores.others[Number(SERVER_CORE)] ?? 0), clientCore: r3(cores.others[Number(CLIENT_CORE)] ?? 0) },
    };
    const rPlain = summarize(retried.plain.map((x) => x.ms));
    const rProv = summarize(retried.provenance.map((x) => x.ms));
    const republish = {
      package: 'sigstore@2.1.0', tarballBytes: real.plain.tarballBytes,
      plain: rPlain, provenance: rProv,
      medianDifferenceMs: r3(rProv.medianMs - rPlain.medianMs),
      p90DifferenceMs: r3(rProv.p90Ms - rPlain.p90Ms),
      pairedDifference: summarize(retried.provenance.map((x, k) => x.ms - (retried.plain[k] as Sample).ms)),
      serverCpuMsPerPublish: { plain: cpuMean(retried.plain), provenance: cpuMean(retried.provenance) },
      disturbance: { serverCore: r3(retryCores.others[Number(SERVER_CORE)] ?? 0), clientCore: r3(retryCores.others[Number(CLIENT_CORE)] ?? 0) },
    };

    log(`verifying in process (${VERIFY_WARMUP} + ${o.verifyCount} runs per bundle, interleaved) ...`);
    const verifyWatch = watchCores({ [Number(CLIENT_CORE)]: () => processTree(process.pid) });
    const inProcess = measureVerify(verifyCases(services, items.provenance[0] as Item), VERIFY_WARMUP, o.verifyCount);
    const verifyDisturbance = r3(verifyWatch.stop().others[Number(CLIENT_CORE)] ?? 0);

    const publishTable = table(['publish, 1 client (ms)', 'without provenance', 'with provenance', 'difference'], [
      ['median', ms(plain.medianMs), ms(prov.medianMs), signed(publish.medianDifferenceMs)],
      ['p90', ms(plain.p90Ms), ms(prov.p90Ms), signed(publish.p90DifferenceMs)],
      ['mean', ms(plain.meanMs), ms(prov.meanMs), signed(prov.meanMs - plain.meanMs)],
      ['median of paired differences', '', '', signed(paired.medianMs)],
      ['server CPU per publish, mean', ms(publish.serverCpuMsPerPublish.plain), ms(publish.serverCpuMsPerPublish.provenance), signed(publish.serverCpuMsPerPublish.provenance - publish.serverCpuMsPerPublish.plain)],
    ]);
    const republishTable = table(['re-publish sigstore@2.1.0 (ms)', 'without bundle', 'real bundle', 'difference'], [
      ['median', ms(rPlain.medianMs), ms(rProv.medianMs), signed(republish.medianDifferenceMs)],
      ['p90', ms(rPlain.p90Ms), ms(rProv.p90Ms), signed(republish.p90DifferenceMs)],
      ['median of paired differences', '', '', signed(republish.pairedDifference.medianMs)],
      ['server CPU per request, mean', ms(republish.serverCpuMsPerPublish.plain), ms(republish.serverCpuMsPerPublish.provenance), signed(republish.serverCpuMsPerPublish.provenance - republish.serverCpuMsPerPublish.plain)],
    ]);
    const verifyTable = table(['verifyNpmProvenance, in process', 'median', 'p90', 'first call'],
      inProcess.map((r) => [r.label, ms(r.summary.medianMs), ms(r.summary.p90Ms), ms(r.firstCallMs)]));
    log('');
    log(publishTable);
    log(`\nmedian added by provenance: ${signed(publish.medianDifferenceMs)} (budget ${BUDGET_MS} ms: ${publish.met ? 'met' : 'NOT met'}); ` +
      `${o.count} publishes of each in ${publishSec.toFixed(1)} s; tarballs ${publish.tarballBytesMean.plain} / ${publish.tarballBytesMean.provenance} bytes (mean), ` +
      `bundles ${bundleBytes.mean} bytes; other processes used ${(publish.disturbance.serverCore * 100).toFixed(1)} % of the server core, ${(publish.disturbance.clientCore * 100).toFixed(1)} % of the client core`);
    log('');
    log(republishTable);
    log(`(an identical re-publish is verified, then answered 200 without writing; other processes used ${(republish.disturbance.serverCore * 100).toFixed(1)} % of the server core, ${(republish.disturbance.clientCore * 100).toFixed(1)} % of the client core)`);
    log('');
    log(verifyTable);
    log(`other processes used ${(verifyDisturbance * 100).toFixed(1)} % of the client core meanwhile`);

    const results = {
      date: startedAt.toISOString(),
      seconds: Math.round((Date.now() - t0) / 100) / 10,
      commit: gitCommit(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, node: process.version, loadAverageAtStart: loadAtStart.map(r3), loadAverageAtEnd: loadavg().map(r3) },
      settings: { ...o, verifyWarmup: VERIFY_WARMUP, versionsPerPackage: VERSIONS_PER_PACKAGE, serverCore: Number(SERVER_CORE), clientCore: Number(CLIENT_CORE), order: 'ABBA per pair' },
      mintSeconds: r3(mintSec),
      publish,
      republish,
      inProcess,
      inProcessDisturbance: { clientCore: verifyDisturbance },
      tables: { publish: publishTable, republish: republishTable, verify: verifyTable },
    };
    const json = `${JSON.stringify(results, null, 2)}\n`;
    writeFileSync(path.join(WORK, 'provenance-results.json'), json);
    mkdirSync(path.join(WORK, 'runs'), { recursive: true });
    writeFileSync(path.join(WORK, 'runs', `provenance-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`), json);
    log(`\nresults: ${path.relative(ROOT, path.join(WORK, 'provenance-results.json'))} (run took ${results.seconds.toFixed(1)} s)`);
  } finally {
    if (server) await stop(server.proc);
    await services.close();
  }
}

main().then(
  async () => {
    await stopAll();
    closeAgent();
  },
  async (e: unknown) => {
    process.stderr.write(`bench:provenance: ${(e as Error)?.stack ?? String(e)}\n`);
    await stopAll();
    closeAgent();
    process.exit(1);
  },
);
