/**
 * Collected items on the device: the inputs the edge-loop policy kept (raw little-endian float32,
 * so they can be re-encoded with any codec and trained on locally), with what the model predicted
 * and why the item was kept. A table in the agent's SQLite (agent.db), so the collection survives
 * restarts and is written in the same WAL as the outbox.
 *
 * Bounds: a disk quota (the sum of stored bytes; beyond it the oldest items are evicted, uploaded
 * or not) and an optional per-class cap (at the cap, the oldest already-uploaded item of that class
 * makes room; when every item of the class still waits for upload, the new one is not kept).
 * Evictions of items not yet uploaded are counted, never silent.
 */
import type Database from 'better-sqlite3';
import type { CollectReason, CollectedItemMeta } from '../protocol/index.ts';

/** Metadata bytes charged per item on top of its tensor (ids, model, numbers; SQLite row overhead). */
export const ITEM_OVERHEAD_BYTES = 256;

export interface NewItem {
  id: string;
  model: { name: string; version: string };
  deployment_id: string | null;
  input: string;
  /** Per-sample dims, e.g. [1, 28, 28]. */
  dims: number[];
  data: Float32Array;
  created_at: number;
  reason: CollectReason;
  predicted: number;
  top1: number;
  margin: number;
  entropy: number;
  cloud_predicted?: number | null;
}

export interface StoredItem extends CollectedItemMeta {
  seq: number;
  dims: number[];
  data: Float32Array;
  bytes: number;
  uploaded_at: number | null;
  upload_error: string | null;
}

export interface AddResult {
  stored: boolean;
  /** Items removed to make room (quota or class cap). */
  evicted: number;
  /** Of those, items that had not been uploaded yet. */
  evictedPending: number;
  /** Set when the item was not kept. */
  skipped?: 'class-cap' | 'too-large';
}

export interface CollectionCounts {
  items: number;
  bytes: number;
  pending: number;
  uploaded: number;
  rejected: number;
  evicted_pending: number;
  by_class: Record<string, number>;
}

interface Row {
  seq: number;
  id: string;
  model: string;
  version: string;
  deployment_id: string | null;
  input: string;
  dims: string;
  data: Buffer;
  created_at: number;
  reason: CollectReason;
  predicted: number;
  top1: number;
  margin: number;
  entropy: number;
  cloud_predicted: number | null;
  bytes: number;
  uploaded_at: number | null;
  upload_error: string | null;
}

function toItem(r: Row): StoredItem {
  const data = new Float32Array(r.data.length >> 2);
  new Uint8Array(data.buffer).set(r.data);
  return {
    seq: r.seq,
    id: r.id,
    model: { name: r.model, version: r.version },
    deployment_id: r.deployment_id,
    input: r.input,
    created_at: r.created_at,
    reason: r.reason,
    predicted: r.predicted,
    top1: r.top1,
    margin: r.margin,
    entropy: r.entropy,
    cloud_predicted: r.cloud_predicted,
    dims: JSON.parse(r.dims) as number[],
    data,
    bytes: r.bytes,
    uploaded_at: r.uploaded_at,
    upload_error: r.upload_error,
  };
}

/** float32 values as little-endian bytes (the platforms Node runs on are little-endian; checked at load). */
function f32Bytes(x: Float32Array): Buffer {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}
if (new Uint8Array(Float32Array.of(1).buffer)[3] !== 0x3f)
  throw new Error('collection store needs a little-endian host');

