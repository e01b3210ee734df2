// The seam between the shared SQL store and an engine. Statements are written once with `?`
// placeholders; each driver adapts them (PostgreSQL rewrites them to $1…$n).

export type SqlValue = string | number | null | Uint8Array;

export interface SqlExecutor {
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
}

export interface SqlDatabase extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * Runs `fn` in one write transaction. Transactions never interleave on a connection; a unique
   * violation surfaces as a `UniqueViolation` so callers can tell "somebody else won" from a fault.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * A value that changes whenever any connection (this process's or another's) commits, cheap
   * enough to call per request; null when the engine cannot provide one.
   */
  changeMarker(): string | null;
  /** Applies raw DDL (migrations); may contain several statements. */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

export { UniqueViolation } from '../store.ts';
