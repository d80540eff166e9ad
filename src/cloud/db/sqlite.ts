import Database from 'better-sqlite3';
import type { SqlDatabase, SqlExecutor, SqlValue, Row } from './sql.ts';

/**
 * better-sqlite3 is synchronous; wrapping it in promises keeps one interface with PostgreSQL.
 * Transactions are serialized with a promise chain so that two async flows never share one.
 */
export class SqliteDatabase implements SqlDatabase {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private txChain: Promise<unknown> = Promise.resolve();
  private inTx = false;
  private waiting: (() => void)[] = [];

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
  }

  private async idle(): Promise<void> {
    // statements outside a transaction wait until the running transaction ends
    while (this.inTx) await new Promise<void>((r) => this.waiting.push(r));
  }

  /** Prepared statements by SQL text: compiling costs more than running a small statement. */
  private readonly statements = new Map<string, Database.Statement>();
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private exec: SqlExecutor = {
    all: async <T extends Row>(sql: string, params: SqlValue[] = []) => this.stmt(sql).all(...params) as T[],
    run: async (sql: string, params: SqlValue[] = []) => this.stmt(sql).run(...params).changes,
    runEach: async (sql: string, rows: SqlValue[][]) => {
      const s = this.stmt(sql);
      const changes = new Array<number>(rows.length);
      // an array binds as the anonymous `?` parameters, without spreading it into arguments
      for (let i = 0; i < rows.length; i++) changes[i] = s.run(rows[i]!).changes;
      return changes;
    },
  };

  async all<T extends Row = Row>(sql: string, params: SqlValue[] = []): Promise<T[]> {
    await this.idle();
    return this.exec.all<T>(sql, params);
  }

  async run(sql: string, params: SqlValue[] = []): Promise<number> {
    await this.idle();
    return this.exec.run(sql, params);
  }

  async runEach(sql: string, rows: SqlValue[][]): Promise<number[]> {
    // outside a transaction: one implicit transaction (one commit) for all rows, not one per row
    return this.transaction((tx) => tx.runEach(sql, rows));
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const result = this.txChain.then(async () => {
      await this.idle();
      this.inTx = true;
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const value = await fn(this.exec);
        this.db.exec('COMMIT');
        return value;
      } catch (e) {
        this.db.exec('ROLLBACK');
        throw e;
      } finally {
        this.inTx = false;
        const w = this.waiting;
        this.waiting = [];
        for (const r of w) r();
      }
    });
    this.txChain = result.catch(() => undefined);
    return result;
  }

  async migrate(statements: string[]): Promise<void> {
    this.db.transaction(() => {
      for (const s of statements) this.db.exec(s);
    })();
  }

  async close(): Promise<void> {
    await this.txChain;
    this.db.close();
  }
}
