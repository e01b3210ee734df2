// Structured JSON logs, one object per line. Fields whose names look like credentials are
// replaced before writing, as a last line of defence behind "never pass secrets to the logger".
import { writeSync } from 'node:fs';
import type { Logger } from '../core/logger.ts';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

const SECRET_KEY = /pass(word)?|secret|token$|^token|authorization|cookie|otp/i;
const SAFE_KEYS = new Set(['token_id', 'tokenId']);

const MAX_DEPTH = 4;

function scrub(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value)) return value;
  if (depth >= MAX_DEPTH) return '[nested]';
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && !SAFE_KEYS.has(k) && v !== null && v !== undefined ? '[redacted]' : scrub(v, depth + 1);
  }
  return out;
}

/**
 * Standard output, written once per event-loop turn instead of once per line: under load a
 * request log line per request would otherwise cost a system call each. Whatever is pending is
 * written synchronously when the process exits normally.
 */
export function bufferedStdout(): (line: string) => void {
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const chunk = pending.join('');
    pending = [];
    try {
      writeSync(1, chunk);
    } catch {
      // stdout closed or full: logging must never take the registry down.
    }
  };
  process.on('exit', flush);
  return (line) => {
    if (pending.push(line) === 1) setImmediate(flush);
  };
}

export function createJsonLogger(level: Level, write: (line: string) => void = bufferedStdout()): Logger {
  const min = LEVELS[level];
  const emit = (lvl: Level, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < min) return;
    const record: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, msg };
    // A field named like the record's own keys must not disguise the line: it is kept, renamed.
    for (const [k, v] of Object.entries(fields ? (scrub(fields, 0) as Record<string, unknown>) : {})) record[k in record ? `field.${k}` : k] = v;
    write(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    debugEnabled: min <= LEVELS.debug,
  };
}
