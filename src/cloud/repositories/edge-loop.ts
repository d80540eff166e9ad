/**
 * Edge-loop state of the control plane (tables loop_* in db/migrations.ts): the policy of each
 * deployment, and the items devices uploaded — metadata as columns, the input as its codec frame
 * (base64 TEXT, so both SQL dialects store it and replicas sharing the database see it). The
 * primary key (device_id, id) makes a re-uploaded item a no-op: stored once, whatever the retries.
 */
import { first, jsonColumn, placeholders, type SqlDatabase, type SqlValue } from '../db/sql.ts';
import type {
  CollectedItem,
  CollectedItemMeta,
  DriftReport,
  DriftSummary,
  EdgeLoopPolicy,
} from '../../protocol/index.ts';

export interface StoredLoopItem extends CollectedItem {
  frame: Uint8Array;
}

export interface ItemQuery {
  model?: string;
  device?: string;
  /** Only items with a label (operator or cloud model). */
  labelled?: boolean;
  reason?: string;
  /** 'received' (default): oldest first; 'hardest': lowest top-1 probability first. */
  order?: 'received' | 'hardest';
  since?: number;
  limit?: number;
  offset?: number;
}

const ITEM_COLUMNS = `device_id, id, model, version, deployment_id, input, created_at, received_at, reason, predicted, top1,
  margin, entropy, cloud_predicted, codec, dims, frame_bytes, label, label_source`;

type ItemRow = Record<string, unknown>;

function toItem(r: ItemRow, withFrame: boolean): StoredLoopItem {
  return {
    device_id: String(r.device_id),
    id: String(r.id),
    model: { name: String(r.model), version: String(r.version) },
    deployment_id: (r.deployment_id as string | null) ?? null,
    input: String(r.input),
    created_at: Number(r.created_at),
    received_at: Number(r.received_at),
    reason: r.reason as CollectedItem['reason'],
    predicted: Number(r.predicted),
    top1: Number(r.top1),
    margin: Number(r.margin),
    entropy: Number(r.entropy),
    cloud_predicted: r.cloud_predicted === null || r.cloud_predicted === undefined ? null : Number(r.cloud_predicted),
    codec: String(r.codec),
    dims: jsonColumn<number[]>(r.dims, []),
    frame_bytes: Number(r.frame_bytes),
    label: r.label === null || r.label === undefined ? null : Number(r.label),
    label_source: (r.label_source as CollectedItem['label_source']) ?? null,
    frame: withFrame ? new Uint8Array(Buffer.from(String(r.frame ?? ''), 'base64')) : new Uint8Array(0),
  };
}

/** Item keys per lookup query: 2 parameters each, far below SQLite's and PostgreSQL's bounds. */
const ITEM_KEYS_PER_QUERY = 500;

export class EdgeLoopRepository {
  constructor(private readonly db: SqlDatabase) {}

  async setPolicy(deploymentId: string, policy: EdgeLoopPolicy): Promise<void> {
    const now = Date.now();
    await this.db.run(
      `INSERT INTO loop_policies (deployment_id, policy, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (deployment_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at`,
      [deploymentId, JSON.stringify(policy), now],
    );
  }

  async policy(deploymentId: string): Promise<EdgeLoopPolicy | null> {
    const r = await first<{ policy: string }>(this.db, 'SELECT policy FROM loop_policies WHERE deployment_id = ?', [
      deploymentId,
    ]);
    return r ? jsonColumn<EdgeLoopPolicy>(r.policy, null as never) : null;
  }

  async policies(deploymentIds: readonly string[]): Promise<Map<string, EdgeLoopPolicy>> {
    if (deploymentIds.length === 0) return new Map();
    const rows = await this.db.all<{ deployment_id: string; policy: string }>(
      `SELECT deployment_id, policy FROM loop_policies WHERE deployment_id IN (${placeholders(deploymentIds.length)})`,
      [...deploymentIds],
    );
    return new Map(rows.map((r) => [r.deployment_id, JSON.parse(r.policy) as EdgeLoopPolicy]));
  }

  /** Insert items; returns the ids that were new (the others were stored by an earlier upload). */
  async insertItems(
    deviceId: string,
    items: { meta: CollectedItemMeta; codec: string; dims: number[]; frame: Uint8Array }[],
  ): Promise<Set<string>> {
    const now = Date.now();
    const fresh = new Set<string>();
    await this.db.transaction(async (tx) => {
      for (const it of items) {
        const m = it.meta;
        const values: SqlValue[] = [
          deviceId,
          m.id,
          m.model.name,
          m.model.version,
          m.deployment_id,
          m.input,
          m.created_at,
          now,
          m.reason,
          m.predicted,
          m.top1,
          m.margin,
          m.entropy,
          m.cloud_predicted,
          it.codec,
          JSON.stringify(it.dims),
          it.frame.length,
          m.cloud_predicted,
          m.cloud_predicted === null ? null : 'cloud-model',
          Buffer.from(it.frame).toString('base64'),
        ];
        const n = await tx.run(
          `INSERT INTO loop_items (${ITEM_COLUMNS}, frame) VALUES (${placeholders(values.length)})
           ON CONFLICT (device_id, id) DO NOTHING`,
          values,
        );
        if (n > 0) fresh.add(m.id);
      }
    });
    return fresh;
  }

