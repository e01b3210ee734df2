// `npm run bench`: seeds the corpus into Attestry and Verdaccio 6 and measures both in one run
// (read throughput with wrk, publish throughput, cold npm install against an nginx floor, idle
// memory). Servers run pinned to core 0, every client (this process, wrk, npm) to core 1.
// Everything generated lives under bench/.work; results go to bench/.work/results.json.
// Method and figures: docs/performance.md.
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FULL_CORPUS, QUICK_CORPUS, cachedTarball, docPath, generateCorpus, tarballFilename } from './corpus.ts';
import type { Corpus, CorpusPackage } from './corpus.ts';
import { closeAgent, request } from './http.ts';
import { dumpMirror, timeInstalls } from './install.ts';
import type { InstallTiming, MirrorResult } from './install.ts';
import { processTree, watchCores } from './cpu.ts';
import { installCleanup, run, stop, stopAll, which } from './procs.ts';
import { publishItems, publishLoad, seed } from './publish.ts';
import type { PublishLoadResult, SeedResult } from './publish.ts';
import { CLIENT_CORE, SERVER_CORE, freePort, memoryOf, startAttestry, startNginx, startVerdaccio } from './servers.ts';
import type { Server } from './servers.ts';
import { runWrk } from './wrk.ts';
import type { WrkResult } from './wrk.ts';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH_DIR);
const WORK = path.join(BENCH_DIR, '.work');

const USAGE = `Usage: npm run bench -- [options]

  --quick                          small corpus (60 packages), short runs: a smoke test (~3 min)
  --duration <s>                   seconds per wrk measurement and per publish test (default 10, quick 3)
  --connections <n>                wrk connections (default 50)
  --warmup <s>                     wrk warm-up seconds before each measurement (default 2, quick 1)
  --skip-verdaccio                 measure Attestry only
  --skip-install                   skip the cold npm install comparison with nginx
  --skip-publish                   skip the publish-throughput tests
  --skip-reads                     skip the wrk read measurements
  --verdaccio-corpus-fraction <f>  share of the corpus (besides the measured packages) seeded into
                                   Verdaccio, which publishes ~10 versions/s (default 0.1, quick 1)
  --seed-concurrency <n>           concurrent publishers while seeding (default 8)
  --install-runs <n>               cold installs per target (default 5, quick 2)
  --cpu-prof                       run Attestry with --cpu-prof (profile in bench/.work/profiles)
  --only <list>                    read cases to run, comma-separated (full,abbrev,largest,tarball,304,gzip)
  --max-disturbance <f>            a wrk measurement during which other processes used more than this
                                   share of the server's or the client's core is repeated (default 0.1)
  --retries <n>                    how often such a measurement is repeated at most (default 2)
`;

