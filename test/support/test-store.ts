// A migrated metadata store on either engine, for unit tests that run against SQLite (in memory)
// and PostgreSQL (a fresh database, dropped by close()).
import { migrate } from '../../src/storage/metadata/sql/migrations.ts';
import type { SqlDatabase } from '../../src/storage/metadata/sql/driver.ts';
import { SqlMetadataStore } from '../../src/storage/metadata/sql/sql-store.ts';
import { PostgresDatabase } from '../../src/storage/metadata/postgres/postgres-database.ts';
import { SqliteDatabase } from '../../src/storage/metadata/sqlite/sqlite-database.ts';
import { createDatabase, type StoreKind } from './postgres.ts';

export interface TestStore {
  db: SqlDatabase;
  store: SqlMetadataStore;
  close(): Promise<void>;
}

export async function openTestStore(kind: StoreKind): Promise<TestStore> {
  let db: SqlDatabase;
  let drop: (() => Promise<void>) | undefined;
  if (kind === 'postgres') {
    const created = await createDatabase();
    drop = created.drop;
    db = new PostgresDatabase(created.url, 4);
  } else {
    db = new SqliteDatabase(':memory:');
  }
  await migrate(db);
  const store = new SqlMetadataStore(db);
  return {
    db, store,
    async close() {
      await store.close();
      await drop?.();
    },
  };
}