export class CollectionStore {
  private total: number;
  private evictedPendingTotal: number;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS collected (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, model TEXT NOT NULL, version TEXT NOT NULL,
        deployment_id TEXT, input TEXT NOT NULL, dims TEXT NOT NULL, data BLOB NOT NULL, created_at INTEGER NOT NULL,
        reason TEXT NOT NULL, predicted INTEGER NOT NULL, top1 REAL NOT NULL, margin REAL NOT NULL,
        entropy REAL NOT NULL, cloud_predicted INTEGER, bytes INTEGER NOT NULL, uploaded_at INTEGER,
        upload_error TEXT);
      CREATE INDEX IF NOT EXISTS collected_pending ON collected (uploaded_at, seq);
      CREATE INDEX IF NOT EXISTS collected_class ON collected (model, predicted, seq);
    `);
    this.total = Number(db.prepare('SELECT COALESCE(SUM(bytes), 0) FROM collected').pluck().get());
    this.evictedPendingTotal = Number(
      db.prepare("SELECT value FROM kv WHERE key = 'collected_evicted_pending'").pluck().get() ?? 0,
    );
  }

  get bytes(): number {
    return this.total;
  }

  /**
   * Keep one item within `quotaBytes` and the per-class cap. One transaction: the insert and the
   * evictions it causes land together or not at all.
   */
  add(item: NewItem, quotaBytes: number, perClassCap: number | null): AddResult {
    const bytes = item.data.byteLength + ITEM_OVERHEAD_BYTES;
    if (bytes > quotaBytes) return { stored: false, evicted: 0, evictedPending: 0, skipped: 'too-large' };
    return this.db.transaction((): AddResult => {
      let evicted = 0;
      let evictedPending = 0;
      const drop = (r: { seq: number; bytes: number; uploaded_at: number | null }) => {
        this.db.prepare('DELETE FROM collected WHERE seq = ?').run(r.seq);
        this.total -= r.bytes;
        evicted++;
        if (r.uploaded_at === null) evictedPending++;
      };
      if (perClassCap !== null) {
        const n = Number(
          this.db
            .prepare('SELECT COUNT(*) FROM collected WHERE model = ? AND predicted = ?')
            .pluck()
            .get(item.model.name, item.predicted),
        );
        if (n >= perClassCap) {
          const oldest = this.db
            .prepare(
              `SELECT seq, bytes, uploaded_at FROM collected WHERE model = ? AND predicted = ? AND uploaded_at IS NOT NULL
               ORDER BY seq LIMIT ?`,
            )
            .all(item.model.name, item.predicted, n - perClassCap + 1) as {
            seq: number;
            bytes: number;
            uploaded_at: number | null;
          }[];
          if (oldest.length < n - perClassCap + 1)
            return { stored: false, evicted: 0, evictedPending: 0, skipped: 'class-cap' };
          for (const r of oldest) drop(r);
        }
      }
      while (this.total + bytes > quotaBytes) {
        const r = this.db.prepare('SELECT seq, bytes, uploaded_at FROM collected ORDER BY seq LIMIT 1').get() as
          { seq: number; bytes: number; uploaded_at: number | null } | undefined;
        if (!r) break;
        drop(r);
      }
      this.db
        .prepare(
          `INSERT OR IGNORE INTO collected (id, model, version, deployment_id, input, dims, data, created_at, reason, predicted,
             top1, margin, entropy, cloud_predicted, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          item.id,
          item.model.name,
          item.model.version,
          item.deployment_id,
          item.input,
          JSON.stringify(item.dims),
          f32Bytes(item.data),
          item.created_at,
          item.reason,
          item.predicted,
          item.top1,
          item.margin,
          item.entropy,
          item.cloud_predicted ?? null,
          bytes,
        );
      this.total += bytes;
      if (evictedPending) {
        this.evictedPendingTotal += evictedPending;
        this.saveEvictedPending();
      }
      return { stored: true, evicted, evictedPending };
    })();
  }

  /** Evict oldest-first down to `quotaBytes` (a policy lowered the quota). */
  shrinkTo(quotaBytes: number): number {
    let n = 0;
    this.db.transaction(() => {
      while (this.total > quotaBytes) {
        const r = this.db.prepare('SELECT seq, bytes, uploaded_at FROM collected ORDER BY seq LIMIT 1').get() as
          { seq: number; bytes: number; uploaded_at: number | null } | undefined;
        if (!r) break;
        this.db.prepare('DELETE FROM collected WHERE seq = ?').run(r.seq);
        this.total -= r.bytes;
        if (r.uploaded_at === null) this.evictedPendingTotal++;
        n++;
      }
      this.saveEvictedPending();
    })();
    return n;
  }

  private saveEvictedPending(): void {
    this.db
      .prepare(
        "INSERT INTO kv (key, value) VALUES ('collected_evicted_pending', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      )
      .run(String(this.evictedPendingTotal));
  }

  /** Oldest items not yet uploaded (and not refused by the cloud), after `afterSeq`. */
  pendingUpload(limit: number, afterSeq = 0): StoredItem[] {
    return (
      this.db
        .prepare(
          'SELECT * FROM collected WHERE uploaded_at IS NULL AND upload_error IS NULL AND seq > ? ORDER BY seq LIMIT ?',
        )
        .all(afterSeq, limit) as Row[]
    ).map(toItem);
  }

  markUploaded(ids: readonly string[], at = Date.now()): void {
    const st = this.db.prepare('UPDATE collected SET uploaded_at = ? WHERE id = ? AND uploaded_at IS NULL');
    this.db.transaction(() => {
      for (const id of ids) st.run(at, id);
    })();
  }

  /** The cloud refused the item for good: keep it, do not send it again. */
  markRejected(id: string, message: string): void {
    this.db.prepare('UPDATE collected SET upload_error = ? WHERE id = ?').run(message.slice(0, 1024), id);
  }

  /** Every item (oldest first), optionally of one model. */
  all(model?: string): StoredItem[] {
    const rows = model
      ? this.db.prepare('SELECT * FROM collected WHERE model = ? ORDER BY seq').all(model)
      : this.db.prepare('SELECT * FROM collected ORDER BY seq').all();
    return (rows as Row[]).map(toItem);
  }

  get(id: string): StoredItem | undefined {
    const r = this.db.prepare('SELECT * FROM collected WHERE id = ?').get(id) as Row | undefined;
    return r ? toItem(r) : undefined;
  }

  counts(): CollectionCounts {
    const c = this.db
      .prepare(
        `SELECT COUNT(*) AS items, COALESCE(SUM(bytes), 0) AS bytes,
           SUM(CASE WHEN uploaded_at IS NULL AND upload_error IS NULL THEN 1 ELSE 0 END) AS pending,
           SUM(CASE WHEN uploaded_at IS NOT NULL THEN 1 ELSE 0 END) AS uploaded,
           SUM(CASE WHEN upload_error IS NOT NULL THEN 1 ELSE 0 END) AS rejected FROM collected`,
      )
      .get() as {
      items: number;
      bytes: number;
      pending: number | null;
      uploaded: number | null;
      rejected: number | null;
    };
    const by = this.db.prepare('SELECT predicted, COUNT(*) AS n FROM collected GROUP BY predicted').all() as {
      predicted: number;
      n: number;
    }[];
    return {
      items: c.items,
      bytes: c.bytes,
      pending: c.pending ?? 0,
      uploaded: c.uploaded ?? 0,
      rejected: c.rejected ?? 0,
      evicted_pending: this.evictedPendingTotal,
      by_class: Object.fromEntries(by.map((r) => [String(r.predicted), r.n])),
    };
  }
}
