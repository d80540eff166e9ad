import pg from 'pg';
import type { SqlDatabase, SqlExecutor, SqlValue, Row } from './sql.ts';

/** `?` → `$1, $2, …` (our SQL never has `?` inside string literals). */
function numbered(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

/** BIGINT (int8) and COUNT results as JS numbers: our values (epoch ms, counts) fit in 2^53. */
const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'),
};

/** Keys for pg_advisory_lock: serialize migrations of concurrently starting replicas. */
const MIGRATION_LOCK_KEY = 0x76657267; // 'verg'

export class PostgresDatabase implements SqlDatabase {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;

  /** `schema`: every table lives there (created if missing); lets tests isolate runs. */
  constructor(
    connectionString: string,
    private readonly schema: string = 'public',
  ) {
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name '${schema}'`);
    this.pool = new pg.Pool({ connectionString, max: 8, options: `-c search_path=${schema}`, types });
    // an idle client's connection error must not crash the process
    this.pool.on('error', () => undefined);
  }

  private executor(q: pg.Pool | pg.PoolClient): SqlExecutor {
    return {
      all: async <T extends Row>(sql: string, params: SqlValue[] = []) =>
        (await q.query(numbered(sql), params)).rows as T[],
      run: async (sql: string, params: SqlValue[] = []) => (await q.query(numbered(sql), params)).rowCount ?? 0,
      runEach: async (sql: string, rows: SqlValue[][]) => {
        const text = numbered(sql);
        const changes: number[] = [];
        for (const params of rows) changes.push((await q.query(text, params)).rowCount ?? 0);
        return changes;
      },
    };
  }

  all<T extends Row = Row>(sql: string, params?: SqlValue[]): Promise<T[]> {
    return this.executor(this.pool).all<T>(sql, params);
  }

  run(sql: string, params?: SqlValue[]): Promise<number> {
    return this.executor(this.pool).run(sql, params);
  }

  runEach(sql: string, rows: SqlValue[][]): Promise<number[]> {
    // one client for all rows (not one pool checkout per row), in one transaction
    return this.transaction((tx) => tx.runEach(sql, rows));
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const value = await fn(this.executor(client));
      await client.query('COMMIT');
      return value;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  async migrate(statements: readonly string[]): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      for (const s of statements) await client.query(s);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
