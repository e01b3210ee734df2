// `npm run bench:transparency`: what the transparency log costs (issue 7's budgets).
// (a) Appending per publish. In this process, on a SQLite file in a temp dir: write transactions
//     with one event (A) and with the same event plus appendLogEntry (B), interleaved ABBA so drift
//     hits both alike; the log's cost is median(B) − median(A), and the time inside appendLogEntry
//     itself is reported too. For context, sequential publishes against a real server (which
//     appends in the publish transaction) give the end-to-end publish median.
// (b) Auditing 100,000 entries: a log of that size built with the pure modules, served from a local
//     HTTP server (tlog-tiles paths), audited by `attestry log audit` as a child process, end to end,
//     cold (no tile cache) and warm (full tiles cached in the state dir).
// (c) The same audit with tiles served by the real registry from its own store.
// Results: printed, and bench/.work/transparency-results.json.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeEntry, releasePublished } from '../src/core/transparency/entry.ts';
import { migrate } from '../src/storage/metadata/sql/migrations.ts';
import { SqlMetadataStore } from '../src/storage/metadata/sql/sql-store.ts';
import { SqliteDatabase } from '../src/storage/metadata/sqlite/sqlite-database.ts';
import { createUser } from '../test/support/accounts.ts';
import { FakeLog } from '../test/support/fake-tlog.ts';
import { publishBody, putPublish } from '../test/support/publish-body.ts';
import { startRegistry } from '../test/support/registry.ts';
import { loadConfig } from '../src/config/config.ts';
import { openStorage } from '../src/app.ts';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH_DIR);
const WORK = path.join(BENCH_DIR, '.work');

const { values } = parseArgs({ options: {
  count: { type: 'string', default: '2000' }, publishes: { type: 'string', default: '200' }, entries: { type: 'string', default: '100000' },
  'skip-server': { type: 'boolean', default: false },
} });
const COUNT = Number(values.count);
const PUBLISHES = Number(values.publishes);
const ENTRIES = Number(values.entries);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const ms = (x: number) => `${x.toFixed(3)} ms`;

function entryFor(i: number): Uint8Array {
  return encodeEntry(releasePublished({ ecosystem: 'npm', name: `pkg-${i % 5000}`, version: `1.0.${i}`, at: 1_780_000_000_000 + i, artifacts: [{ filename: `pkg-${i % 5000}-1.0.${i}.tgz`, sha512: 'ab'.repeat(64), sha1: 'cd'.repeat(20), size: 1234 }], provenance: null, publisher: { kind: 'user', ref: 'bench' } }));
}

async function appendCost(): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attestry-bench-tlog-'));
  const db = new SqliteDatabase(path.join(dir, 'db.sqlite'));
  await migrate(db);
  const store = new SqlMetadataStore(db);
  const event = (i: number) => ({ at: Date.now(), type: 'bench.event', actorId: null, ecosystem: 'npm', packageName: `pkg-${i}`, version: null, data: { i } });
  const a: number[] = [];
  const b: number[] = [];
  const inside: number[] = [];
  let n = 0;
  // Pre-grow the log so appends are not all at tiny tree sizes.
  for (let i = 0; i < 1000; i++) await store.transaction((tx) => tx.appendLogEntry({ at: 0, kind: 'release.published', ecosystem: 'npm', packageName: 'warm', version: `0.0.${i}`, entry: entryFor(i) }));
  const runA = async () => {
    const t = performance.now();
    await store.transaction((tx) => tx.insertEvent(event(n++)));
    a.push(performance.now() - t);
  };
  const runB = async () => {
    const i = n++;
    const t = performance.now();
    await store.transaction(async (tx) => {
      await tx.insertEvent(event(i));
      const t1 = performance.now();
      await tx.appendLogEntry({ at: i, kind: 'release.published', ecosystem: 'npm', packageName: `pkg-${i}`, version: `1.0.${i}`, entry: entryFor(i) });
      inside.push(performance.now() - t1);
    });
    b.push(performance.now() - t);
  };
  for (let i = 0; i < COUNT / 2; i++) {
    // ABBA
    if (i % 2 === 0) {
      await runA();
      await runB();
    } else {
      await runB();
      await runA();
    }
  }
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return { transactionsEach: a.length, medianWithoutLogMs: median(a), medianWithLogMs: median(b), appendAddsMs: median(b) - median(a), medianInsideAppendMs: median(inside) };
}

async function serverPublishes(): Promise<Record<string, number>> {
  const config = path.join(mkdtempSync(path.join(os.tmpdir(), 'attestry-bench-cfg-')), 'config.json');
  writeFileSync(config, JSON.stringify({ transparency: { checkpointIntervalSeconds: 5 } }));
  const registry = await startRegistry({ env: { ATTESTRY_CONFIG: config } });
  try {
    const user = await createUser(registry.url, 'bench');
    const times: number[] = [];
    for (let i = 0; i < PUBLISHES + 20; i++) {
      const body = publishBody({ name: `bench-${Math.floor(i / 10)}`, version: `1.0.${i % 10}` });
      const t = performance.now();
      const res = await putPublish(registry.url, user.token, body);
      if (res.status !== 201) throw new Error(`publish answered ${res.status}`);
      if (i >= 20) times.push(performance.now() - t);
    }
    return { publishes: times.length, medianPublishMs: median(times) };
  } finally {
    await registry.destroy();
  }
}

