/**
 * Federated-learning state of the control plane (tables fl_* in db/migrations.ts), over the
 * SqlDatabase seam (SQLite or PostgreSQL). Jobs, rounds and per-device participation live here; weights, updates and the
 * strategy's server state are content-addressed artifacts named by sha256. Every transition is a
 * conditional update, so replicas sharing the database close each round once, and a restarted
 * control plane resumes a job from these rows.
 */
import type { SqlDatabase, SqlExecutor, SqlValue } from '../db/sql.ts';

export type FlJobRecordState = 'running' | 'completed' | 'failed' | 'stopped';
export type FlRoundState = 'open' | 'closing' | 'closed' | 'failed';
/** pending → accepted | rejected (bad update) | missing (deadline passed) → late (arrived after). */
export type FlParticipantState = 'pending' | 'accepted' | 'rejected' | 'missing' | 'late';

export interface FlJobRecord {
  id: string;
  state: FlJobRecordState;
  /** The validated CreateFlJobRequest plus derived settings (JSON). */
  spec: Record<string, unknown>;
  model_sha256: string;
  model_name: string | null;
  model_version: string | null;
  global_sha256: string;
  strategy_state_sha256: string | null;
  current_round: number;
  rounds_completed: number;
  final: { accuracy: number | null; loss: number | null } | null;
  published: { name: string; version: string } | null;
  error: string | null;
  created_at: number;
  updated_at: number;
}

export interface FlRoundRecord {
  job_id: string;
  round: number;
  task: 'fit' | 'evaluate';
  state: FlRoundState;
  model_sha256: string;
  deadline: number;
  accuracy: number | null;
  loss: number | null;
  uplink_bytes: number;
  opened_at: number;
  closed_at: number | null;
}

export interface FlParticipantRecord {
  job_id: string;
  round: number;
  device_id: string;
  token: string;
  state: FlParticipantState;
  update_sha256: string | null;
  examples: number | null;
  metrics: Record<string, number>;
  error: string | null;
  bytes: number | null;
  received_at: number | null;
}

const json = <T>(s: unknown, fallback: T): T => (typeof s === 'string' ? (JSON.parse(s) as T) : fallback);
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toJob(r: Record<string, unknown>): FlJobRecord {
  return {
    id: r.id as string,
    state: r.state as FlJobRecordState,
    spec: json(r.spec, {}),
    model_sha256: r.model_sha256 as string,
    model_name: (r.model_name as string | null) ?? null,
    model_version: (r.model_version as string | null) ?? null,
    global_sha256: r.global_sha256 as string,
    strategy_state_sha256: (r.strategy_state_sha256 as string | null) ?? null,
    current_round: Number(r.current_round),
    rounds_completed: Number(r.rounds_completed),
    final: json(r.final, null),
    published: json(r.published, null),
    error: (r.error as string | null) ?? null,
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
  };
}

function toRound(r: Record<string, unknown>): FlRoundRecord {
  return {
    job_id: r.job_id as string,
    round: Number(r.round),
    task: r.task as 'fit' | 'evaluate',
    state: r.state as FlRoundState,
    model_sha256: r.model_sha256 as string,
    deadline: Number(r.deadline),
    accuracy: num(r.accuracy),
    loss: num(r.loss),
    uplink_bytes: Number(r.uplink_bytes),
    opened_at: Number(r.opened_at),
    closed_at: num(r.closed_at),
  };
}

function toParticipant(r: Record<string, unknown>): FlParticipantRecord {
  return {
    job_id: r.job_id as string,
    round: Number(r.round),
    device_id: r.device_id as string,
    token: r.token as string,
    state: r.state as FlParticipantState,
    update_sha256: (r.update_sha256 as string | null) ?? null,
    examples: num(r.examples),
    metrics: json(r.metrics, {}),
    error: (r.error as string | null) ?? null,
    bytes: num(r.bytes),
    received_at: num(r.received_at),
  };
}

export type SecAggPhase = 'advertise' | 'share' | 'mask' | 'unmask';

/** A secure round: its current phase, fixed parameters and party numbers (params, JSON). */
export interface FlSecAggRoundRecord {
  job_id: string;
  round: number;
  phase: SecAggPhase;
  params: Record<string, unknown>;
  phase_deadline: number;
}

/**
 * One device's message of one phase. `body` is the JSON the device sent (keys, sealed bundles,
 * shares) or, for `mask`, the sha256 of the masked input's artifact: nothing here is unmasked.
 */
export interface FlSecAggMessageRecord {
  job_id: string;
  round: number;
  device_id: string;
  phase: SecAggPhase;
  body: string;
  bytes: number;
  received_at: number;
}

export class FlRepository {
  constructor(readonly db: SqlDatabase) {}

