// Cold `npm install` of a generated project against Attestry and against nginx serving the same
// bytes (Attestry's own documents and tarballs, dumped to disk): the static-file floor.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import semver from 'semver';
import { docPath } from './corpus.ts';
import { request } from './http.ts';
import { runAsync } from './procs.ts';

interface Doc {
  versions: Record<string, { dependencies?: Record<string, string>; dist: { tarball: string } }>;
  'dist-tags': Record<string, string>;
}

export interface MirrorResult {
  packages: number;
  versions: number;
  docBytes: number;
  tarballBytes: number;
}

/**
 * Resolves the dependency closure the way npm does (highest version satisfying each range) from
 * Attestry's full documents, and writes those documents (tarball origin rewritten to
 * `mirrorOrigin`) and the resolved tarballs under `root`.
 */
export async function dumpMirror(attestryUrl: string, deps: Record<string, string>, root: string, mirrorOrigin: string, extra: Record<string, string> = {}): Promise<MirrorResult> {
  rmSync(root, { recursive: true, force: true });
  const docs = new Map<string, Doc>();
  const picked = new Set<string>();
  const expanded = new Set<string>();
  // `extra`: packages wanted for the read measurements against nginx (not followed further).
  const queue: [string, string][] = [...Object.entries(extra), ...Object.entries(deps)];
  const extraKeys = new Set(Object.entries(extra).map(([n, r]) => `${n}\0${r}`));
  let docBytes = 0;
  let tarballBytes = 0;
  for (let step = 0; queue.length > 0; step++) {
    if (step > 200_000) throw new Error('dependency closure did not converge');
    const [name, range] = queue.shift() as [string, string];
    let doc = docs.get(name);
    if (!doc) {
      const r = await request('GET', `${attestryUrl}${docPath(name)}`, { headers: { accept: 'application/json' } });
      if (r.status !== 200) throw new Error(`GET ${name}: HTTP ${r.status}`);
      const text = r.body.toString('utf8');
      doc = JSON.parse(text) as Doc;
      docs.set(name, doc);
      const rewritten = text.split(attestryUrl).join(mirrorOrigin);
      const file = path.join(root, 'docs', `${name}.json`);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, rewritten);
      docBytes += Buffer.byteLength(rewritten);
    }
    const tag = doc['dist-tags'].latest;
    const version = tag && semver.satisfies(tag, range) ? tag : semver.maxSatisfying(Object.keys(doc.versions), range);
    if (!version) throw new Error(`no version of ${name} satisfies ${range}`);
    const key = `${name}@${version}`;
    const v = doc.versions[version];
    if (!v) throw new Error(`${key} missing from its document`);
    if (!picked.has(key)) {
      picked.add(key);
      const url = new URL(v.dist.tarball);
      const t = await request('GET', `${attestryUrl}${url.pathname}`);
      if (t.status !== 200) throw new Error(`GET ${v.dist.tarball}: HTTP ${t.status}`);
      const file = path.join(root, 'tarballs', decodeURIComponent(url.pathname));
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, t.body);
      tarballBytes += t.body.length;
    }
    if (extraKeys.has(`${name}\0${range}`) || expanded.has(key)) continue;
    expanded.add(key);
    for (const [d, rr] of Object.entries(v.dependencies ?? {})) queue.push([d, rr]);
  }
  return { packages: docs.size, versions: picked.size, docBytes, tarballBytes };
}

export interface InstallTiming {
  label: string;
  runs: number[];
  meanSec: number;
  medianSec: number;
  minSec: number;
  packagesInstalled: number;
}

export interface InstallTarget {
  label: string;
  registry: string;
}

function countInstalled(projectDir: string): number {
  const lock = path.join(projectDir, 'node_modules', '.package-lock.json');
  if (!existsSync(lock)) return 0;
  const j = JSON.parse(readFileSync(lock, 'utf8')) as { packages?: Record<string, unknown> };
  return Object.keys(j.packages ?? {}).filter((k) => k.startsWith('node_modules/')).length;
}

/**
 * Times `runs` cold installs per target, alternating targets run by run (so drift on the
 * machine hits both alike). Each run starts with no node_modules, no lockfile and an empty cache.
 */
export async function timeInstalls(workDir: string, deps: Record<string, string>, targets: InstallTarget[], runs: number, log: (m: string) => void): Promise<InstallTiming[]> {
  const projectDir = path.join(workDir, 'project');
  const cacheDir = path.join(workDir, 'npm-cache');
  const userconfig = path.join(workDir, 'npmrc');
  mkdirSync(projectDir, { recursive: true });
  writeFileSync(userconfig, '');
  writeFileSync(path.join(projectDir, 'package.json'), `${JSON.stringify({ name: 'bench-install-project', version: '1.0.0', private: true, dependencies: deps }, null, 2)}\n`);
  const results = targets.map((t) => ({ label: t.label, runs: [] as number[], installed: 0 }));
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? targets.map((_, i) => i) : targets.map((_, i) => targets.length - 1 - i);
    for (const i of order) {
      const t = targets[i] as InstallTarget;
      rmSync(path.join(projectDir, 'node_modules'), { recursive: true, force: true });
      rmSync(path.join(projectDir, 'package-lock.json'), { force: true });
      rmSync(cacheDir, { recursive: true, force: true });
      const logFile = path.join(workDir, `npm-${t.label}-${run}.log`);
      rmSync(logFile, { force: true });
      const env = { ...process.env, npm_config_userconfig: userconfig, npm_config_update_notifier: 'false' };
      const started = performance.now();
      const code = await runAsync(`npm install (${t.label})`, 'npm', [
        'install', `--registry=${t.registry}/`, `--cache=${cacheDir}`, '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=warn',
      ], { cwd: projectDir, env, logFile, timeoutMs: 600_000 });
      const sec = (performance.now() - started) / 1000;
      if (code !== 0) throw new Error(`npm install against ${t.label} failed (exit ${String(code)}); see ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
      const r = results[i] as (typeof results)[number];
      r.runs.push(sec);
      r.installed = countInstalled(projectDir);
      log(`  npm install #${run + 1} against ${t.label}: ${sec.toFixed(2)} s (${r.installed} packages)`);
    }
  }
  return results.map((r) => {
    const sorted = [...r.runs].sort((a, b) => a - b);
    return {
      label: r.label,
      runs: r.runs,
      meanSec: r.runs.reduce((a, b) => a + b, 0) / r.runs.length,
      medianSec: sorted.length % 2 === 1 ? (sorted[(sorted.length - 1) / 2] as number) : ((sorted[sorted.length / 2 - 1] as number) + (sorted[sorted.length / 2] as number)) / 2,
      minSec: sorted[0] as number,
      packagesInstalled: r.installed,
    };
  });
}