function runCli(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string; seconds: number }> {
  return new Promise((resolve) => {
    const t = performance.now();
    const child = spawn(process.execPath, [path.join(ROOT, 'src/cli/main.ts'), ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr, seconds: (performance.now() - t) / 1000 }));
  });
}

async function auditCost(): Promise<Record<string, number>> {
  const built = performance.now();
  const fake = await new FakeLog().start();
  for (let i = 0; i < ENTRIES; i++) fake.append(Buffer.from(entryFor(i)));
  const buildSeconds = (performance.now() - built) / 1000;
  try {
    return { buildSeconds, ...(await auditTwice(fake.url)) };
  } finally {
    await fake.close();
  }
}

/** `attestry log audit` end to end, cold (empty state dir) then warm (full tiles cached). */
async function auditTwice(registryUrl: string): Promise<Record<string, number>> {
  const state = mkdtempSync(path.join(os.tmpdir(), 'attestry-bench-audit-'));
  try {
    const cold = await runCli(['log', 'audit', '--registry', registryUrl, '--state', state, '--json'], {});
    if (cold.status !== 0) throw new Error(`audit failed: ${cold.stdout}${cold.stderr}`);
    const warm = await runCli(['log', 'audit', '--registry', registryUrl, '--state', state, '--json'], {});
    if (warm.status !== 0) throw new Error(`audit failed: ${warm.stdout}${warm.stderr}`);
    const report = JSON.parse(cold.stdout) as { size: number; seconds: number };
    return { entries: report.size, coldAuditSeconds: cold.seconds, coldAuditInsideSeconds: report.seconds, warmAuditSeconds: warm.seconds };
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

/**
 * (c) The same audit against the real registry: ENTRIES entries appended to a registry's own
 * SQLite store (as publishes append them, in batches of transactions), the registry started on
 * that data directory, its tiles served by the real routes.
 */
async function auditRealCost(): Promise<Record<string, number>> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'attestry-bench-audit-real-'));
  const built = performance.now();
  const { store } = await openStorage(loadConfig({ ATTESTRY_DATA_DIR: dataDir }));
  try {
    for (let i = 0; i < ENTRIES; i += 1000) {
      await store.transaction(async (tx) => {
        for (let j = i; j < Math.min(ENTRIES, i + 1000); j++) {
          await tx.appendLogEntry({ at: j, kind: 'release.published', ecosystem: 'npm', packageName: `pkg-${j % 5000}`, version: `1.0.${j}`, entry: entryFor(j) });
        }
      });
    }
  } finally {
    await store.close();
  }
  const buildSeconds = (performance.now() - built) / 1000;
  const registry = await startRegistry({ dataDir });
  try {
    return { buildSeconds, ...(await auditTwice(registry.url)) };
  } finally {
    await registry.destroy();
  }
}

const results: Record<string, unknown> = { at: new Date().toISOString(), cpus: os.cpus().length, node: process.version };
results.append = await appendCost();
console.log('append (in-process SQLite, per transaction):', results.append);
if (!values['skip-server']) {
  results.server = await serverPublishes();
  console.log('publish against a real server (log included):', results.server);
}
results.audit = await auditCost();
console.log(`audit of ${ENTRIES} entries (tiles from an in-test server):`, results.audit);
if (!values['skip-server']) {
  results.auditReal = await auditRealCost();
  console.log(`audit of ${ENTRIES} entries (tiles from the real registry):`, results.auditReal);
}
const a = results.append as Record<string, number>;
const au = results.audit as Record<string, number>;
console.log(`\nappend adds ${ms(a.appendAddsMs ?? Number.NaN)} per publish (budget 1 ms): ${(a.appendAddsMs ?? 99) < 1 ? 'OK' : 'OVER'}`);
console.log(`audit of ${au.entries} entries: ${(au.coldAuditSeconds ?? 0).toFixed(1)} s end to end (budget 30 s): ${(au.coldAuditSeconds ?? 99) < 30 ? 'OK' : 'OVER'}`);
const ar = results.auditReal as Record<string, number> | undefined;
if (ar) console.log(`audit of ${ar.entries} entries from the real registry: ${(ar.coldAuditSeconds ?? 0).toFixed(1)} s end to end (budget 30 s): ${(ar.coldAuditSeconds ?? 99) < 30 ? 'OK' : 'OVER'}`);
mkdirSync(WORK, { recursive: true });
writeFileSync(path.join(WORK, 'transparency-results.json'), `${JSON.stringify(results, null, 2)}\n`);
