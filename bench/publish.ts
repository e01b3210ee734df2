// Writes through the npm publish API: seeding the corpus, and the publish-throughput test
// (sequential and concurrent clients, then a check that every acknowledged version is served).
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { cachedTarball, docPath, publishBody } from './corpus.ts';
import type { Corpus, CorpusPackage, CorpusVersion } from './corpus.ts';
import { request } from './http.ts';
import type { Server } from './servers.ts';

export interface SeedResult {
  packages: number;
  versions: number;
  seconds: number;
  versionsPerSec: number;
  failures: string[];
}

function authHeaders(s: Server): Record<string, string> {
  return { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${s.token}`, 'npm-command': 'publish' };
}

async function putVersion(s: Server, name: string, body: string): Promise<{ ok: boolean; status: number; detail: string }> {
  try {
    const r = await request('PUT', `${s.url}${docPath(name)}`, { headers: authHeaders(s), body, timeoutMs: 120_000 });
    return { ok: r.status >= 200 && r.status < 300, status: r.status, detail: r.body.toString('utf8').slice(0, 200) };
  } catch (e) {
    return { ok: false, status: 0, detail: (e as Error).message };
  }
}

/**
 * Publishes every version of `packages`, oldest first within a package, `concurrency` packages
 * at a time (largest histories first so they do not end up alone at the tail).
 */
export async function seed(s: Server, corpus: Corpus, packages: CorpusPackage[], opts: { concurrency: number; cacheDir: string; deadlineSec: number; log: (m: string) => void }): Promise<SeedResult> {
  const queue = [...packages].sort((a, b) => b.versions.length - a.versions.length);
  const total = queue.reduce((n, p) => n + p.versions.length, 0);
  const failures: string[] = [];
  let done = 0;
  const started = performance.now();
  const deadline = Date.now() + opts.deadlineSec * 1000;
  const progress = setInterval(() => {
    const el = (performance.now() - started) / 1000;
    opts.log(`  ${s.name}: seeded ${done}/${total} versions in ${el.toFixed(0)} s (${(done / el).toFixed(1)}/s)`);
  }, 15_000);
  const worker = async () => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      for (const v of p.versions) {
        if (Date.now() > deadline) throw new Error(`${s.name}: seeding exceeded ${opts.deadlineSec} s (${done}/${total} versions)`);
        const body = publishBody(s.url, p.name, v.version, v.manifest, cachedTarball(opts.cacheDir, corpus.seed, p, v));
        let r = await putVersion(s, p.name, body);
        for (let attempt = 1; !r.ok && attempt <= 2 && (r.status === 0 || r.status >= 500); attempt++) {
          await new Promise((res) => setTimeout(res, 500 * attempt));
          r = await putVersion(s, p.name, body);
          // A retried request whose first attempt did land is refused as a duplicate: that is a success.
          if (!r.ok && (r.status === 403 || r.status === 409)) r = { ...r, ok: true };
        }
        if (!r.ok) failures.push(`${p.name}@${v.version}: HTTP ${r.status} ${r.detail}`);
        done++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
  } finally {
    clearInterval(progress);
  }
  const seconds = (performance.now() - started) / 1000;
  return { packages: packages.length, versions: done - failures.length, seconds, versionsPerSec: (done - failures.length) / seconds, failures };
}

// ---------------------------------------------------------------------------------------------
// Publish throughput

export interface PublishLoadResult {
  clients: number;
  attempted: number;
  acknowledged: number;
  refused: number;
  seconds: number;
  versionsPerSec: number;
  /** Acknowledged versions that are missing (or whose tarball is wrong) afterwards. */
  lost: number;
  lostSample: string[];
  errorSample: string[];
  p50ms: number;
  p99ms: number;
}

interface PublishItem {
  name: string;
  version: string;
  body: string;
  sha1: string;
}

/**
 * Bodies for `count` new versions of fresh packages, ten versions per package, built before the
 * clock starts. Manifests are borrowed from the corpus so bodies have realistic sizes.
 */
export function publishItems(corpus: Corpus, prefix: string, count: number, url: string, cacheDir: string): PublishItem[] {
  const items: PublishItem[] = [];
  for (let k = 0; k < count; k++) {
    const template = corpus.packages[k % corpus.packages.length] as CorpusPackage;
    const tv = template.versions[0] as CorpusVersion;
    const name = `${prefix}-${Math.floor(k / 10)}`;
    const version = `1.0.${k % 10}`;
    const manifest: Record<string, unknown> = { ...tv.manifest, name, version };
    delete manifest.readme;
    const pkg: CorpusPackage = { index: -1, name, versions: [], estimatedDocBytes: 0 };
    const tgz = cachedTarball(cacheDir, corpus.seed, pkg, { version, manifest, payloadBytes: 0 });
    items.push({ name, version, body: publishBody(url, name, version, manifest, tgz), sha1: createHash('sha1').update(tgz).digest('hex') });
  }
  return items;
}

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};

/**
 * `clients` concurrent publishers take items in order from one queue (so concurrent clients
 * mostly write versions of the same package at the same time), until the queue is empty or
 * `durationSec` has passed; then every acknowledged version is looked up.
 */
export async function publishLoad(s: Server, items: PublishItem[], clients: number, durationSec: number): Promise<PublishLoadResult> {
  const queue = [...items];
  const acked: PublishItem[] = [];
  const errorSample: string[] = [];
  const latencies: number[] = [];
  let refused = 0;
  let attempted = 0;
  const started = performance.now();
  const stopAt = started + durationSec * 1000;
  let lastDone = started;
  const client = async () => {
    while (performance.now() < stopAt) {
      const item = queue.shift();
      if (!item) break;
      attempted++;
      const t0 = performance.now();
      const r = await putVersion(s, item.name, item.body);
      lastDone = performance.now();
      latencies.push(lastDone - t0);
      if (r.ok) acked.push(item);
      else {
        refused++;
        if (errorSample.length < 5) errorSample.push(`${item.name}@${item.version}: HTTP ${r.status} ${r.detail}`);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  const seconds = (lastDone - started) / 1000;
  const { lost, lostSample } = await verifyPublished(s, acked);
  return {
    clients, attempted, acknowledged: acked.length, refused, seconds, versionsPerSec: acked.length / seconds,
    lost, lostSample, errorSample, p50ms: percentile(latencies, 50), p99ms: percentile(latencies, 99),
  };
}

/** Every acknowledged version must be in its full document, and its tarball must have the published bytes. */
async function verifyPublished(s: Server, acked: PublishItem[]): Promise<{ lost: number; lostSample: string[] }> {
  const byName = new Map<string, PublishItem[]>();
  for (const it of acked) byName.set(it.name, [...(byName.get(it.name) ?? []), it]);
  const missing: string[] = [];
  const names = [...byName.keys()];
  const worker = async () => {
    for (let name = names.shift(); name !== undefined; name = names.shift()) {
      const r = await request('GET', `${s.url}${docPath(name)}`, { headers: { accept: 'application/json', 'cache-control': 'no-cache' } });
      let versions: Record<string, { dist?: { tarball?: string } }> = {};
      if (r.status === 200) versions = (JSON.parse(r.body.toString('utf8')) as { versions?: typeof versions }).versions ?? {};
      for (const it of byName.get(name) ?? []) {
        const tarball = versions[it.version]?.dist?.tarball;
        if (!tarball) {
          missing.push(`${it.name}@${it.version}: not in the document (HTTP ${r.status})`);
          continue;
        }
        const t = await request('GET', tarball.replace(/^http:\/\/[^/]+/, s.url));
        const sha1 = createHash('sha1').update(t.body).digest('hex');
        if (t.status !== 200 || sha1 !== it.sha1) missing.push(`${it.name}@${it.version}: tarball HTTP ${t.status}, sha1 ${sha1}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { lost: missing.length, lostSample: missing.slice(0, 5) };
}