interface Options {
  quick: boolean;
  duration: number;
  connections: number;
  warmup: number;
  skipVerdaccio: boolean;
  skipInstall: boolean;
  skipPublish: boolean;
  skipReads: boolean;
  verdaccioFraction: number;
  seedConcurrency: number;
  installRuns: number;
  cpuProf: boolean;
  only: Set<string> | undefined;
  retries: number;
  maxDisturbance: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      connections: { type: 'string' },
      warmup: { type: 'string' },
      'skip-verdaccio': { type: 'boolean', default: false },
      'skip-install': { type: 'boolean', default: false },
      'skip-publish': { type: 'boolean', default: false },
      'skip-reads': { type: 'boolean', default: false },
      'verdaccio-corpus-fraction': { type: 'string' },
      'seed-concurrency': { type: 'string' },
      'install-runs': { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      only: { type: 'string' },
      retries: { type: 'string' },
      'max-disturbance': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const num = (v: string | undefined, dflt: number, name: string): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: expected a number, got ${v}`);
    return n;
  };
  const quick = values.quick;
  const o: Options = {
    quick,
    duration: num(values.duration, quick ? 3 : 10, 'duration'),
    connections: num(values.connections, 50, 'connections'),
    warmup: num(values.warmup, quick ? 1 : 2, 'warmup'),
    skipVerdaccio: values['skip-verdaccio'],
    skipInstall: values['skip-install'],
    skipPublish: values['skip-publish'],
    skipReads: values['skip-reads'],
    verdaccioFraction: num(values['verdaccio-corpus-fraction'], quick ? 1 : 0.1, 'verdaccio-corpus-fraction'),
    seedConcurrency: num(values['seed-concurrency'], 8, 'seed-concurrency'),
    installRuns: num(values['install-runs'], quick ? 2 : 5, 'install-runs'),
    cpuProf: values['cpu-prof'],
    only: values.only ? new Set(values.only.split(',').map((s) => s.trim())) : undefined,
    retries: num(values.retries, 2, 'retries'),
    maxDisturbance: num(values['max-disturbance'], 0.1, 'max-disturbance'),
  };
  if (o.duration < 1 || o.duration > 600) throw new Error('--duration must be between 1 and 600 seconds');
  if (o.connections < 1 || o.connections > 1000) throw new Error('--connections must be between 1 and 1000');
  if (o.verdaccioFraction > 1) throw new Error('--verdaccio-corpus-fraction is at most 1');
  return o;
}

const log = (m: string) => process.stdout.write(`${m}\n`);

/** Scratch directories outside bench/.work, removed however the run ends. */
const cleanupDirs: string[] = [];
process.on('exit', () => {
  for (const d of cleanupDirs) rmSync(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Preconditions

function ensureTools(o: Options): void {
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < 24) throw new Error(`run the bench with the project's Node 24 (npm run bench), not Node ${process.versions.node}`);
  const needed = ['taskset', 'wrk', ...(o.skipInstall ? [] : ['nginx'])];
  const missing = needed.filter((t) => !which(t));
  if (missing.length > 0) {
    const pkgs = missing.map((t) => (t === 'taskset' ? 'util-linux' : t));
    if (process.getuid?.() === 0 && which('apt-get')) {
      log(`installing ${pkgs.join(', ')} with apt-get ...`);
      const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
      if (install().status !== 0) {
        spawnSync('apt-get', ['update'], { stdio: 'inherit' });
        install();
      }
    }
    const still = needed.filter((t) => !which(t));
    if (still.length > 0) throw new Error(`missing tools: ${still.join(', ')} (Debian: apt-get install -y ${pkgs.join(' ')})`);
  }
  if (!o.skipVerdaccio && !existsVerdaccio()) {
    log('installing Verdaccio into bench/node_modules (npm ci --prefix bench) ...');
    run('npm', ['ci', '--prefix', BENCH_DIR, '--no-audit', '--no-fund'], { timeoutMs: 600_000 });
  }
  if (cpus().length < 2) throw new Error('the bench needs two cores: servers on core 0, clients on core 1');
}

function existsVerdaccio(): boolean {
  return existsSync(path.join(BENCH_DIR, 'node_modules/verdaccio/package.json'));
}

function versionOf(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0]?.trim() ?? '';
}

// ---------------------------------------------------------------------------------------------
// Read measurements

interface ReadCase {
  id: string;
  label: string;
  path: string;
  headers: Record<string, string>;
  /** Filled in per server before measuring (the validator it returned). */
  conditional?: boolean;
}

const FULL_ACCEPT = 'application/json';
const CORGI_ACCEPT = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';

function readCases(corpus: Corpus): ReadCase[] {
  const t = corpus.roles.tarball;
  return [
    { id: 'full', label: 'full document (~66 KB)', path: docPath(corpus.roles.midDocument), headers: { accept: FULL_ACCEPT } },
    { id: 'abbrev', label: 'abbreviated document', path: docPath(corpus.roles.midDocument), headers: { accept: CORGI_ACCEPT } },
    { id: 'largest', label: 'largest document (~1.2 MB)', path: docPath(corpus.roles.largestDocument), headers: { accept: FULL_ACCEPT } },
    { id: 'tarball', label: 'tarball (~31 KB)', path: `/${t.name}/-/${tarballFilename(t.name, t.version)}`, headers: {} },
    { id: '304', label: '304 revalidation', path: docPath(corpus.roles.midDocument), headers: { accept: FULL_ACCEPT }, conditional: true },
    { id: 'gzip', label: 'full document, gzip', path: docPath(corpus.roles.midDocument), headers: { accept: FULL_ACCEPT, 'accept-encoding': 'gzip' } },
  ];
}

