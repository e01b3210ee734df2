// PostgreSQL through `pg`. Statements arrive with `?` placeholders and are rewritten once to
// $1…$n (cached). BIGINT columns hold millisecond timestamps and ids, well inside 2^53, so they
// are parsed to numbers for parity with SQLite.
import pg from 'pg';
import { UniqueViolation, type SqlDatabase, type SqlExecutor, type SqlValue } from '../sql/driver.ts';

const INT8_OID = 20;

const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export class PostgresDatabase implements SqlDatabase {
  readonly dialect = 'postgres';
  private readonly pool: pg.Pool;
  private readonly rewritten = new Map<string, string>();

  constructor(url: string, poolSize = 10) {
    this.pool = new pg.Pool({ connectionString: url, max: poolSize, types });
    // An idle client that errors (server restart) must not crash the process.
    this.pool.on('error', () => undefined);
  }

  private sql(text: string): string {
    let out = this.rewritten.get(text);
    if (out === undefined) {
      let n = 0;
      out = text.replace(/\?/g, () => `$${++n}`);
      this.rewritten.set(text, out);
    }
    return out;
  }

  private executor(client: pg.Pool | pg.PoolClient): SqlExecutor {
    const query = async <T>(text: string, params: readonly SqlValue[] = []) => {
      try {
        return await client.query(this.sql(text), params as unknown[]) as pg.QueryResult<T & pg.QueryResultRow>;
      } catch (e) {
        throw mapError(e);
      }
    };
    return {
      all: async <T>(text: string, params?: readonly SqlValue[]) => (await query<T>(text, params)).rows as T[],
      get: async <T>(text: string, params?: readonly SqlValue[]) => (await query<T>(text, params)).rows[0] as T | undefined,
      run: async (text: string, params?: readonly SqlValue[]) => ({ changes: (await query(text, params)).rowCount ?? 0 }),
    };
  }

  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.executor(this.pool).all<T>(sql, params);
  }
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.executor(this.pool).get<T>(sql, params);
  }
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    return this.executor(this.pool).run(sql, params);
  }

  /** Other nodes' commits are invisible without a round trip: callers must ask the database. */
  changeMarker(): null {
    return null;
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(this.executor(client));
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw mapError(e);
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

function mapError(e: unknown): unknown {
  if (e instanceof UniqueViolation) return e;
  if (typeof e === 'object' && e !== null && (e as { code?: string }).code === '23505') {
    return new UniqueViolation((e as Error).message);
  }
  return e;
}
