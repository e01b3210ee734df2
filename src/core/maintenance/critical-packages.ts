// AUTHN-3.3: packages that many people install are critical even when no administrator marked
// them: writes to them need phishing-resistant MFA. A periodic job ranks live packages by their
// downloads over the last 30 days and keeps the ranking's mark (`criticalAuto`) separate from the
// administrator's (`critical`), so neither overwrites the other. Every change of the mark is an
// event (`package.critical-auto`).
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { MetadataStore } from '../../storage/metadata/store.ts';
import { dayOf } from '../packages/download-counter.ts';

export const CRITICAL_WINDOW_DAYS = 30;
export const CRITICAL_RECOMPUTE_INTERVAL_MS = 3_600_000;
/** Beyond this the mark stops meaning "the packages many depend on". Config refuses more too. */
export const MAX_CRITICAL_TOP_PERCENT = 50;

export interface CriticalPolicy {
  /** Percentage of live packages (0: the ranking marks nothing). */
  topPercent: number;
  /** Fewer downloads than this in the window never make a package critical. */
  minDownloads: number;
}

export interface DownloadTotal {
  packageId: number;
  total: number;
}

/**
 * The packages the ranking makes critical: those with at least `minDownloads`, ranked within the
 * top `topPercent` of `livePackages` (rounded up, so one busy package of a small registry counts).
 * A package's rank is 1 + the number of packages with strictly more downloads, so packages tied
 * at the boundary are all in: which of two equally downloaded packages is critical must not
 * depend on row order (and must not flip between runs).
 */
export function selectCritical(totals: ReadonlyArray<DownloadTotal>, livePackages: number, policy: CriticalPolicy): Set<number> {
  const percent = Math.min(policy.topPercent, MAX_CRITICAL_TOP_PERCENT);
  if (!(percent > 0) || livePackages <= 0) return new Set();
  const slots = Math.ceil((livePackages * percent) / 100);
  const ranked = totals.filter((t) => t.total > 0 && t.total >= policy.minDownloads).sort((a, b) => b.total - a.total);
  const boundary = ranked[Math.min(slots, ranked.length) - 1];
  if (!boundary) return new Set();
  return new Set(ranked.filter((t) => t.total >= boundary.total).map((t) => t.packageId));
}

export interface CriticalRecompute {
  critical: number;
  entered: string[];
  left: string[];
}

/** One pass: ranks, then moves the marks that differ and records an event for each, in one transaction. */
export async function recomputeCriticalPackages(store: MetadataStore, policy: CriticalPolicy, clock: Clock, log: Logger): Promise<CriticalRecompute> {
  const now = clock();
  const sinceDay = dayOf(now) - (CRITICAL_WINDOW_DAYS - 1);
  // The aggregate runs outside the transaction: it must not hold the write lock.
  const totals = await store.listDownloadTotals(sinceDay);
  const wanted = selectCritical(totals, await store.countLivePackages(), policy);
  const downloads = new Map(totals.map((t) => [t.packageId, t.total]));
  const result = await store.transaction(async (tx) => {
    const current = new Set(await tx.listCriticalAuto());
    // Conditional updates: when several processes run this at once, each change is made (and recorded) once.
    const entered = await tx.setCriticalAuto([...wanted].filter((id) => !current.has(id)), true);
    const left = await tx.setCriticalAuto([...current].filter((id) => !wanted.has(id)), false);
    for (const [changed, critical] of [[entered, true], [left, false]] as const) {
      for (const p of changed) {
        await tx.insertEvent({
          at: now, type: 'package.critical-auto', actorId: null, ecosystem: p.ecosystem, packageName: p.name, version: null,
          data: { critical, downloads: downloads.get(p.id) ?? 0, windowDays: CRITICAL_WINDOW_DAYS, topPercent: policy.topPercent, minDownloads: policy.minDownloads },
        });
      }
    }
    return { critical: wanted.size, entered: entered.map((p) => p.name), left: left.map((p) => p.name) };
  });
  if (result.entered.length > 0 || result.left.length > 0) {
    log.info('critical packages by downloads changed', { critical: result.critical, entered: result.entered.slice(0, 20), left: result.left.slice(0, 20) });
  }
  return result;
}

/**
 * Runs the ranking now (awaited: the marks are current before the first request is served; a
 * failure is logged, never fatal) and then every `intervalMs`, unref'd. Returns a stop function.
 */
export async function startCriticalPackages(store: MetadataStore, policy: CriticalPolicy, clock: Clock, log: Logger,
  intervalMs: number = CRITICAL_RECOMPUTE_INTERVAL_MS): Promise<() => void> {
  let running = false;
  const run = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      await recomputeCriticalPackages(store, policy, clock, log);
    } catch (e) {
      log.error('ranking critical packages by downloads failed', { error: (e as Error).message });
    } finally {
      running = false;
    }
  };
  await run();
  const timer = setInterval(() => void run(), Math.max(intervalMs, 1000));
  timer.unref();
  return () => clearInterval(timer);
}
