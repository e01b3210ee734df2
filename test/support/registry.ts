// Starts the real registry as a child process (`attestry serve`) on an ephemeral port, exactly
// as an operator would, and gives tests its URL, its logs and a way to stop or kill it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NODE, ROOT } from './paths.ts';
import { createDatabase, type StoreKind } from './postgres.ts';

export interface TestRegistry {
  url: string;
  store: StoreKind;
  dataDir: string;
  env: Record<string, string>;
  proc: ChildProcess;
  logs: string[];
  /** Parsed JSON log records. */
  records(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
  /** SIGKILL, then wait for the exit: a crash, not a shutdown. */
  kill9(): Promise<void>;
  /** Starts a new process on the same data (and database) after a stop or a crash; `env` replaces the extra settings. */
  restart(env?: Record<string, string>): Promise<TestRegistry>;
  /** Removes the data directory and database. */
  destroy(): Promise<void>;
}

export interface StartOptions {
  store?: StoreKind;
  env?: Record<string, string>;
  dataDir?: string;
  databaseUrl?: string;
  dropDatabase?: () => Promise<void>;
}

export async function startRegistry(options: StartOptions = {}): Promise<TestRegistry> {
  const store = options.store ?? 'sqlite';
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'attestry-test-'));
  let databaseUrl = options.databaseUrl;
  let dropDatabase = options.dropDatabase;
  if (store === 'postgres' && !databaseUrl) {
    const db = await createDatabase();
    databaseUrl = db.url;
    dropDatabase = db.drop;
  }
  const env: Record<string, string> = {
    ATTESTRY_HOST: '127.0.0.1',
    ATTESTRY_PORT: '0',
    ATTESTRY_DATA_DIR: dataDir,
    ATTESTRY_LOG_LEVEL: 'info',
    // Scenarios about npm's wire protocol run without the account-security gates (verified email,
    // a second factor for writes); account-security scenarios turn them back on (their defaults).
    ATTESTRY_REQUIRE_VERIFIED_EMAIL: 'false',
    ATTESTRY_REQUIRE_MFA: 'false',
    ...(databaseUrl ? { ATTESTRY_DATABASE_URL: databaseUrl } : {}),
    ...options.env,
  };
  // The registry sees only the ATTESTRY_* settings this test chose, never the developer's own.
  const inherited = Object.entries(process.env).filter(([k]) => !k.startsWith('ATTESTRY_'));
  const childEnv: NodeJS.ProcessEnv = { ...Object.fromEntries(inherited), ...env };
  const proc = spawn(NODE, [path.join(ROOT, 'src/cli/main.ts'), 'serve'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  let buffered = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`registry did not start in time:\n${logs.join('\n')}`)), 20_000);
    proc.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        logs.push(line);
        if (line.includes('"registry listening"')) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { url: string }).url);
        }
      }
    });
    proc.stderr?.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`registry exited with ${code} before listening:\n${logs.join('\n')}`));
    });
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const registry: TestRegistry = {
    url,
    store,
    dataDir,
    env,
    proc,
    logs,
    records: () => logs.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
    restart: (extra?: Record<string, string>) => startRegistry({ store, env: extra ?? options.env, dataDir, databaseUrl, dropDatabase }),
    async destroy() {
      await registry.stop();
      await dropDatabase?.();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return registry;
}
