// CPU accounting from /proc: how much of a core a process used, and how much of each core
// went to *other* processes during a measurement (this machine may be shared; a measurement
// taken while something else ran on the server's or the client's core is not trusted).
import { readdirSync, readFileSync } from 'node:fs';

/** Linux USER_HZ: /proc reports CPU time in these ticks. */
const TICKS_PER_SEC = 100;

/** CPU seconds (user + system, all threads) a process has used so far; NaN once it is gone. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SEC;
  } catch {
    return NaN;
  }
}

/** Seconds each core spent running tasks (user, nice, system) or stolen by the hypervisor. */
function coreBusySeconds(): number[] {
  const out: number[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const [user, nice, system, , , , , steal] = (m[2] as string).trim().split(/\s+/).map(Number);
    out[Number(m[1])] = ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (steal ?? 0)) / TICKS_PER_SEC;
  }
  return out;
}

export interface CoreWatch {
  /** Share of each watched core used by processes other than the ones we own there. */
  stop(): { seconds: number; others: Record<number, number>; own: Record<number, number> };
}

/**
 * Starts watching cores: `owners` maps a core to the pids we expect on it (their CPU time is
 * subtracted). Pids that may exit before stop() (wrk) are sampled until they do.
 */
export function watchCores(owners: Record<number, () => number[]>): CoreWatch {
  const t0 = process.hrtime.bigint();
  const busy0 = coreBusySeconds();
  // Per core: pid -> CPU seconds when first seen, and when last seen (processes may exit meanwhile).
  const base = new Map<number, Map<number, number>>();
  const last = new Map<number, Map<number, number>>();
  let first = true;
  const sample = () => {
    for (const [core, pids] of Object.entries(owners)) {
      const c = Number(core);
      const b = base.get(c) ?? new Map<number, number>();
      const l = last.get(c) ?? new Map<number, number>();
      base.set(c, b);
      last.set(c, l);
      for (const pid of pids()) {
        const s = cpuSecondsOf(pid);
        if (Number.isNaN(s)) continue;
        // A process first seen after the start was started meanwhile: it had used nothing.
        if (!b.has(pid)) b.set(pid, first ? s : 0);
        l.set(pid, s);
      }
    }
    first = false;
  };
  sample();
  const timer = setInterval(sample, 100);
  return {
    stop() {
      sample();
      clearInterval(timer);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const busy1 = coreBusySeconds();
      const others: Record<number, number> = {};
      const own: Record<number, number> = {};
      for (const core of Object.keys(owners)) {
        const c = Number(core);
        let mine = 0;
        for (const [pid, s] of last.get(c) ?? []) mine += s - (base.get(c)?.get(pid) ?? 0);
        own[c] = mine / seconds;
        others[c] = Math.max(0, ((busy1[c] ?? 0) - (busy0[c] ?? 0) - mine) / seconds);
      }
      return { seconds, others, own };
    },
  };
}

/** A process and all its descendants (nginx's workers, npm's children). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length && i < 1000; i++) {
    try {
      const p = out[i] as number;
      for (const tid of readdirSync(`/proc/${p}/task`)) {
        const kids = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(' ').map(Number));
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
