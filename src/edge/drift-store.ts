/**
 * Drift summaries the agent has not delivered yet, in agent.db (table `drift_pending`), so a
 * restart or an outage does not lose what the device saw (docs/edge-loop.md, "Retraining and drift").
 *
 * The agent adds to an in-memory summary per model on every prediction and folds it into this
 * table at each report tick (every upload interval) and when it stops; a crash loses at most one
 * interval. A report sends the rows that exist when it starts and deletes exactly those once the
 * cloud accepted them; summaries folded in meanwhile go to new rows (a row being sent is never
 * changed), so nothing is counted twice or dropped.
 *
 * Bound: one row per (model, version) outside a report (two during one), and at most
 * MAX_DRIFT_ROWS rows: beyond it the oldest windows are dropped and counted.
 */
import type Database from 'better-sqlite3';
import {
  type DriftSummary,
  DriftSummary as DriftSummarySchema,
  emptyDriftSummary,
  mergeDriftSummaries,
} from '../protocol/index.ts';

/** At most this many pending windows (one report carries at most 100). */
export const MAX_DRIFT_ROWS = 100;

export interface PendingDrift {
  seq: number;
  model: string;
  version: string;
  window_start: number;
  window_end: number;
  summary: DriftSummary;
}

interface Row {
  seq: number;
  model: string;
  version: string;
  window_start: number;
  window_end: number;
  summary: string;
}

export class DriftStore {
  /** Rows with seq <= this are being sent: new summaries do not merge into them. */
  private sendingUpTo = 0;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS drift_pending (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, version TEXT NOT NULL,
        window_start INTEGER NOT NULL, window_end INTEGER NOT NULL, summary TEXT NOT NULL);
    `);
  }

  /** Fold summaries gathered since `start` (per model and version) into the pending rows, in one transaction. */
  add(windows: readonly { model: string; version: string; start: number; end: number; summary: DriftSummary }[]): {
    dropped: number;
  } {
    if (windows.length === 0) return { dropped: 0 };
    let dropped = 0;
    this.db.transaction(() => {
      for (const w of windows) {
        const last = this.db
          .prepare(
            'SELECT seq, summary, window_start FROM drift_pending WHERE model = ? AND version = ? AND seq > ? ORDER BY seq DESC LIMIT 1',
          )
          .get(w.model, w.version, this.sendingUpTo) as Pick<Row, 'seq' | 'summary' | 'window_start'> | undefined;
        if (last) {
          const merged = mergeDriftSummaries(parseSummary(last.summary), w.summary);
          this.db
            .prepare('UPDATE drift_pending SET summary = ?, window_end = ?, window_start = ? WHERE seq = ?')
            .run(JSON.stringify(merged), w.end, Math.min(last.window_start, w.start), last.seq);
        } else
          this.db
            .prepare(
              'INSERT INTO drift_pending (model, version, window_start, window_end, summary) VALUES (?, ?, ?, ?, ?)',
            )
            .run(w.model, w.version, w.start, w.end, JSON.stringify(w.summary));
      }
      const n = Number(this.db.prepare('SELECT COUNT(*) FROM drift_pending').pluck().get());
      if (n > MAX_DRIFT_ROWS) {
        dropped = n - MAX_DRIFT_ROWS;
        this.db
          .prepare('DELETE FROM drift_pending WHERE seq IN (SELECT seq FROM drift_pending ORDER BY seq LIMIT ?)')
          .run(dropped);
      }
    })();
    return { dropped };
  }

  /** The pending windows, oldest first (at most `limit`); they stay pending until `delivered`. */
  take(limit = MAX_DRIFT_ROWS): PendingDrift[] {
    const rows = this.db
      .prepare('SELECT seq, model, version, window_start, window_end, summary FROM drift_pending ORDER BY seq LIMIT ?')
      .all(limit) as Row[];
    this.sendingUpTo = rows.at(-1)?.seq ?? 0;
    return rows.map((r) => ({ ...r, summary: parseSummary(r.summary) }));
  }

  /** The cloud stored these windows: forget them. */
  delivered(seqs: readonly number[]): void {
    const del = this.db.prepare('DELETE FROM drift_pending WHERE seq = ?');
    this.db.transaction(() => {
      for (const s of seqs) del.run(s);
    })();
  }

  /** The report ended (delivered or not): new summaries may merge into every row again. */
  released(): void {
    this.sendingUpTo = 0;
  }

  /** Samples and windows waiting for delivery, per model (GET /v1/agent). */
  counts(): { windows: number; samples: number } {
    const rows = this.db.prepare('SELECT summary FROM drift_pending').pluck().all() as string[];
    return { windows: rows.length, samples: rows.reduce((a, s) => a + parseSummary(s).samples, 0) };
  }
}

/** A row written by this code; a corrupted one (disk fault) counts as empty rather than stopping reports. */
function parseSummary(text: string): DriftSummary {
  try {
    return DriftSummarySchema.parse(JSON.parse(text));
  } catch {
    return emptyDriftSummary();
  }
}
