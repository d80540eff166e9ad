import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { SqlDatabase, SqlExecutor, SqlValue, Row } from './sql.ts';

/** How often the background connection checkpoints the WAL into the database file. */
const CHECKPOINT_INTERVAL_MS = 500;
/**
 * WAL pages after which a commit on the main connection checkpoints anyway: a safety net for when
 * the background checkpointer is gone or cannot keep up (SQLite's default is 1,000 pages).
 */
const FALLBACK_AUTOCHECKPOINT_PAGES = 20_000;

/**
 * Runs in a worker thread with its own connection: PASSIVE checkpoints copy committed WAL frames
 * into the database file (and fsync it) without blocking writers or readers, so that work is off
 * the event loop (on the main connection, a commit that crossed SQLite's autocheckpoint threshold
 * did it synchronously: about half the commit cost of 2,000-record telemetry batches, measured).
 */
const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
}, workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

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

  private checkpointer: Worker | null = null;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    if (path !== '' && path !== ':memory:') this.startCheckpointer(path);
  }

  private startCheckpointer(path: string): void {
    const worker = new Worker(CHECKPOINTER, {
      eval: true,
      workerData: {
        module: createRequire(import.meta.url).resolve('better-sqlite3'),
        path,
        intervalMs: CHECKPOINT_INTERVAL_MS,
      },
    });
    worker.unref();
    const fallBack = () => {
      // checkpoints back on the main connection, at SQLite's default threshold
      if (this.checkpointer === worker && this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
      this.checkpointer = null;
    };
    worker.once('error', fallBack);
    worker.once('exit', fallBack);
    this.checkpointer = worker;
    this.db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
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

  async migrate(statements: readonly string[]): Promise<void> {
    this.db.transaction(() => {
      for (const s of statements) this.db.exec(s);
    })();
  }

  async close(): Promise<void> {
    await this.txChain;
    const worker = this.checkpointer;
    this.checkpointer = null;
    if (worker) {
      // its connection closes first; the main connection, closing last, checkpoints and removes the WAL
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('close');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
      await worker.terminate();
    }
    this.db.close();
  }
}