  async insertJob(j: Omit<FlJobRecord, 'updated_at'>): Promise<void> {
    await this.db.run(
      `INSERT INTO fl_jobs (id, state, spec, model_sha256, model_name, model_version, global_sha256,
         strategy_state_sha256, current_round, rounds_completed, final, published, error, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        j.id,
        j.state,
        JSON.stringify(j.spec),
        j.model_sha256,
        j.model_name,
        j.model_version,
        j.global_sha256,
        j.strategy_state_sha256,
        j.current_round,
        j.rounds_completed,
        j.final ? JSON.stringify(j.final) : null,
        j.published ? JSON.stringify(j.published) : null,
        j.error,
        j.created_at,
        j.created_at,
      ],
    );
  }

  async getJob(id: string): Promise<FlJobRecord | null> {
    const rows = await this.db.all('SELECT * FROM fl_jobs WHERE id = ?', [id]);
    return rows[0] ? toJob(rows[0]) : null;
  }

  async listJobs(state?: FlJobRecordState): Promise<FlJobRecord[]> {
    const rows = state
      ? await this.db.all('SELECT * FROM fl_jobs WHERE state = ? ORDER BY created_at', [state])
      : await this.db.all('SELECT * FROM fl_jobs ORDER BY created_at');
    return rows.map(toJob);
  }

  /** Conditional job update: applies only while the job is in `from` (one replica wins). */
  async updateJob(
    id: string,
    from: FlJobRecordState[],
    set: Partial<Omit<FlJobRecord, 'id' | 'created_at' | 'updated_at' | 'spec'>>,
  ): Promise<boolean> {
    const cols: string[] = [];
    const vals: SqlValue[] = [];
    for (const [k, v] of Object.entries(set)) {
      cols.push(`${k} = ?`);
      vals.push(v !== null && typeof v === 'object' ? JSON.stringify(v) : (v as SqlValue));
    }
    const n = await this.db.run(
      `UPDATE fl_jobs SET ${cols.join(', ')}, updated_at = ? WHERE id = ? AND state IN (${from.map(() => '?').join(', ')})`,
      [...vals, Date.now(), id, ...from],
    );
    return n === 1;
  }

  /** Open a round with its participants, in one transaction. */
  async openRound(
    r: Omit<FlRoundRecord, 'closed_at' | 'accuracy' | 'loss' | 'uplink_bytes'>,
    participants: { device_id: string; token: string }[],
  ): Promise<void> {
    await this.db.transaction(async (tx: SqlExecutor) => {
      await tx.run(
        `INSERT INTO fl_rounds (job_id, round, task, state, model_sha256, deadline, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        [r.job_id, r.round, r.task, r.state, r.model_sha256, r.deadline, r.opened_at],
      );
      await tx.runEach(
        `INSERT INTO fl_participants (job_id, round, device_id, token, state) VALUES (?, ?, ?, ?, 'pending')`,
        participants.map((p) => [r.job_id, r.round, p.device_id, p.token]),
      );
      await tx.run('UPDATE fl_jobs SET current_round = ?, updated_at = ? WHERE id = ?', [
        r.round,
        Date.now(),
        r.job_id,
      ]);
    });
  }

  async getRound(jobId: string, round: number): Promise<FlRoundRecord | null> {
    const rows = await this.db.all('SELECT * FROM fl_rounds WHERE job_id = ? AND round = ?', [jobId, round]);
    return rows[0] ? toRound(rows[0]) : null;
  }

  async listRounds(jobId: string): Promise<FlRoundRecord[]> {
    return (await this.db.all('SELECT * FROM fl_rounds WHERE job_id = ? ORDER BY round', [jobId])).map(toRound);
  }

  /** Conditional round transition (`open` → `closing` claims the aggregation). */
  async transitionRound(
    jobId: string,
    round: number,
    from: FlRoundState,
    to: FlRoundState,
    set: Partial<Pick<FlRoundRecord, 'accuracy' | 'loss' | 'uplink_bytes' | 'closed_at'>> = {},
  ): Promise<boolean> {
    const cols = Object.keys(set).map((k) => `${k} = ?`);
    const n = await this.db.run(
      `UPDATE fl_rounds SET state = ?${cols.map((c) => `, ${c}`).join('')} WHERE job_id = ? AND round = ? AND state = ?`,
      [to, ...(Object.values(set) as SqlValue[]), jobId, round, from],
    );
    return n === 1;
  }

  async participants(jobId: string, round: number): Promise<FlParticipantRecord[]> {
    return (
      await this.db.all('SELECT * FROM fl_participants WHERE job_id = ? AND round = ? ORDER BY device_id', [
        jobId,
        round,
      ])
    ).map(toParticipant);
  }

  async participant(jobId: string, round: number, deviceId: string): Promise<FlParticipantRecord | null> {
    const rows = await this.db.all('SELECT * FROM fl_participants WHERE job_id = ? AND round = ? AND device_id = ?', [
      jobId,
      round,
      deviceId,
    ]);
    return rows[0] ? toParticipant(rows[0]) : null;
  }

  /** Record an upload; only a `pending` participant can deliver (a duplicate changes nothing). */
  async deliver(
    jobId: string,
    round: number,
    deviceId: string,
    d: {
      state: 'accepted' | 'rejected';
      update_sha256: string | null;
      examples: number | null;
      metrics: Record<string, number>;
      error: string | null;
      bytes: number;
    },
  ): Promise<boolean> {
    const n = await this.db.run(
      `UPDATE fl_participants SET state = ?, update_sha256 = ?, examples = ?, metrics = ?, error = ?, bytes = ?, received_at = ?
       WHERE job_id = ? AND round = ? AND device_id = ? AND state = 'pending'`,
      [
        d.state,
        d.update_sha256,
        d.examples,
        JSON.stringify(d.metrics),
        d.error,
        d.bytes,
        Date.now(),
        jobId,
        round,
        deviceId,
      ],
    );
    return n === 1;
  }

  /** Mark participants still pending as `missing` (deadline passed); returns how many. */
  async markMissing(jobId: string, round: number): Promise<number> {
    return this.db.run(
      "UPDATE fl_participants SET state = 'missing' WHERE job_id = ? AND round = ? AND state = 'pending'",
      [jobId, round],
    );
  }

  /** A missing participant's upload arrived after its round closed. */
  async markLate(jobId: string, round: number, deviceId: string): Promise<boolean> {
    const n = await this.db.run(
      "UPDATE fl_participants SET state = 'late', received_at = ? WHERE job_id = ? AND round = ? AND device_id = ? AND state IN ('pending', 'missing')",
      [Date.now(), jobId, round, deviceId],
    );
    return n === 1;
  }

  async openSecAggRound(r: FlSecAggRoundRecord): Promise<void> {
    await this.db.run(
      'INSERT INTO fl_secagg_rounds (job_id, round, phase, params, phase_deadline) VALUES (?, ?, ?, ?, ?)',
      [r.job_id, r.round, r.phase, JSON.stringify(r.params), r.phase_deadline],
    );
  }

  async secAggRound(jobId: string, round: number): Promise<FlSecAggRoundRecord | null> {
    const rows = await this.db.all('SELECT * FROM fl_secagg_rounds WHERE job_id = ? AND round = ?', [jobId, round]);
    const r = rows[0];
    return r
      ? {
          job_id: r.job_id as string,
          round: Number(r.round),
          phase: r.phase as SecAggPhase,
          params: json(r.params, {}),
          phase_deadline: Number(r.phase_deadline),
        }
      : null;
  }

  /** Conditional phase change (one replica moves the round on). */
  async advanceSecAgg(jobId: string, round: number, from: SecAggPhase, to: SecAggPhase, deadline: number) {
    const n = await this.db.run(
      'UPDATE fl_secagg_rounds SET phase = ?, phase_deadline = ? WHERE job_id = ? AND round = ? AND phase = ?',
      [to, deadline, jobId, round, from],
    );
    return n === 1;
  }

  /** Store a device's message; false when it already sent one for this phase. */
  async putSecAggMessage(m: FlSecAggMessageRecord): Promise<boolean> {
    const n = await this.db.run(
      `INSERT INTO fl_secagg_messages (job_id, round, device_id, phase, body, bytes, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, round, device_id, phase) DO NOTHING`,
      [m.job_id, m.round, m.device_id, m.phase, m.body, m.bytes, m.received_at],
    );
    return n === 1;
  }

  async secAggMessages(jobId: string, round: number, phase: SecAggPhase): Promise<FlSecAggMessageRecord[]> {
    const rows = await this.db.all(
      'SELECT * FROM fl_secagg_messages WHERE job_id = ? AND round = ? AND phase = ? ORDER BY device_id',
      [jobId, round, phase],
    );
    return rows.map((r) => ({
      job_id: r.job_id as string,
      round: Number(r.round),
      device_id: r.device_id as string,
      phase: r.phase as SecAggPhase,
      body: r.body as string,
      bytes: Number(r.bytes),
      received_at: Number(r.received_at),
    }));
  }

  async deviceKey(deviceId: string): Promise<{ public_key_pem: string; key_id: string } | null> {
    const rows = await this.db.all('SELECT public_key_pem, key_id FROM fl_device_keys WHERE device_id = ?', [deviceId]);
    return rows[0] ? { public_key_pem: rows[0].public_key_pem as string, key_id: rows[0].key_id as string } : null;
  }

  /** First registration wins; returns false when the device already has a different key. */
  async registerDeviceKey(deviceId: string, pem: string, keyId: string): Promise<boolean> {
    await this.db.run(
      'INSERT INTO fl_device_keys (device_id, public_key_pem, key_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (device_id) DO NOTHING',
      [deviceId, pem, keyId, Date.now()],
    );
    const k = await this.deviceKey(deviceId);
    return k?.key_id === keyId;
  }
}
