// Running wrk (pinned to the client core) against one URL with fixed headers, reading exact
// counts back through a Lua `done` hook (no per-response Lua, which would slow wrk down).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { assertLoopback } from './http.ts';
import { runAsync } from './procs.ts';
import { CLIENT_CORE, cpuSecondsOf } from './servers.ts';

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  bytesPerResponse: number;
  /** Responses that were not 2xx/3xx, plus socket errors and timeouts. */
  errors: number;
  p50ms: number;
  p99ms: number;
  /** Share of one core the server used during the measurement (1 = saturated). */
  serverCpu: number | null;
}

export interface WrkOptions {
  url: string;
  headers: Record<string, string>;
  durationSec: number;
  connections: number;
  workDir: string;
  label: string;
  /** The server's pid, to report how busy its core was. */
  serverPid?: number;
}

const luaString = (s: string) => JSON.stringify(s); // JSON string escapes are valid Lua for ASCII

function script(headers: Record<string, string>): string {
  const lines = Object.entries(headers).map(([k, v]) => `wrk.headers[${luaString(k)}] = ${luaString(v)}`);
  return `${lines.join('\n')}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;
}

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  assertLoopback(o.url);
  mkdirSync(o.workDir, { recursive: true });
  const safe = o.label.replace(/[^a-z0-9_-]+/gi, '_');
  const lua = path.join(o.workDir, `${safe}.lua`);
  const out = path.join(o.workDir, `${safe}.out`);
  writeFileSync(lua, script(o.headers));
  writeFileSync(out, '');
  const args = ['-c', CLIENT_CORE, 'wrk', '-t1', `-c${o.connections}`, `-d${o.durationSec}s`, '--timeout', '30s', '-s', lua, o.url];
  // wrk stops by itself after -d; the timeout is a safety net.
  const cpu0 = o.serverPid ? cpuSecondsOf(o.serverPid) : 0;
  const code = await runAsync(`wrk ${o.label}`, 'taskset', args, { logFile: out, timeoutMs: (o.durationSec + 60) * 1000 });
  const cpu1 = o.serverPid ? cpuSecondsOf(o.serverPid) : 0;
  const text = readFileSync(out, 'utf8');
  const m = /WRK_JSON (\{.*\})/.exec(text);
  if (code !== 0 || !m) throw new Error(`wrk ${o.label} failed (exit ${String(code)}):\n${text.slice(-2000)}`);
  const j = JSON.parse(m[1] as string) as { requests: number; duration_us: number; bytes: number; errors: number; p50_us: number; p99_us: number };
  const seconds = j.duration_us / 1e6;
  return {
    requests: j.requests,
    seconds,
    rps: j.requests / seconds,
    bytesPerResponse: j.requests > 0 ? j.bytes / j.requests : 0,
    errors: j.errors,
    p50ms: j.p50_us / 1000,
    p99ms: j.p99_us / 1000,
    serverCpu: o.serverPid ? (cpu1 - cpu0) / seconds : null,
  };
}
