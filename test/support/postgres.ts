// PostgreSQL for tests: when ATTESTRY_TEST_POSTGRES_URL names a server (CI starts one), each
// registry under test gets a fresh database of its own, dropped afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_URL = process.env.ATTESTRY_TEST_POSTGRES_URL;

export async function createDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!POSTGRES_URL) throw new Error('ATTESTRY_TEST_POSTGRES_URL is not set');
  const name = `attestry_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export type StoreKind = 'sqlite' | 'postgres';

/** The stores every integration suite runs against: SQLite always, PostgreSQL when available (always in CI). */
export function storesUnderTest(): StoreKind[] {
  if (POSTGRES_URL) return ['sqlite', 'postgres'];
  if (process.env.CI) throw new Error('CI must provide ATTESTRY_TEST_POSTGRES_URL so the suite runs on PostgreSQL too');
  return ['sqlite'];
}
