// Gives memory back to the operating system once a burst of work is over.
//
// V8 keeps the pages a garbage collection frees in a pool for reuse, still resident, and only
// its memory reducer returns them. The reducer decides from the allocation rate it sampled at
// the last collection, and an idle Node process runs no collections: after a publish burst that
// rate stays "high" forever, so ~40-50 MiB of pooled pages stay resident for good (measured in
// docs/performance.md). When the server has been quiet for a moment and the process has grown
// since the last trim, one memory-reducing collection returns them.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '../core/logger.ts';

export interface ActivitySnapshot {
  /** Requests started since the process began (any monotonic counter of work). */
  started: number;
  inFlight: number;
}

export interface IdleTrimPolicy {
  /** How long nothing may have started (and nothing be in flight) before a trim. */
  quietMs: number;
  /** Trim only when resident memory grew by at least this much since the last trim. */
  minGrowthBytes: number;
  /** How often activity is sampled. */
  checkEveryMs: number;
}

export const DEFAULT_IDLE_TRIM: IdleTrimPolicy = { quietMs: 2_000, minGrowthBytes: 24 * 1024 * 1024, checkEveryMs: 1_000 };

/** A full, memory-reducing collection; returns false when the runtime offers none. */
export type Collect = () => boolean;

export interface TrimDeps {
  activity: () => ActivitySnapshot;
  collect: Collect;
  rss: () => number;
  now: () => number;
  log: Logger;
}

/** The decision, separate from timers so it can be tested step by step. */
export class IdleMemoryTrim {
  private readonly deps: TrimDeps;
  private readonly policy: IdleTrimPolicy;
  private lastStarted = -1;
  private quietSince: number;
  private baselineRss: number;

  constructor(deps: TrimDeps, policy: IdleTrimPolicy = DEFAULT_IDLE_TRIM) {
    this.deps = deps;
    this.policy = policy;
    this.quietSince = deps.now();
    this.baselineRss = deps.rss();
  }

  /** Samples activity; trims when the policy says so. Returns whether it trimmed. */
  check(): boolean {
    const { started, inFlight } = this.deps.activity();
    const now = this.deps.now();
    if (started !== this.lastStarted || inFlight > 0) {
      this.lastStarted = started;
      this.quietSince = now;
      return false;
    }
    if (now - this.quietSince < this.policy.quietMs) return false;
    const before = this.deps.rss();
    if (before - this.baselineRss < this.policy.minGrowthBytes) return false;
    const t0 = this.deps.now();
    if (!this.deps.collect()) return false;
    const after = this.deps.rss();
    // Whatever is resident after a full collection is the new floor to grow from.
    this.baselineRss = after;
    this.deps.log.debug('returned idle memory', { rssBeforeMiB: mib(before), rssAfterMiB: mib(after), ms: this.deps.now() - t0 });
    return true;
  }
}

const mib = (b: number) => Math.round(b / 104857.6) / 10;

/**
 * The runtime's memory-reducing collection ("last resort": it also releases pooled pages), taken
 * from a private context so `gc` is not exposed to the rest of the process as a global.
 */
export function memoryReducingCollect(): Collect {
  let gc: ((opts: object) => void) | undefined;
  try {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as typeof gc;
  } catch {
    gc = undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  if (typeof gc !== 'function') return () => false;
  const fn = gc;
  return () => {
    fn({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    return true;
  };
}

/** Runs the policy on an unref'd timer (it never keeps the process alive). */
export function startIdleMemoryTrim(activity: () => ActivitySnapshot, log: Logger, policy: IdleTrimPolicy = DEFAULT_IDLE_TRIM): () => void {
  const trim = new IdleMemoryTrim({ activity, collect: memoryReducingCollect(), rss: () => process.memoryUsage.rss(), now: () => performance.now(), log }, policy);
  const timer = setInterval(() => trim.check(), policy.checkEveryMs);
  timer.unref();
  return () => clearInterval(timer);
}
