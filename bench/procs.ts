// Child processes the benchmark starts: each runs in its own process group so that stopping it
// also stops whatever it forked (nginx workers, npm's children). Everything started here is
// stopped on normal exit, on error, and on SIGINT/SIGTERM.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string | undefined;
  exited: Promise<number | null>;
  exitCode: number | null | undefined;
}

const running = new Set<Proc>();

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr go here (appended); absent: ignored. */
  logFile?: string;
}

export function start(name: string, cmd: string, args: string[], opts: StartOptions = {}): Proc {
  let fd: number | undefined;
  if (opts.logFile) {
    mkdirSync(path.dirname(opts.logFile), { recursive: true });
    fd = openSync(opts.logFile, 'a');
  }
  const spawnOpts: SpawnOptions = {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true, // own process group: stop() signals the whole group
    stdio: ['ignore', fd ?? 'ignore', fd ?? 'ignore'],
  };
  const child = spawn(cmd, args, spawnOpts);
  if (fd !== undefined) closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const proc: Proc = {
    name,
    child,
    pid: child.pid,
    logFile: opts.logFile,
    exitCode: undefined,
    exited: new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        proc.exitCode = code ?? (signal ? -1 : null);
        running.delete(proc);
        resolve(proc.exitCode);
      });
      child.on('error', () => {
        proc.exitCode = -1;
        running.delete(proc);
        resolve(-1);
      });
    }),
  };
  running.add(proc);
  return proc;
}

function signalGroup(p: Proc, sig: NodeJS.Signals): void {
  try {
    process.kill(-p.pid, sig);
  } catch {
    try {
      process.kill(p.pid, sig);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM to the process group, SIGKILL after `graceMs`. */
export async function stop(p: Proc, graceMs = 5000): Promise<void> {
  if (p.exitCode !== undefined) return;
  signalGroup(p, 'SIGTERM');
  // Unreferenced timers: a pending grace period must not keep the bench alive once all is done.
  const done = await Promise.race([p.exited.then(() => true), sleep(graceMs, false, { ref: false })]);
  if (!done) {
    signalGroup(p, 'SIGKILL');
    await Promise.race([p.exited, sleep(2000, undefined, { ref: false })]);
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => stop(p)));
}

let installed = false;

/** Stops every started process when this one ends, however it ends. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    for (const p of running) signalGroup(p, 'SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}: stopping ${running.size} child process(es)\n`);
      void stopAll().finally(() => process.exit(130));
    });
  }
}

/** Runs a command to completion (synchronously), throwing with its output on failure. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${String(r.status)}:\n${r.stdout}\n${r.stderr}`.slice(0, 4000));
  return r.stdout;
}

/** Runs a command asynchronously in its own process group (tracked, so SIGINT stops it). */
export async function runAsync(name: string, cmd: string, args: string[], opts: StartOptions & { timeoutMs: number }): Promise<number | null> {
  const p = start(name, cmd, args, opts);
  const timer = setTimeout(() => void stop(p), opts.timeoutMs);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}
