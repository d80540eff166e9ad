/** Stored telemetry records (one row per message id) and the reads over them. */
import type { TelemetryMessage } from '../../protocol/index.ts';
import { first, placeholders, type SqlDatabase, type SqlValue } from '../db/sql.ts';

/** 100 rows × 13 columns = 1,300 parameters: well under SQLite's 32,766 and PostgreSQL's 65,535. */
const TELEMETRY_ROWS_PER_INSERT = 100;

/** Dead-lettered payloads are kept for a person to read, not whole: a message is bounded well below this anyway. */
const DEAD_LETTER_PAYLOAD_CHARS = 64 * 1024;

export type TelemetryRow = {
  device_id: string;
  model: string;
  version: string;
  variant: string;
  inferences: number;
  errors: number;
  /** JSON LatencyHistogram */
  latency: string;
  /** JSON results, or null */
  results: string | null;
};

export type DeviceTelemetryRow = TelemetryRow & { window_end: number };

const COLUMNS = `telemetry (id, device_id, model, version, variant, deployment_id, window_start, window_end,
      inferences, errors, latency, results, received_at)`;
const ONE_ROW = `(${placeholders(13)})`;

function values(t: TelemetryMessage, now: number): SqlValue[] {
  return [
    t.id,
    t.device_id,
    t.model.name,
    t.model.version,
    t.model.variant,
    t.deployment_id,
    t.window_start,
    t.window_end,
    t.inferences,
    t.errors,
    JSON.stringify(t.latency_ms),
    t.results ? JSON.stringify(t.results) : null,
    now,
  ];
}

export class TelemetryRepository {
  constructor(private readonly db: SqlDatabase) {}

  /**
   * Insert records; returns those that were new (first delivery of their message id), in one
   * transaction. The id is the primary key and `ON CONFLICT (id) DO NOTHING` skips a known one, so a
   * redelivery (on this replica or another) is stored and counted once.
   * SQLite: one prepared single-row INSERT stepped per record, its change count telling new from
   * duplicate (cheaper than multi-row statements with RETURNING). PostgreSQL: multi-row
   * INSERT … RETURNING id, TELEMETRY_ROWS_PER_INSERT rows per statement (a round trip each).
   */
  async insert(records: TelemetryMessage[]): Promise<TelemetryMessage[]> {
    if (records.length === 0) return [];
    const unique = new Map<string, TelemetryMessage>();
    for (const t of records) if (!unique.has(t.id)) unique.set(t.id, t);
    const rows = [...unique.values()];
    const now = Date.now();
    if (this.db.kind === 'sqlite') {
      return this.db.transaction(async (tx) => {
        const changes = await tx.runEach(
          `INSERT INTO ${COLUMNS} VALUES ${ONE_ROW} ON CONFLICT (id) DO NOTHING`,
          rows.map((t) => values(t, now)),
        );
        return rows.filter((_, i) => changes[i]! > 0);
      });
    }
    return this.db.transaction(async (tx) => {
      const fresh = new Set<string>();
      for (let i = 0; i < rows.length; i += TELEMETRY_ROWS_PER_INSERT) {
        const chunk = rows.slice(i, i + TELEMETRY_ROWS_PER_INSERT);
        const inserted = await tx.all<{ id: string }>(
          `INSERT INTO ${COLUMNS} VALUES ${chunk.map(() => ONE_ROW).join(', ')} ON CONFLICT (id) DO NOTHING RETURNING id`,
          chunk.flatMap((t) => values(t, now)),
        );
        for (const r of inserted) fresh.add(r.id);
      }
      return rows.filter((t) => fresh.has(t.id));
    });
  }

  /**
   * Keep records the database refused on their own (see TelemetryIngest), with the reason. The
   * payload is JSON, in which U+0000 is the six-character escape, so any store holds it; it is cut
   * at DEAD_LETTER_PAYLOAD_CHARS.
   */
  async deadLetter(records: { record: TelemetryMessage; error: string }[]): Promise<void> {
    const now = Date.now();
    const clean = (x: string, max: number) => x.split('\u0000').join('\\u0000').slice(0, max);
    for (const { record, error } of records)
      await this.db.run(
        'INSERT INTO telemetry_dead_letter (id, device_id, payload, error, received_at) VALUES (?, ?, ?, ?, ?)',
        [
          clean(String(record.id), 128),
          clean(String(record.device_id), 64),
          JSON.stringify(record).slice(0, DEAD_LETTER_PAYLOAD_CHARS),
          clean(error, 1024),
          now,
        ],
      );
  }

  async deadLetters(limit = 100): Promise<{ id: string; device_id: string; payload: string; error: string }[]> {
    return this.db.all(
      'SELECT id, device_id, payload, error FROM telemetry_dead_letter ORDER BY received_at DESC LIMIT ?',
      [limit],
    );
  }

  /** Records of one model version from some devices since a time (a canary's health gate). */
  async forDevices(
    model: string,
    version: string,
    deviceIds: string[],
    since: number,
  ): Promise<{ inferences: number; errors: number; latency: string }[]> {
    if (deviceIds.length === 0) return [];
    return this.db.all(
      `SELECT inferences, errors, latency FROM telemetry WHERE model = ? AND version = ? AND window_end >= ?
       AND device_id IN (${placeholders(deviceIds.length)})`,
      [model, version, since, ...deviceIds],
    );
  }

  async since(since: number, model?: string): Promise<TelemetryRow[]> {
    const select =
      'SELECT device_id, model, version, variant, inferences, errors, latency, results FROM telemetry WHERE window_end >= ?';
    return model
      ? this.db.all<TelemetryRow>(`${select} AND model = ?`, [since, model])
      : this.db.all<TelemetryRow>(select, [since]);
  }

  /** One device's records whose window ends in [since, until], oldest first, at most `limit`. */
  async ofDevice(deviceId: string, since: number, until: number, limit: number): Promise<DeviceTelemetryRow[]> {
    return this.db.all<DeviceTelemetryRow>(
      `SELECT device_id, model, version, variant, inferences, errors, latency, results, window_end FROM telemetry
       WHERE device_id = ? AND window_end >= ? AND window_end <= ? ORDER BY window_end LIMIT ?`,
      [deviceId, since, until, limit],
    );
  }

  async totals(): Promise<{ messages: number; inferences: number; errors: number }> {
    const r = await first<{ messages: number; inferences: number | null; errors: number | null }>(
      this.db,
      'SELECT COUNT(*) AS messages, SUM(inferences) AS inferences, SUM(errors) AS errors FROM telemetry',
    );
    return {
      messages: Number(r?.messages ?? 0),
      inferences: Number(r?.inferences ?? 0),
      errors: Number(r?.errors ?? 0),
    };
  }
}
