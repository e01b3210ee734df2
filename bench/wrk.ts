// Running wrk (pinned to the client core) against one URL with fixed headers, reading exact
// counts back through a Lua `done` hook (no per-response Lua, which would slow wrk down).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { watchCores } from './cpu.ts';
import { assertLoopback } from './http.ts';
import { start, stop } from './procs.ts';
import { CLIENT_CORE, SERVER_CORE } from './servers.ts';

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
  /** Share of the server's and the client's core used by other processes meanwhile. */
  othersOnServerCore: number;
  othersOnClientCore: number;
}

export interface WrkOptions {
  url: string;
  headers: Record<string, string>;
  durationSec: number;
  connections: number;
  workDir: string;
  label: string;
  /** The server's pids (all on the server core), to report how busy it was and who else ran there. */
  serverPids: number[];
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
  let wrkPid = 0;
  const watch = watchCores({ [Number(SERVER_CORE)]: () => o.serverPids, [Number(CLIENT_CORE)]: () => (wrkPid ? [process.pid, wrkPid] : [process.pid]) });
  const p = start(`wrk ${o.label}`, 'taskset', args, { logFile: out });
  wrkPid = p.pid; // taskset execs wrk: same pid
  // wrk stops by itself after -d; the timer is a safety net.
  const timer = setTimeout(() => void stop(p), (o.durationSec + 60) * 1000);
  const code = await p.exited.finally(() => clearTimeout(timer));
  const cores = watch.stop();
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
    serverCpu: o.serverPids.length > 0 ? (cores.own[Number(SERVER_CORE)] ?? 0) : null,
    othersOnServerCore: cores.others[Number(SERVER_CORE)] ?? 0,
    othersOnClientCore: cores.others[Number(CLIENT_CORE)] ?? 0,
  };
}
