// Structured JSON logs, one object per line. Fields whose names look like credentials are
// replaced before writing, as a last line of defence behind "never pass secrets to the logger".
import type { Logger } from '../core/logger.ts';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

const SECRET_KEY = /pass(word)?|secret|token$|^token|authorization|cookie|otp/i;
const SAFE_KEYS = new Set(['token_id', 'tokenId']);

function scrub(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET_KEY.test(k) && !SAFE_KEYS.has(k) && typeof v === 'string') out[k] = '[redacted]';
    else out[k] = v;
  }
  return out;
}

export function createJsonLogger(level: Level, write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const min = LEVELS[level];
  const emit = (lvl: Level, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < min) return;
    const record = { time: new Date().toISOString(), level: lvl, msg, ...(fields ? scrub(fields) : {}) };
    write(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
