// SQLite through node:sqlite. One connection per process; transactions are serialised by an
// in-process queue (async handlers would otherwise interleave statements on the connection) and
// use BEGIN IMMEDIATE so several processes sharing the file queue on the busy timeout instead
// of failing with "database is locked" halfway through.
import { DatabaseSync, type StatementSync, type SQLInputValue } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { UniqueViolation, type SqlDatabase, type SqlExecutor, type SqlValue } from '../sql/driver.ts';

const BUSY_TIMEOUT_MS = 10_000;
/**
 * How long a read of PRAGMA data_version (which only moves for other connections' commits) is
 * reused. Commits of this process are counted directly and seen at once; another process's
 * commit is seen by this process's caches at most this late.
 */
export const CROSS_PROCESS_STALENESS_MS = 1;

export class SqliteDatabase implements SqlDatabase {
  readonly dialect = 'sqlite';
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly executor: SqlExecutor;
  private commits = 0;
  private dataVersion = 0;
  private dataVersionAt = -Infinity;
  private marker = '';
  private markerCommits = -1;
  private markerDataVersion = -1;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.db = new DatabaseSync(file, { timeout: BUSY_TIMEOUT_MS });
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA synchronous = NORMAL');
    this.db.exec('PRAGMA foreign_keys = ON');
    const guarded = <T>(fn: () => T): Promise<T> => {
      try {
        return Promise.resolve(fn());
      } catch (e) {
        return Promise.reject(mapError(e));
      }
    };
    this.executor = {
      all: <T>(sql: string, params: readonly SqlValue[] = []) => guarded(() => this.prepare(sql).all(...(params as SQLInputValue[])) as T[]),
      get: <T>(sql: string, params: readonly SqlValue[] = []) => guarded(() => this.prepare(sql).get(...(params as SQLInputValue[])) as T | undefined),
      run: (sql: string, params: readonly SqlValue[] = []) => guarded(() => {
        const changes = Number(this.prepare(sql).run(...(params as SQLInputValue[])).changes);
        // A write outside a transaction commits on its own.
        if (!this.db.isTransaction && changes > 0) this.commits++;
        return { changes };
      }),
    };
  }

  private prepare(sql: string): StatementSync {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.executor.all<T>(sql, params);
  }
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.executor.get<T>(sql, params);
  }
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    return this.executor.run(sql, params);
  }

  async exec(sql: string): Promise<void> {
    this.db.exec(sql);
    this.commits++;
  }

  changeMarker(): string {
    const now = performance.now();
    if (now - this.dataVersionAt >= CROSS_PROCESS_STALENESS_MS) {
      this.dataVersion = Number((this.prepare('PRAGMA data_version').get() as { data_version: number }).data_version);
      this.dataVersionAt = now;
    }
    // Asked on every read: build the string only when one of its parts moved.
    if (this.commits !== this.markerCommits || this.dataVersion !== this.markerDataVersion) {
      this.markerCommits = this.commits;
      this.markerDataVersion = this.dataVersion;
      this.marker = `${this.commits}.${this.dataVersion}`;
    }
    return this.marker;
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.executor);
        this.db.exec('COMMIT');
        this.commits++;
        return result;
      } catch (e) {
        if (this.db.isTransaction) this.db.exec('ROLLBACK');
        throw mapError(e);
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.queue;
    this.db.close();
  }
}

function mapError(e: unknown): unknown {
  if (e instanceof Error && /UNIQUE constraint failed|PRIMARY KEY constraint failed/.test(e.message)) {
    return new UniqueViolation(e.message);
  }
  return e;
}
