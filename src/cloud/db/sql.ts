/**
 * The control plane's SQL seam: one small interface, two drivers (SQLite by default, PostgreSQL
 * with `--db postgres://…`). Queries are written once, in the common subset of both dialects, with
 * `?` placeholders (the PostgreSQL driver rewrites them to `$n`).
 */
export type SqlValue = string | number | null;
export type Row = Record<string, unknown>;

export interface SqlExecutor {
  all<T extends Row = Row>(sql: string, params?: SqlValue[]): Promise<T[]>;
  /** Returns the number of affected rows. */
  run(sql: string, params?: SqlValue[]): Promise<number>;
  /**
   * Runs the one statement `sql` once per parameter row, in order; returns the affected-row count
   * of each. SQLite: one prepared statement, synchronous steps, no promise per row (a bulk insert
   * costs less this way than as multi-row statements). PostgreSQL: one round trip per row, so
   * prefer multi-row statements there.
   */
  runEach(sql: string, rows: SqlValue[][]): Promise<number[]>;
}

export interface SqlDatabase extends SqlExecutor {
  readonly kind: 'sqlite' | 'postgres';
  /** Runs fn in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Apply the DDL statements once, safely when several replicas start at the same time. */
  migrate(statements: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export async function first<T extends Row>(db: SqlExecutor, sql: string, params?: SqlValue[]): Promise<T | undefined> {
  return (await db.all<T>(sql, params))[0];
}

/** A JSON column (stored as TEXT in both dialects), or `fallback` when NULL. */
export function jsonColumn<T>(value: unknown, fallback: T): T {
  return typeof value === 'string' ? (JSON.parse(value) as T) : fallback;
}

/** PostgreSQL 23505 / SQLite SQLITE_CONSTRAINT_UNIQUE: a concurrent insert won the race. */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * An error caused by the values of one statement, not by the database: PostgreSQL SQLSTATE classes
 * 22 (data exception, e.g. 22021 for U+0000 in TEXT) and 23 (integrity constraint); SQLite's
 * constraint, mismatch, range and too-big errors. Retrying such a statement fails the same way, so
 * a batch holding it must be split; any other error (connection lost, disk full, missing table)
 * concerns every statement and is worth retrying as a whole.
 */
export function isRecordError(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  if (/^2[23][0-9A-Z]{3}$/.test(code)) return true;
  return /^SQLITE_(CONSTRAINT|MISMATCH|RANGE|TOOBIG)/.test(code);
}

/** `?, ?, ?` for an IN list or a VALUES row of n parameters. */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

/** Rows per multi-row statement (≤ 10 columns → ≤ 2,000 parameters, under both dialects' limits). */
export const IN_LIST_CHUNK = 200;
