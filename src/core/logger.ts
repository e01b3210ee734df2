// The logging port. Implementations write structured records; callers pass fields, never
// preformatted strings with secrets in them.
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Whether `debug` lines are written: lets hot paths skip building fields nobody reads. */
  readonly debugEnabled: boolean;
}
