// Prometheus metrics without a dependency: counters and a latency histogram with a fixed, small
// label set (route names, never raw paths) so cardinality stays bounded.

const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

const REQUESTS = 'attestry_http_requests_total';

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export class Metrics {
  private readonly counters = new Map<string, Map<string, number>>();
  private readonly help = new Map<string, string>();
  private readonly histograms = new Map<string, Histogram>();
  private readonly started = Date.now();
  /** Request counts by route, method and status. */
  private readonly requests = new Map<string, Map<string, Map<number, { labels: string; count: number }>>>();

  inc(name: string, labels: Record<string, string>, by = 1, help = ''): void {
    if (help) this.help.set(name, help);
    let series = this.counters.get(name);
    if (!series) this.counters.set(name, (series = new Map()));
    const key = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
    series.set(key, (series.get(key) ?? 0) + by);
  }

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    // The hot path: nested lookups on values the request already has, no string built.
    let byMethod = this.requests.get(route);
    if (!byMethod) this.requests.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (!series) {
      series = { labels: `route="${escapeLabel(route)}",method="${escapeLabel(method)}",status="${status}"`, count: 0 };
      byStatus.set(status, series);
    }
    series.count++;
    let h = this.histograms.get(route);
    if (!h) this.histograms.set(route, (h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= (BUCKETS[i] ?? Infinity)) h.counts[i] = (h.counts[i] ?? 0) + 1;
    h.sum += seconds;
    h.count++;
  }

  render(): string {
    const lines: string[] = [];
    if (this.requests.size > 0) {
      lines.push(`# HELP ${REQUESTS} HTTP requests by route, method and status`, `# TYPE ${REQUESTS} counter`);
      for (const byMethod of this.requests.values()) {
        for (const byStatus of byMethod.values()) for (const { labels, count } of byStatus.values()) lines.push(`${REQUESTS}{${labels}} ${count}`);
      }
    }
    for (const [name, series] of this.counters) {
      lines.push(`# HELP ${name} ${this.help.get(name) ?? name}`, `# TYPE ${name} counter`);
      for (const [labels, v] of series) lines.push(`${name}{${labels}} ${v}`);
    }
    const hn = 'attestry_http_request_duration_seconds';
    lines.push(`# HELP ${hn} Request latency by route`, `# TYPE ${hn} histogram`);
    for (const [route, h] of this.histograms) {
      const r = escapeLabel(route);
      BUCKETS.forEach((b, i) => lines.push(`${hn}_bucket{route="${r}",le="${b}"} ${h.counts[i]}`));
      lines.push(`${hn}_bucket{route="${r}",le="+Inf"} ${h.count}`, `${hn}_sum{route="${r}"} ${h.sum}`, `${hn}_count{route="${r}"} ${h.count}`);
    }
    const mem = process.memoryUsage();
    lines.push('# HELP attestry_process_resident_memory_bytes Resident set size', '# TYPE attestry_process_resident_memory_bytes gauge', `attestry_process_resident_memory_bytes ${mem.rss}`);
    lines.push('# HELP attestry_process_uptime_seconds Uptime', '# TYPE attestry_process_uptime_seconds gauge', `attestry_process_uptime_seconds ${(Date.now() - this.started) / 1000}`);
    return `${lines.join('\n')}\n`;
  }
}
