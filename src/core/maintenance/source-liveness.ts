// BP-8: provenance names a source repository; if that repository later disappears, consumers
// should see it. A periodic job re-checks recorded sources through a pluggable checker and marks
// the result on the attestation (served with the attestations). The default checker makes no
// network calls and decides nothing, so an air-gapped registry never phones out by surprise.
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { MetadataStore } from '../../storage/metadata/store.ts';
import { summaryOf } from '../packages/provenance-service.ts';

export type SourceState = 'live' | 'gone' | 'unknown';

export interface SourceChecker {
  readonly name: string;
  check(repositoryUri: string): Promise<SourceState>;
}

/** Checks nothing: every source stays "unchecked". */
export const noSourceChecker: SourceChecker = { name: 'none', check: async () => 'unknown' };

/**
 * Asks the forge over HTTP: 404 or 410 for the repository URL means gone, 2xx/3xx live, anything
 * else (rate limits, outages, private repositories answering 401) unknown — never "gone" on doubt.
 */
export function httpSourceChecker(options: { timeoutMs?: number; fetchImpl?: typeof fetch } = {}): SourceChecker {
  const fetchImpl = options.fetchImpl ?? fetch;
  return {
    name: 'http',
    async check(uri) {
      if (!/^https?:\/\//.test(uri)) return 'unknown';
      try {
        const res = await fetchImpl(uri, { method: 'HEAD', redirect: 'manual', signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
        if (res.status === 404 || res.status === 410) return 'gone';
        return res.status >= 200 && res.status < 400 ? 'live' : 'unknown';
      } catch {
        return 'unknown';
      }
    },
  };
}

export interface SourceCheckOptions {
  /** A source is re-checked when its last check is older than this. */
  recheckAfterMs: number;
  batch: number;
}

/** One pass: checks the least recently checked sources; returns what it found. */
export async function checkSources(store: MetadataStore, checker: SourceChecker, clock: Clock, log: Logger, o: SourceCheckOptions): Promise<{ checked: number; gone: number }> {
  const now = clock();
  const due = await store.listProvenanceToCheck(now - o.recheckAfterMs, o.batch);
  let gone = 0;
  for (const a of due) {
    const repo = summaryOf(a).sourceRepository;
    const state = repo ? await checker.check(repo) : 'unknown';
    const status = state === 'unknown' ? a.sourceStatus : state;
    await store.setSourceStatus(a.id, status, clock());
    if (status === 'gone' && a.sourceStatus !== 'gone') {
      gone++;
      await store.insertEvent({ at: clock(), type: 'provenance.source-gone', actorId: null, ecosystem: a.ecosystem, packageName: a.packageName, version: a.version, data: { sourceRepository: repo, checker: checker.name } });
      log.warn('the source repository named by a version\'s provenance is gone', { package: a.packageName, version: a.version, sourceRepository: repo });
    }
  }
  return { checked: due.length, gone };
}

/** Runs `checkSources` every `intervalMs` (unref'd: never keeps the process alive); returns a stop function. */
export function startSourceLiveness(store: MetadataStore, checker: SourceChecker, intervalMs: number, clock: Clock, log: Logger): () => void {
  if (intervalMs <= 0) return () => undefined;
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    checkSources(store, checker, clock, log, { recheckAfterMs: intervalMs, batch: 200 })
      .catch((e: unknown) => log.error('source liveness check failed', { error: (e as Error).message }))
      .finally(() => { running = false; });
  }, Math.min(intervalMs, 3_600_000));
  timer.unref();
  return () => clearInterval(timer);
}