  private where(q: ItemQuery): { sql: string; params: SqlValue[] } {
    const cond: string[] = [];
    const params: SqlValue[] = [];
    const eq = (col: string, v: SqlValue | undefined) => {
      if (v === undefined) return;
      cond.push(`${col} = ?`);
      params.push(v);
    };
    eq('model', q.model);
    eq('device_id', q.device);
    eq('reason', q.reason);
    if (q.since !== undefined) {
      cond.push('received_at >= ?');
      params.push(q.since);
    }
    if (q.labelled !== undefined) cond.push(q.labelled ? 'label IS NOT NULL' : 'label IS NULL');
    return { sql: cond.length ? `WHERE ${cond.join(' AND ')}` : '', params };
  }

  async items(q: ItemQuery, withFrames: boolean): Promise<StoredLoopItem[]> {
    const w = this.where(q);
    const rows = await this.db.all(
      `SELECT ${ITEM_COLUMNS}${withFrames ? ', frame' : ''} FROM loop_items ${w.sql}
       ORDER BY ${q.order === 'hardest' ? 'top1, ' : ''}received_at, device_id, id LIMIT ? OFFSET ?`,
      [...w.params, q.limit ?? 1000, q.offset ?? 0],
    );
    return rows.map((r) => toItem(r, withFrames));
  }

  /** Frame bytes of the items stored for a device (its upload quota counts these). */
  async storedBytes(deviceId: string): Promise<number> {
    const r = await first<{ n: unknown }>(
      this.db,
      'SELECT COALESCE(SUM(frame_bytes), 0) AS n FROM loop_items WHERE device_id = ?',
      [deviceId],
    );
    return Number(r?.n ?? 0);
  }

  async count(q: ItemQuery): Promise<number> {
    const w = this.where(q);
    const r = await first<{ n: number }>(this.db, `SELECT COUNT(*) AS n FROM loop_items ${w.sql}`, w.params);
    return Number(r?.n ?? 0);
  }

  /** The model and version of each of these items that exists, keyed `device_id/id`. */
  async itemVersions(
    keys: readonly { device_id: string; id: string }[],
  ): Promise<Map<string, { model: string; version: string }>> {
    const out = new Map<string, { model: string; version: string }>();
    for (let at = 0; at < keys.length; at += ITEM_KEYS_PER_QUERY) {
      const chunk = keys.slice(at, at + ITEM_KEYS_PER_QUERY);
      const rows = await this.db.all<{ device_id: string; id: string; model: string; version: string }>(
        `SELECT device_id, id, model, version FROM loop_items WHERE ${chunk.map(() => '(device_id = ? AND id = ?)').join(' OR ')}`,
        chunk.flatMap((k) => [k.device_id, k.id]),
      );
      for (const r of rows) out.set(`${r.device_id}/${r.id}`, { model: r.model, version: r.version });
    }
    return out;
  }

  /** Set labels; returns the (device, id) pairs that matched no item (of `model`, when given). */
  async label(
    labels: readonly { device_id: string; id: string; label: number }[],
    source: 'operator' | 'cloud-model',
    model?: string,
  ): Promise<{ device_id: string; id: string }[]> {
    const unknown: { device_id: string; id: string }[] = [];
    await this.db.transaction(async (tx) => {
      for (const l of labels) {
        const n = await tx.run(
          `UPDATE loop_items SET label = ?, label_source = ? WHERE device_id = ? AND id = ?${model !== undefined ? ' AND model = ?' : ''}`,
          [l.label, source, l.device_id, l.id, ...(model !== undefined ? [model] : [])],
        );
        if (n === 0) unknown.push({ device_id: l.device_id, id: l.id });
      }
    });
    return unknown;
  }

  async insertDrift(reports: readonly DriftReport[]): Promise<void> {
    const now = Date.now();
    await this.db.transaction(async (tx) => {
      for (const r of reports)
        await tx.run(
          'INSERT INTO loop_drift (device_id, model, version, window_start, window_end, summary, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          [r.device_id, r.model, r.version, r.window_start, r.window_end, JSON.stringify(r.summary), now],
        );
    });
  }

  /** Models with drift reports whose window ended at or after `since`. */
  async driftModels(since: number): Promise<string[]> {
    const rows = await this.db.all<{ model: string }>(
      'SELECT DISTINCT model FROM loop_drift WHERE window_end >= ? ORDER BY model',
      [since],
    );
    return rows.map((r) => r.model);
  }

  async driftSince(
    model: string,
    since: number,
  ): Promise<{ device_id: string; version: string; summary: DriftSummary }[]> {
    const rows = await this.db.all<{ device_id: string; version: string; summary: string }>(
      'SELECT device_id, version, summary FROM loop_drift WHERE model = ? AND window_end >= ?',
      [model, since],
    );
    return rows.map((r) => ({
      device_id: r.device_id,
      version: r.version,
      summary: JSON.parse(r.summary) as DriftSummary,
    }));
  }

  async setReference(model: string, version: string, summary: DriftSummary): Promise<void> {
    await this.db.run(
      `INSERT INTO loop_references (model, version, summary, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (model, version) DO UPDATE SET summary = excluded.summary, updated_at = excluded.updated_at`,
      [model, version, JSON.stringify(summary), Date.now()],
    );
  }

  async reference(model: string, version: string): Promise<DriftSummary | null> {
    const r = await first<{ summary: string }>(
      this.db,
      'SELECT summary FROM loop_references WHERE model = ? AND version = ?',
      [model, version],
    );
    return r ? (JSON.parse(r.summary) as DriftSummary) : null;
  }
}