interface ReadMeasurement extends WrkResult {
  bodyBytes: number;
  status: number;
  note: string;
  /** Measurements taken (more than one when other processes disturbed the first). */
  attempts: number;
}

/** Something wrk can load: a server under test, or nginx. */
interface Target {
  name: string;
  url: string;
  pids: () => number[];
}

const targetOf = (s: Server): Target => ({ name: s.name, url: s.url, pids: () => processTree(s.proc.pid) });

/** Worst share of a core that other processes took during a measurement. */
const disturbance = (r: WrkResult) => Math.max(r.othersOnServerCore, r.othersOnClientCore);

async function measureReads(s: Target, cases: ReadCase[], o: Options): Promise<Record<string, ReadMeasurement>> {
  const out: Record<string, ReadMeasurement> = {};
  for (const c of cases) {
    const url = `${s.url}${c.path}`;
    const headers = { ...c.headers };
    let note = '';
    // One request first: check the status and size, and get the validator for the 304 case.
    const first = await request('GET', url, { headers });
    if (first.status !== 200) throw new Error(`${s.name} ${c.label}: GET ${c.path} answered ${first.status}`);
    let bodyBytes = first.body.length;
    if (c.conditional) {
      const etag = first.headers.etag;
      const lastModified = first.headers['last-modified'];
      if (typeof etag === 'string') {
        headers['if-none-match'] = etag;
        note = `If-None-Match ${etag.length > 24 ? `${etag.slice(0, 21)}...` : etag}`;
      } else if (typeof lastModified === 'string') {
        headers['if-modified-since'] = lastModified;
        note = 'If-Modified-Since (no ETag)';
      } else note = 'no validator returned';
      const check = await request('GET', url, { headers });
      if (check.status !== 304) note += `; answered ${check.status}, not 304`;
      bodyBytes = check.body.length;
    }
    if (c.headers['accept-encoding']) note = `content-encoding: ${String(first.headers['content-encoding'] ?? 'none')}`;
    const label = `${s.name.toLowerCase()}-${c.id}`;
    const wrkOpts = { url, headers, connections: o.connections, workDir: path.join(WORK, 'wrk'), serverPids: s.pids() };
    if (o.warmup > 0) await runWrk({ ...wrkOpts, durationSec: o.warmup, label: `${label}-warmup` });
    // On a shared machine, a measurement during which other processes used more than
    // --max-disturbance of either core is repeated (up to --retries times); the least disturbed counts.
    let best: WrkResult | undefined;
    let attempts = 0;
    for (; attempts <= o.retries; attempts++) {
      if (attempts > 0) await sleep(attempts * 5000);
      const r = await runWrk({ ...wrkOpts, durationSec: o.duration, label: attempts ? `${label}-${attempts}` : label });
      if (!best || disturbance(r) < disturbance(best)) best = r;
      if (disturbance(r) <= o.maxDisturbance) {
        attempts++;
        break;
      }
      log(`  ${s.name.padEnd(9)} ${c.label.padEnd(28)} disturbed (others used ${pct(r.othersOnServerCore)} of the server core, ${pct(r.othersOnClientCore)} of the client core): measuring again`);
    }
    const r = best as WrkResult;
    out[c.id] = { ...r, bodyBytes, status: c.conditional ? 304 : 200, note, attempts };
    log(`  ${s.name.padEnd(9)} ${c.label.padEnd(28)} ${r.rps.toFixed(0).padStart(8)} req/s  p50 ${r.p50ms.toFixed(1)} ms  p99 ${r.p99ms.toFixed(1)} ms  ` +
      `server CPU ${r.serverCpu === null ? '-' : pct(r.serverCpu)}, others ${pct(r.othersOnServerCore)}/${pct(r.othersOnClientCore)}  ` +
      `${fmtBytes(bodyBytes)} body${r.errors ? `  ${r.errors} errors` : ''}${note ? `  (${note})` : ''}`);
  }
  return out;
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

// ---------------------------------------------------------------------------------------------
// One server's whole session

interface ServerResults {
  seed?: SeedResult;
  idleRssMiB?: number;
  rssAfterLoadMiB?: number;
  peakRssMiB?: number;
  reads?: Record<string, ReadMeasurement>;
  publishSequential?: PublishLoadResult;
  publishConcurrent?: PublishLoadResult;
  documentSizes?: Record<string, number>;
  /** Share of the server core / client core other processes used during each phase. */
  disturbance?: Record<string, { serverCore: number; clientCore: number }>;
}

/** Runs a phase while watching who else used the two cores. */
async function phase<T>(res: ServerResults, name: string, serverPids: () => number[], fn: () => Promise<T>): Promise<T> {
  const ours = () => {
    const server = new Set(serverPids());
    return processTree(process.pid).filter((p) => !server.has(p));
  };
  const w = watchCores({ [Number(SERVER_CORE)]: serverPids, [Number(CLIENT_CORE)]: ours });
  try {
    return await fn();
  } finally {
    const c = w.stop();
    (res.disturbance ??= {})[name] = { serverCore: round3(c.others[Number(SERVER_CORE)] ?? 0), clientCore: round3(c.others[Number(CLIENT_CORE)] ?? 0) };
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

async function idleRss(s: Server): Promise<number> {
  await sleep(5000);
  return memoryOf(s.proc.pid).rssMiB;
}

async function publishTests(s: Server, corpus: Corpus, o: Options, res: ServerResults): Promise<void> {
  const cap = Math.max(500, Math.round(600 * o.duration));
  const cacheDir = path.join(WORK, 'cache', 'publish-tgz');
  for (const [key, clients] of [['publishSequential', 1], ['publishConcurrent', 8]] as const) {
    const prefix = clients === 1 ? 'bench-pub-seq' : 'bench-pub-conc';
    const items = publishItems(corpus, prefix, cap, s.url, cacheDir);
    const r = await phase(res, key, () => processTree(s.proc.pid), () => publishLoad(s, items, clients, o.duration));
    res[key] = r;
    const d = res.disturbance?.[key];
    log(`  ${s.name.padEnd(9)} publish, ${clients} client(s): ${r.acknowledged} versions acknowledged in ${r.seconds.toFixed(1)} s = ${r.versionsPerSec.toFixed(1)}/s ` +
      `(p50 ${r.p50ms.toFixed(1)} ms, p99 ${r.p99ms.toFixed(1)} ms), ${r.refused} refused, ${r.lost} lost; others ${pct(d?.serverCore ?? 0)}/${pct(d?.clientCore ?? 0)}`);
    for (const e of r.errorSample) log(`      refused: ${e}`);
    for (const e of r.lostSample) log(`      LOST: ${e}`);
  }
}

async function documentSizes(s: Server, corpus: Corpus): Promise<Record<string, number>> {
  const sizes: Record<string, number> = {};
  for (const [k, name] of [['mid', corpus.roles.midDocument], ['largest', corpus.roles.largestDocument]] as const) {
    const r = await request('GET', `${s.url}${docPath(name)}`, { headers: { accept: FULL_ACCEPT } });
    sizes[k] = r.body.length;
  }
  return sizes;
}

// ---------------------------------------------------------------------------------------------
// Report

interface Row {
  metric: string;
  attestry: number | null;
  verdaccio: number | null;
  unit: string;
  ratio: number | null;
  ratioLabel: string;
  target: string;
  met: boolean | null;
  /** nginx serving the same bytes from disk: the static-file ceiling on this machine. */
  nginx: number | null;
}

function fmtBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} B`;
}

function fmtNum(n: number | null, unit: string): string {
  if (n === null || Number.isNaN(n)) return '-';
  if (unit === 's') return `${n.toFixed(2)} s`;
  if (unit === 'MiB') return `${n.toFixed(0)} MiB`;
  if (unit === 'lost') return String(n);
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

interface Report {
  a: ServerResults;
  v: ServerResults | undefined;
  nginxReads: Record<string, ReadMeasurement> | undefined;
  install: { attestry: InstallTiming; nginx: InstallTiming } | undefined;
}

function buildRows({ a, v, nginxReads, install }: Report): Row[] {
  const rows: Row[] = [];
  const reads: [string, string, number][] = [
    ['full', 'full document (~66 KB), req/s', 20],
    ['abbrev', 'abbreviated document, req/s', 20],
    ['largest', 'largest document (~1.2 MB), req/s', 40],
    ['tarball', 'tarball (~31 KB), req/s', 4],
    ['304', '304 revalidation, req/s', 30],
  ];
  for (const [id, metric, min] of reads) {
    const av = a.reads?.[id]?.rps;
    const vv = v?.reads?.[id]?.rps;
    if (av === undefined && vv === undefined) continue;
    const ratio = av !== undefined && vv !== undefined && vv > 0 ? av / vv : null;
    rows.push({
      metric, attestry: av ?? null, verdaccio: vv ?? null, unit: 'req/s', ratio, ratioLabel: ratio === null ? '-' : `${ratio.toFixed(1)}x`,
      target: `>= ${min}x Verdaccio`, met: ratio === null ? null : ratio >= min, nginx: nginxReads?.[id]?.rps ?? null,
    });
  }
  const gz = a.reads?.gzip;
  const plain = a.reads?.full;
  if (gz) {
    const vsPlain = plain ? gz.rps / plain.rps : null;
    const vg = v?.reads?.gzip?.rps;
    rows.push({
      metric: 'full document, gzip, req/s', attestry: gz.rps, verdaccio: vg ?? null, unit: 'req/s',
      ratio: vg ? gz.rps / vg : null, ratioLabel: `${vg ? `${(gz.rps / vg).toFixed(1)}x; ` : ''}${vsPlain === null ? '' : `${vsPlain.toFixed(2)}x plain`}`,
      target: '>= 0.9x plain (Attestry)', met: vsPlain === null ? null : vsPlain >= 0.9, nginx: null,
    });
  }
  const pubRow = (metric: string, key: 'publishSequential' | 'publishConcurrent', min: number) => {
    const ar = a[key];
    const vr = v?.[key];
    if (!ar && !vr) return;
    const ratio = ar && vr && vr.versionsPerSec > 0 ? ar.versionsPerSec / vr.versionsPerSec : null;
    rows.push({
      metric, attestry: ar?.versionsPerSec ?? null, verdaccio: vr?.versionsPerSec ?? null, unit: 'versions/s', ratio,
      ratioLabel: ratio === null ? '-' : `${ratio.toFixed(1)}x`, target: `>= ${min}/s`, met: ar ? ar.versionsPerSec >= min : null, nginx: null,
    });
  };
  pubRow('publish, 1 client, versions/s', 'publishSequential', 150);
  pubRow('publish, 8 clients, versions/s', 'publishConcurrent', 300);
  if (a.publishSequential || a.publishConcurrent) {
    const lostA = (a.publishSequential?.lost ?? 0) + (a.publishConcurrent?.lost ?? 0);
    const lostV = v?.publishSequential || v?.publishConcurrent ? (v.publishSequential?.lost ?? 0) + (v.publishConcurrent?.lost ?? 0) : null;
    rows.push({ metric: 'acknowledged versions lost', attestry: lostA, verdaccio: lostV, unit: 'lost', ratio: null, ratioLabel: '-', target: '0', met: lostA === 0, nginx: null });
  }
  if (install) {
    const ratio = install.attestry.meanSec / install.nginx.meanSec;
    const median = install.attestry.medianSec / install.nginx.medianSec;
    rows.push({
      metric: `cold npm install, ${install.attestry.packagesInstalled} packages, mean of ${install.attestry.runs.length}`, attestry: install.attestry.meanSec, verdaccio: null, unit: 's',
      ratio, ratioLabel: `${ratio.toFixed(2)}x nginx (median ${median.toFixed(2)}x)`, target: '<= 1.10x nginx', met: ratio <= 1.1, nginx: install.nginx.meanSec,
    });
  }
  if (a.idleRssMiB !== undefined) {
    rows.push({ metric: 'idle RSS after seeding', attestry: a.idleRssMiB, verdaccio: v?.idleRssMiB ?? null, unit: 'MiB', ratio: null, ratioLabel: '-', target: '<= 120 MiB', met: a.idleRssMiB <= 120, nginx: null });
  }
  if (a.seed) {
    const ratio = v?.seed ? a.seed.versionsPerSec / v.seed.versionsPerSec : null;
    rows.push({
      metric: 'seeding (8 publishers), versions/s', attestry: a.seed.versionsPerSec, verdaccio: v?.seed?.versionsPerSec ?? null, unit: 'versions/s', ratio,
      ratioLabel: ratio === null ? '-' : `${ratio.toFixed(1)}x`, target: '(info)', met: null, nginx: null,
    });
  }
  return rows;
}

function renderTable(rows: Row[]): string {
  const header = ['metric', 'Attestry', 'Verdaccio', 'ratio', 'target', 'met', 'nginx (static)'];
  const body = rows.map((r) => [r.metric, fmtNum(r.attestry, r.unit), fmtNum(r.verdaccio, r.unit), r.ratioLabel, r.target, r.met === null ? '' : r.met ? 'yes' : 'NO', fmtNum(r.nginx, r.unit)]);
  const left = (i: number) => i === 0 || i === 4;
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (left(i) ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (left(i) ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...body.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  installCleanup();
  ensureTools(o);
  // This process and everything it starts (wrk, npm) run on the client core; servers are
  // started with an explicit `taskset -c 0`.
  run('taskset', ['-a', '-p', '-c', CLIENT_CORE, String(process.pid)]);
  mkdirSync(WORK, { recursive: true });
  rmSync(path.join(WORK, 'wrk'), { recursive: true, force: true });
  const startedAt = new Date();
  const loadAtStart = loadavg();
  const t0 = Date.now();

  const corpusOpts = o.quick ? QUICK_CORPUS : FULL_CORPUS;
  const corpus = generateCorpus(corpusOpts);
  const cacheDir = path.join(WORK, 'cache', `corpus-${corpus.seed}-${corpusOpts.packages}`);
  log(`corpus: ${corpus.packages.length} packages, ${corpus.totalVersions} versions; measured: ${corpus.roles.midDocument} (mid), ${corpus.roles.largestDocument} (largest), ` +
    `${corpus.roles.tarball.name}@${corpus.roles.tarball.version} (tarball)`);
  let tgzBytes = 0;
  const tb = Date.now();
  for (const p of corpus.packages) for (const v of p.versions) tgzBytes += cachedTarball(cacheDir, corpus.seed, p, v).length;
  log(`tarballs: ${fmtBytes(tgzBytes)} (built or read from cache in ${((Date.now() - tb) / 1000).toFixed(1)} s)`);
  const cases = readCases(corpus).filter((c) => !o.skipReads && (!o.only || o.only.has(c.id)));
  const latestOf = (name: string) => corpus.packages.find((p) => p.name === name)?.versions.at(-1)?.version ?? '0.0.0';

  // --- Attestry -------------------------------------------------------------------------------
  const a: ServerResults = {};
  let install: Report['install'];
  let nginxReads: Report['nginxReads'];
  let mirror: MirrorResult | undefined;
  log('\n== Attestry');
  const attestry = await startAttestry({
    root: ROOT, nodeBin: process.execPath, dataDir: path.join(WORK, 'attestry-data'), logFile: path.join(WORK, 'logs', 'attestry.log'),
    extraNodeArgs: o.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(WORK, 'profiles')}`] : [],
  });
  const attestryPids = () => processTree(attestry.proc.pid);
  log(`  listening at ${attestry.url} (pid ${attestry.proc.pid}, core ${SERVER_CORE})`);
  a.seed = await phase(a, 'seed', attestryPids, () => seed(attestry, corpus, corpus.packages, { concurrency: o.seedConcurrency, cacheDir, deadlineSec: 3600, log }));
  log(`  seeded ${a.seed.versions} versions of ${a.seed.packages} packages in ${a.seed.seconds.toFixed(1)} s (${a.seed.versionsPerSec.toFixed(1)} versions/s), ${a.seed.failures.length} failures`);
  for (const f of a.seed.failures.slice(0, 5)) log(`    failed: ${f}`);
  if (a.seed.failures.length > 0) throw new Error('seeding Attestry failed');
  a.idleRssMiB = await idleRss(attestry);
  log(`  idle RSS after seeding: ${a.idleRssMiB.toFixed(1)} MiB`);
  a.documentSizes = await documentSizes(attestry, corpus);
  log(`  documents: mid ${fmtBytes(a.documentSizes.mid ?? 0)}, largest ${fmtBytes(a.documentSizes.largest ?? 0)}`);
  a.reads = await measureReads(targetOf(attestry), cases, o);

  if (!o.skipInstall) {
    const nginxPort = await freePort();
    const nginxUrl = `http://127.0.0.1:${nginxPort}`;
    const mirrorDir = path.join(WORK, 'nginx', 'root');
    mirror = await dumpMirror(attestry.url, corpus.installDeps, mirrorDir, nginxUrl, {
      [corpus.roles.midDocument]: latestOf(corpus.roles.midDocument),
      [corpus.roles.largestDocument]: latestOf(corpus.roles.largestDocument),
      [corpus.roles.tarball.name]: corpus.roles.tarball.version,
    });
    log(`  nginx mirror: ${mirror.packages} documents (${fmtBytes(mirror.docBytes)}), ${mirror.versions} tarballs (${fmtBytes(mirror.tarballBytes)}) dumped from Attestry`);
    const nginx = await startNginx({ workDir: path.join(WORK, 'nginx'), root: mirrorDir, port: nginxPort });
    try {
      // The same static bytes through nginx: what a static file server does on this machine.
      nginxReads = await measureReads({ name: 'nginx', url: nginxUrl, pids: () => processTree(nginx.pid) }, cases.filter((c) => ['full', 'largest', 'tarball', '304'].includes(c.id)), o);
      // npm's own CPU and file writes dominate a cold install, so the project and the cache
      // live on tmpfs when there is one: the disk's noise would otherwise swamp the servers'.
      const installDir = existsSync('/dev/shm') ? path.join('/dev/shm', `attestry-bench-install-${process.pid}`) : path.join(WORK, 'install');
      cleanupDirs.push(installDir);
      const timings = await phase(a, 'install', () => [...attestryPids(), ...processTree(nginx.pid)], () => timeInstalls(installDir, corpus.installDeps, [
        { label: 'nginx', registry: nginxUrl },
        { label: 'attestry', registry: attestry.url },
      ], o.installRuns, log));
      install = { nginx: timings[0] as InstallTiming, attestry: timings[1] as InstallTiming };
      if (install.nginx.packagesInstalled !== install.attestry.packagesInstalled) {
        log(`  WARNING: installed package counts differ (nginx ${install.nginx.packagesInstalled}, attestry ${install.attestry.packagesInstalled})`);
      }
    } finally {
      await stop(nginx);
    }
  }

  if (!o.skipPublish) await publishTests(attestry, corpus, o, a);
  const mem = memoryOf(attestry.proc.pid);
  a.rssAfterLoadMiB = mem.rssMiB;
  a.peakRssMiB = mem.hwmMiB;
  log(`  RSS after the load: ${mem.rssMiB.toFixed(1)} MiB (peak ${mem.hwmMiB.toFixed(1)} MiB)`);
  await stop(attestry.proc, 30_000);

  // --- Verdaccio ------------------------------------------------------------------------------
  let v: ServerResults | undefined;
  let verdaccioPackages = 0;
  if (!o.skipVerdaccio) {
    v = {};
    log('\n== Verdaccio');
    const verdaccio = await startVerdaccio({ root: ROOT, nodeBin: process.execPath, workDir: path.join(WORK, 'verdaccio') });
    log(`  listening at ${verdaccio.url} (pid ${verdaccio.proc.pid}, core ${SERVER_CORE})`);
    const must = new Set([corpus.roles.midDocument, corpus.roles.largestDocument, corpus.roles.tarball.name]);
    const step = o.verdaccioFraction > 0 ? 1 / o.verdaccioFraction : Infinity;
    const subset: CorpusPackage[] = corpus.packages.filter((p, i) => must.has(p.name) || (Number.isFinite(step) && Math.floor(i % step) === 0));
    verdaccioPackages = subset.length;
    const vr = v;
    v.seed = await phase(v, 'seed', () => processTree(verdaccio.proc.pid), () => seed(verdaccio, corpus, subset, { concurrency: o.seedConcurrency, cacheDir, deadlineSec: 3600, log }));
    log(`  seeded ${v.seed.versions} versions of ${v.seed.packages} packages in ${v.seed.seconds.toFixed(1)} s (${v.seed.versionsPerSec.toFixed(1)} versions/s), ${v.seed.failures.length} failures`);
    for (const f of v.seed.failures.slice(0, 5)) log(`    failed: ${f}`);
    const measuredMissing = v.seed.failures.filter((f) => [...must].some((n) => f.startsWith(`${n}@`)));
    if (measuredMissing.length > 0) throw new Error('seeding Verdaccio failed for a measured package');
    vr.idleRssMiB = await idleRss(verdaccio);
    log(`  idle RSS after seeding: ${vr.idleRssMiB.toFixed(1)} MiB`);
    vr.documentSizes = await documentSizes(verdaccio, corpus);
    log(`  documents: mid ${fmtBytes(vr.documentSizes.mid ?? 0)}, largest ${fmtBytes(vr.documentSizes.largest ?? 0)}`);
    vr.reads = await measureReads(targetOf(verdaccio), cases, o);
    if (!o.skipPublish) await publishTests(verdaccio, corpus, o, vr);
    const vm = memoryOf(verdaccio.proc.pid);
    vr.rssAfterLoadMiB = vm.rssMiB;
    vr.peakRssMiB = vm.hwmMiB;
    await stop(verdaccio.proc, 10_000);
  }

  // --- Report ---------------------------------------------------------------------------------
  const rows = buildRows({ a, v, nginxReads, install });
  const table = renderTable(rows);
  const minutes = (Date.now() - t0) / 60_000;
  log(`\n${table}\n`);
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: versionOf('uname', ['-sr']),
    node: process.version,
    npm: versionOf('npm', ['--version']),
    // The Node that runs npm (its shebang is `#!/usr/bin/env node`, resolved on this PATH).
    npmNode: versionOf('node', ['--version']),
    verdaccio: o.skipVerdaccio ? null : (JSON.parse(readFileSync(path.join(BENCH_DIR, 'node_modules/verdaccio/package.json'), 'utf8')) as { version: string }).version,
    wrk: versionOf('wrk', ['-v']),
    nginx: o.skipInstall ? null : versionOf('nginx', ['-v']),
    loadAverageAtStart: loadAtStart.map((x) => Math.round(x * 100) / 100),
    loadAverageAtEnd: loadavg().map((x) => Math.round(x * 100) / 100),
  };
  const results = {
    date: startedAt.toISOString(),
    minutes: Math.round(minutes * 10) / 10,
    machine,
    settings: { ...o, only: o.only ? [...o.only] : null, serverCore: Number(SERVER_CORE), clientCore: Number(CLIENT_CORE), wrk: `-t1 -c${o.connections} -d${o.duration}s` },
    corpus: {
      packages: corpus.packages.length, versions: corpus.totalVersions, seed: corpus.seed, tarballBytes: tgzBytes, roles: corpus.roles,
      verdaccioPackages: verdaccioPackages || null, installDirectDependencies: Object.keys(corpus.installDeps).length,
    },
    rows,
    attestry: a,
    verdaccio: v ?? null,
    nginxReads: nginxReads ?? null,
    install: install ?? null,
    mirror: mirror ?? null,
  };
  writeFileSync(path.join(WORK, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  // Every run is also kept under its start time, so a later run does not overwrite it.
  mkdirSync(path.join(WORK, 'runs'), { recursive: true });
  writeFileSync(path.join(WORK, 'runs', `results-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(path.join(WORK, 'results.md'), `${table}\n`);
  log(`results: ${path.relative(ROOT, path.join(WORK, 'results.json'))} (run took ${minutes.toFixed(1)} min)`);
}

main().then(
  async () => {
    await stopAll();
    closeAgent();
  },
  async (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error)?.stack ?? String(e)}\n`);
    await stopAll();
    closeAgent();
    process.exit(1);
  },
);
