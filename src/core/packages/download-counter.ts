// Download counts for the "critical by downloads" ranking (AUTHN-3.3). Reads are the hot path: a
// served tarball only bumps a number in memory; the counts reach the store as increments, all in
// one transaction, once a minute and at shutdown. Increments (not totals) let several server
// processes on one database add up. A failed flush keeps its counts for the next one; counts of a
// process that is killed without shutting down are lost — an approximation the ranking tolerates.
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { DownloadCount, MetadataStore } from '../../storage/metadata/store.ts';

export const DAY_MS = 86_400_000;
export const DEFAULT_FLUSH_INTERVAL_MS = 60_000;

/** Days since the epoch, in UTC: the unit downloads are stored in. */
export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS);

export class DownloadCounter {
  private readonly store: MetadataStore;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** day → package id → downloads not yet stored. */
  private pending = new Map<number, Map<number, number>>();
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(store: MetadataStore, clock: Clock, log: Logger) {
    this.store = store;
    this.clock = clock;
    this.log = log;
  }

  /** One full download of a package; never touches the store. */
  record(packageId: number): void {
    const day = dayOf(this.clock());
    let counts = this.pending.get(day);
    if (!counts) this.pending.set(day, (counts = new Map()));
    counts.set(packageId, (counts.get(packageId) ?? 0) + 1);
  }

  /** Downloads counted and not yet stored (for tests and metrics). */
  pendingTotal(): number {
    let n = 0;
    for (const counts of this.pending.values()) for (const c of counts.values()) n += c;
    return n;
  }

  /**
   * Stores what was counted so far in one transaction. On failure the counts go back into the
   * pending set (merged with what was counted meanwhile) and the error is thrown. Flushes never
   * overlap: a call during a flush waits for it and then flushes what came in since.
   */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.pending.size === 0) return;
    const taken = this.pending;
    this.pending = new Map();
    const rows: DownloadCount[] = [];
    for (const [day, counts] of taken) for (const [packageId, count] of counts) rows.push({ packageId, day, count });
    const run = this.store.transaction((tx) => tx.addDownloads(rows));
    this.flushing = run;
    try {
      await run;
    } catch (e) {
      this.restore(taken);
      throw e;
    } finally {
      if (this.flushing === run) this.flushing = null;
    }
  }

  /** Flushes every `intervalMs` (unref'd: never keeps the process alive). */
  start(intervalMs: number = DEFAULT_FLUSH_INTERVAL_MS): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.flush().catch((e: unknown) => this.log.error('storing download counts failed; they are kept for the next attempt', { error: (e as Error).message, pending: this.pendingTotal() }));
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and stores what is left (shutdown); a failure is logged, not thrown. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      await this.flush();
    } catch (e) {
      this.log.error('storing download counts at shutdown failed; they are lost', { error: (e as Error).message, lost: this.pendingTotal() });
    }
  }

  private restore(taken: Map<number, Map<number, number>>): void {
    for (const [day, counts] of taken) {
      let into = this.pending.get(day);
      if (!into) this.pending.set(day, (into = new Map()));
      for (const [packageId, count] of counts) into.set(packageId, (into.get(packageId) ?? 0) + count);
    }
  }
}
