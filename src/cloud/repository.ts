/**
 * All control-plane state, behind one class over the SqlDatabase seam (SQLite or PostgreSQL).
 * Nothing here is cached in memory, so several control-plane replicas can share one database.
 */
import { VergeError } from '../errors.ts';
import type {
  Deployment,
  DeploymentDevice,
  DeviceDeploymentState,
  DeploymentState,
  DeviceProfile,
  HealthGate,
  ModelVariant,
  ModelVersion,
  Role,
  ServedModel,
  TelemetryMessage,
} from '../protocol/index.ts';
import { first, type SqlDatabase, type SqlExecutor, type SqlValue } from './db/sql.ts';

export interface DeviceRecord {
  id: string;
  name: string;
  secret_hash: string;
  tags: Record<string, string>;
  profile: DeviceProfile | null;
  presence: 'online' | 'offline';
  revoked_at: number | null;
  last_seen: number | null;
  models: ServedModel[];
  generation: number;
  enrolled_at: number;
  /** Password hash in the external broker's format (Mosquitto $7$), for generated auth files. */
  broker_hash: string | null;
}

export interface DeploymentRecord extends Omit<Deployment, 'devices' | 'target'> {
  target: Record<string, unknown>;
  gate_passed_at: number | null;
}

export interface DeploymentDeviceRecord extends Omit<DeploymentDevice, 'name'> {
  previous_version: string | null;
  previous_deployment: string | null;
}

const json = <T>(s: unknown, fallback: T): T => (typeof s === 'string' ? (JSON.parse(s) as T) : fallback);

function toDevice(r: Record<string, unknown>): DeviceRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    secret_hash: r.secret_hash as string,
    tags: json(r.tags, {}),
    profile: json(r.profile, null),
    presence: r.presence as 'online' | 'offline',
    revoked_at: (r.revoked_at as number | null) ?? null,
    last_seen: (r.last_seen as number | null) ?? null,
    models: json(r.models, []),
    generation: Number(r.generation),
    enrolled_at: Number(r.enrolled_at),
    broker_hash: (r.broker_hash as string | null) ?? null,
  };
}

function toDeployment(r: Record<string, unknown>): DeploymentRecord {
  return {
    id: r.id as string,
    model: r.model as string,
    version: r.version as string,
    previous_version: (r.previous_version as string | null) ?? null,
    target: json(r.target, {}),
    strategy: r.strategy as 'all' | 'canary',
    canary_percent: (r.canary_percent as number | null) ?? null,
    health: json<HealthGate>(r.health, { max_error_rate: 0.05, max_p95_ms: null, min_inferences: 0, timeout_s: 300 }),
    auto_promote: Number(r.auto_promote) === 1,
    state: r.state as DeploymentState,
    reason: (r.reason as string | null) ?? null,
    gate_passed_at: (r.gate_passed_at as number | null) ?? null,
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
  };
}

function toDeploymentDevice(r: Record<string, unknown>): DeploymentDeviceRecord {
  return {
    device_id: r.device_id as string,
    canary: Number(r.canary) === 1,
    released: Number(r.released) === 1,
    state: r.state as DeviceDeploymentState,
    variant: (r.variant as string | null) ?? null,
    error: json(r.error, null),
    previous_version: (r.previous_version as string | null) ?? null,
    previous_deployment: (r.previous_deployment as string | null) ?? null,
    updated_at: Number(r.updated_at),
  };
}

/** 100 rows × 13 columns = 1,300 parameters: well under SQLite's 32,766 and PostgreSQL's 65,535. */
const TELEMETRY_ROWS_PER_INSERT = 100;
/** Rows per multi-row statement elsewhere (≤ 10 columns → ≤ 2,000 parameters). */
const IN_LIST_CHUNK = 200;

/** PostgreSQL 23505 / SQLite SQLITE_CONSTRAINT_UNIQUE: a concurrent insert won the race. */
function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export class Repository {
  constructor(readonly db: SqlDatabase) {}

  // ---- API keys ----
  async countApiKeys(role?: Role): Promise<number> {
    const r = await first<{ n: number }>(
      this.db,
      `SELECT COUNT(*) AS n FROM api_keys${role ? ' WHERE role = ?' : ''}`,
      role ? [role] : [],
    );
    return Number(r?.n ?? 0);
  }
  async insertApiKey(keyHash: string, role: Role, name: string | null): Promise<void> {
    await this.db.run('INSERT INTO api_keys (key_hash, role, name, created_at) VALUES (?, ?, ?, ?)', [
      keyHash,
      role,
      name,
      Date.now(),
    ]);
  }
  async apiKeyRole(keyHash: string): Promise<Role | null> {
    const r = await first<{ role: Role }>(this.db, 'SELECT role FROM api_keys WHERE key_hash = ?', [keyHash]);
    return r?.role ?? null;
  }

  // ---- enrollment tokens ----
  async insertEnrollToken(tokenHash: string, tags: Record<string, string>, expiresAt: number): Promise<void> {
    await this.db.run('INSERT INTO enroll_tokens (token_hash, tags, expires_at, created_at) VALUES (?, ?, ?, ?)', [
      tokenHash,
      JSON.stringify(tags),
      expiresAt,
      Date.now(),
    ]);
  }

  /**
   * Consume a token and create the device in one transaction: a token works exactly once, even
   * when two enrollments race on two replicas (the conditional UPDATE decides).
   */
  async enrollDevice(
    tokenHash: string,
    device: { id: string; name: string; secretHash: string; brokerHash: string; profile: DeviceProfile },
  ): Promise<DeviceRecord> {
    try {
      return await this.enrollDeviceOnce(tokenHash, device);
    } catch (e) {
      if (isUniqueViolation(e))
        throw new VergeError('E_CONFLICT', `a device named '${device.name}' is already enrolled`);
      throw e;
    }
  }

  private async enrollDeviceOnce(
    tokenHash: string,
    device: { id: string; name: string; secretHash: string; brokerHash: string; profile: DeviceProfile },
  ): Promise<DeviceRecord> {
    return this.db.transaction(async (tx) => {
      const now = Date.now();
      const tok = await first<{ tags: string; used_at: number | null; expires_at: number }>(
        tx,
        'SELECT tags, used_at, expires_at FROM enroll_tokens WHERE token_hash = ?',
        [tokenHash],
      );
      if (!tok) throw new VergeError('E_AUTH', 'unknown enrollment token');
      if (tok.used_at !== null) throw new VergeError('E_AUTH', 'enrollment token already used');
      if (Number(tok.expires_at) <= now) throw new VergeError('E_AUTH', 'enrollment token expired');
      const taken = await first(tx, 'SELECT id FROM devices WHERE name = ?', [device.name]);
      if (taken) throw new VergeError('E_CONFLICT', `a device named '${device.name}' is already enrolled`);
      const changed = await tx.run(
        'UPDATE enroll_tokens SET used_at = ?, device_id = ? WHERE token_hash = ? AND used_at IS NULL',
        [now, device.id, tokenHash],
      );
      if (changed !== 1) throw new VergeError('E_AUTH', 'enrollment token already used');
      await tx.run(
        `INSERT INTO devices (id, name, secret_hash, tags, profile, presence, models, generation, enrolled_at, broker_hash)
         VALUES (?, ?, ?, ?, ?, 'offline', '[]', 0, ?, ?)`,
        [device.id, device.name, device.secretHash, tok.tags, JSON.stringify(device.profile), now, device.brokerHash],
      );
      return (await this.getDeviceWith(tx, device.id))!;
    });
  }

  // ---- devices ----
  private async getDeviceWith(ex: SqlExecutor, idOrName: string): Promise<DeviceRecord | null> {
    const r = await first(ex, 'SELECT * FROM devices WHERE id = ? OR name = ? ORDER BY (id = ?) DESC', [
      idOrName,
      idOrName,
      idOrName,
    ]);
    return r ? toDevice(r) : null;
  }
  getDevice(idOrName: string): Promise<DeviceRecord | null> {
    return this.getDeviceWith(this.db, idOrName);
  }
  async listDevices(): Promise<DeviceRecord[]> {
    return (await this.db.all('SELECT * FROM devices ORDER BY name')).map(toDevice);
  }
  async revokeDevice(id: string): Promise<void> {
    await this.db.run('UPDATE devices SET revoked_at = ?, presence = ? WHERE id = ? AND revoked_at IS NULL', [
      Date.now(),
      'offline',
      id,
    ]);
  }
  async recordHeartbeat(id: string, profile: DeviceProfile, models: ServedModel[], at: number): Promise<void> {
    await this.db.run(
      "UPDATE devices SET profile = ?, models = ?, last_seen = ?, presence = 'online' WHERE id = ? AND revoked_at IS NULL",
      [JSON.stringify(profile), JSON.stringify(models), at, id],
    );
  }
  /** Many heartbeats in one transaction (they arrive from the whole fleet every few seconds). */
  async recordHeartbeats(
    beats: { id: string; profile: DeviceProfile; models: ServedModel[]; at: number }[],
  ): Promise<void> {
    if (beats.length === 0) return;
    await this.db.transaction(async (tx) => {
      for (const b of beats) {
        await tx.run(
          "UPDATE devices SET profile = ?, models = ?, last_seen = ?, presence = 'online' WHERE id = ? AND revoked_at IS NULL",
          [JSON.stringify(b.profile), JSON.stringify(b.models), b.at, b.id],
        );
      }
    });
  }
  async recordPresence(id: string, presence: 'online' | 'offline', at: number): Promise<void> {
    await this.db.run('UPDATE devices SET presence = ?, last_seen = ? WHERE id = ? AND revoked_at IS NULL', [
      presence,
      at,
      id,
    ]);
  }
  /** Replace the entry for one model in what the device reports serving (a `loaded` ack is news before the next heartbeat). */
  async recordServedModel(id: string, served: ServedModel): Promise<void> {
    await this.db.transaction(async (tx) => {
      const r = await first<{ models: string }>(tx, 'SELECT models FROM devices WHERE id = ?', [id]);
      if (!r) return;
      const models = json<ServedModel[]>(r.models, []).filter((m) => m.name !== served.name);
      models.push(served);
      await tx.run('UPDATE devices SET models = ? WHERE id = ?', [JSON.stringify(models), id]);
    });
  }
  /** Atomically bump and return the device's desired-state generation. */
  async nextGeneration(id: string): Promise<number> {
    const r = await first<{ generation: number }>(
      this.db,
      'UPDATE devices SET generation = generation + 1 WHERE id = ? RETURNING generation',
      [id],
    );
    return Number(r?.generation ?? 0);
  }

  // ---- artifacts and models ----
  async recordArtifact(sha256: string, size: number): Promise<void> {
    await this.db.run(
      'INSERT INTO artifacts (sha256, size, created_at) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING',
      [sha256, size, Date.now()],
    );
  }
  async artifactSize(sha256: string): Promise<number | null> {
    const r = await first<{ size: number }>(this.db, 'SELECT size FROM artifacts WHERE sha256 = ?', [sha256]);
    return r ? Number(r.size) : null;
  }

  async upsertModelVersion(v: {
    name: string;
    version: string;
    parent: string | null;
    optimization: string | null;
    metrics: Record<string, number>;
  }): Promise<void> {
    await this.db.run(
      `INSERT INTO model_versions (name, version, parent, optimization, metrics, created_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (name, version) DO NOTHING`,
      [v.name, v.version, v.parent, v.optimization, JSON.stringify(v.metrics), Date.now()],
    );
  }

  /** Insert a variant; identical re-publish is a no-op, a different artifact under the same name is E_CONFLICT. */
  async insertVariant(name: string, version: string, v: Omit<ModelVariant, 'created_at' | 'url'>): Promise<void> {
    const existing = await first<{ sha256: string }>(
      this.db,
      'SELECT sha256 FROM model_variants WHERE name = ? AND version = ? AND variant = ?',
      [name, version, v.variant],
    );
    if (existing) {
      if (existing.sha256 === v.sha256) return;
      throw new VergeError(
        'E_CONFLICT',
        `${name}@${version} variant ${v.variant} already exists with a different artifact (versions are immutable)`,
      );
    }
    await this.db.run(
      `INSERT INTO model_variants (name, version, variant, precision, profile, sha256, size, signature, key_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name, version, variant) DO NOTHING`,
      [name, version, v.variant, v.precision, v.profile, v.sha256, v.size, v.signature, v.key_id, Date.now()],
    );
  }

  async getModelVersion(
    name: string,
    version: string,
    artifactUrl: (sha: string) => string,
  ): Promise<ModelVersion | null> {
    const r = await first(this.db, 'SELECT * FROM model_versions WHERE name = ? AND version = ?', [name, version]);
    if (!r) return null;
    const variants = await this.db.all('SELECT * FROM model_variants WHERE name = ? AND version = ? ORDER BY variant', [
      name,
      version,
    ]);
    return {
      name,
      version,
      parent: (r.parent as string | null) ?? null,
      optimization: (r.optimization as string | null) ?? null,
      metrics: json(r.metrics, {}),
      created_at: Number(r.created_at),
      variants: variants.map((x) => ({
        variant: x.variant as string,
        precision: x.precision as ModelVariant['precision'],
        profile: (x.profile as string | null) ?? null,
        sha256: x.sha256 as string,
        size: Number(x.size),
        url: artifactUrl(x.sha256 as string),
        signature: x.signature as string,
        key_id: x.key_id as string,
        created_at: Number(x.created_at),
      })),
    };
  }

  async listModelVersions(name?: string): Promise<{ name: string; version: string }[]> {
    return name
      ? this.db.all('SELECT name, version FROM model_versions WHERE name = ? ORDER BY created_at', [name])
      : this.db.all('SELECT name, version FROM model_versions ORDER BY name, created_at');
  }

  async countModels(): Promise<number> {
    const r = await first<{ n: number }>(this.db, 'SELECT COUNT(DISTINCT name) AS n FROM model_versions');
    return Number(r?.n ?? 0);
  }

  // ---- deployments ----
  async insertDeployment(d: DeploymentRecord, devices: DeploymentDeviceRecord[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO deployments (id, model, version, previous_version, target, strategy, canary_percent, health, auto_promote,
           state, reason, gate_passed_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          d.id,
          d.model,
          d.version,
          d.previous_version,
          JSON.stringify(d.target),
          d.strategy,
          d.canary_percent,
          JSON.stringify(d.health),
          d.auto_promote ? 1 : 0,
          d.state,
          d.reason,
          d.gate_passed_at,
          d.created_at,
          d.updated_at,
        ],
      );
      for (let k = 0; k < devices.length; k += IN_LIST_CHUNK) {
        const chunk = devices.slice(k, k + IN_LIST_CHUNK);
        await tx.run(
          `INSERT INTO deployment_devices (deployment_id, device_id, canary, released, state, variant, error, previous_version,
             previous_deployment, updated_at) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
          chunk.flatMap((dd) => [
            d.id,
            dd.device_id,
            dd.canary ? 1 : 0,
            dd.released ? 1 : 0,
            dd.state,
            dd.variant,
            null,
            dd.previous_version,
            dd.previous_deployment,
            dd.updated_at,
          ]),
        );
      }
    });
  }

  async getDeployment(id: string): Promise<DeploymentRecord | null> {
    const r = await first(this.db, 'SELECT * FROM deployments WHERE id = ?', [id]);
    return r ? toDeployment(r) : null;
  }
  async listDeployments(filter: { model?: string; active?: boolean } = {}): Promise<DeploymentRecord[]> {
    const where: string[] = [];
    const params: string[] = [];
    if (filter.model) {
      where.push('model = ?');
      params.push(filter.model);
    }
    if (filter.active) where.push("state IN ('canary', 'rolling')");
    const rows = await this.db.all(
      `SELECT * FROM deployments ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id DESC`,
      params,
    );
    return rows.map(toDeployment);
  }
  async deploymentDevices(id: string): Promise<DeploymentDeviceRecord[]> {
    return (
      await this.db.all('SELECT * FROM deployment_devices WHERE deployment_id = ? ORDER BY canary DESC, device_id', [
        id,
      ])
    ).map(toDeploymentDevice);
  }
  async deploymentDevice(id: string, deviceId: string): Promise<DeploymentDeviceRecord | null> {
    const r = await first(this.db, 'SELECT * FROM deployment_devices WHERE deployment_id = ? AND device_id = ?', [
      id,
      deviceId,
    ]);
    return r ? toDeploymentDevice(r) : null;
  }
  async countDeployments(): Promise<{ total: number; active: number }> {
    const r = await first<{ total: number; active: number }>(
      this.db,
      "SELECT COUNT(*) AS total, SUM(CASE WHEN state IN ('canary', 'rolling') THEN 1 ELSE 0 END) AS active FROM deployments",
    );
    return { total: Number(r?.total ?? 0), active: Number(r?.active ?? 0) };
  }

  /**
   * Conditional state change: only applies when the deployment is still in one of `from`, so
   * replicas evaluating the same deployment concurrently make each transition exactly once.
   */
  async transitionDeployment(
    id: string,
    from: DeploymentState[],
    to: DeploymentState,
    reason: string | null,
  ): Promise<boolean> {
    const n = await this.db.run(
      `UPDATE deployments SET state = ?, reason = ?, updated_at = ? WHERE id = ? AND state IN (${from.map(() => '?').join(', ')})`,
      [to, reason, Date.now(), id, ...from],
    );
    return n === 1;
  }
  async markGatePassed(id: string, reason: string): Promise<boolean> {
    const n = await this.db.run(
      "UPDATE deployments SET gate_passed_at = ?, reason = ?, updated_at = ? WHERE id = ? AND state = 'canary' AND gate_passed_at IS NULL",
      [Date.now(), reason, Date.now(), id],
    );
    return n === 1;
  }

  async setDeviceDeploymentState(
    deploymentId: string,
    deviceId: string,
    state: DeviceDeploymentState,
    opts: {
      variant?: string | null;
      error?: { code: string; message: string } | null;
      onlyFrom?: DeviceDeploymentState[];
    } = {},
  ): Promise<boolean> {
    const cond = opts.onlyFrom ? ` AND state IN (${opts.onlyFrom.map(() => '?').join(', ')})` : '';
    const n = await this.db.run(
      `UPDATE deployment_devices SET state = ?, variant = COALESCE(?, variant), error = ?, updated_at = ?
       WHERE deployment_id = ? AND device_id = ?${cond}`,
      [
        state,
        opts.variant ?? null,
        opts.error ? JSON.stringify(opts.error) : null,
        Date.now(),
        deploymentId,
        deviceId,
        ...(opts.onlyFrom ?? []),
      ],
    );
    return n === 1;
  }
  async releaseDevices(deploymentId: string, deviceIds: string[]): Promise<void> {
    for (let i = 0; i < deviceIds.length; i += IN_LIST_CHUNK) {
      const chunk = deviceIds.slice(i, i + IN_LIST_CHUNK);
      await this.db.run(
        `UPDATE deployment_devices SET released = 1, updated_at = ? WHERE deployment_id = ? AND device_id IN (${chunk.map(() => '?').join(', ')})`,
        [Date.now(), deploymentId, ...chunk],
      );
    }
  }

  // ---- desired state (assignments) ----
  async assignment(deviceId: string, model: string): Promise<{ version: string; deployment_id: string } | null> {
    return (
      (await first<{ version: string; deployment_id: string }>(
        this.db,
        'SELECT version, deployment_id FROM assignments WHERE device_id = ? AND model = ?',
        [deviceId, model],
      )) ?? null
    );
  }
  /** Current assignment of one model on every device that has it. */
  async assignmentsOfModel(model: string): Promise<Map<string, { version: string; deployment_id: string }>> {
    const rows = await this.db.all<{ device_id: string; version: string; deployment_id: string }>(
      'SELECT device_id, version, deployment_id FROM assignments WHERE model = ?',
      [model],
    );
    return new Map(rows.map((r) => [r.device_id, { version: r.version, deployment_id: r.deployment_id }]));
  }
  async assign(deviceId: string, model: string, version: string, deploymentId: string): Promise<void> {
    await this.db.run(
      `INSERT INTO assignments (device_id, model, version, deployment_id) VALUES (?, ?, ?, ?)
       ON CONFLICT (device_id, model) DO UPDATE SET version = excluded.version, deployment_id = excluded.deployment_id`,
      [deviceId, model, version, deploymentId],
    );
  }
  /** Remove an assignment only if it still belongs to `deploymentId` (a newer deployment wins). */
  async unassign(deviceId: string, model: string, deploymentId: string): Promise<boolean> {
    return (
      (await this.db.run('DELETE FROM assignments WHERE device_id = ? AND model = ? AND deployment_id = ?', [
        deviceId,
        model,
        deploymentId,
      ])) === 1
    );
  }
  async reassignIfOwned(
    deviceId: string,
    model: string,
    fromDeployment: string,
    version: string,
    toDeployment: string,
  ): Promise<boolean> {
    return (
      (await this.db.run(
        'UPDATE assignments SET version = ?, deployment_id = ? WHERE device_id = ? AND model = ? AND deployment_id = ?',
        [version, toDeployment, deviceId, model, fromDeployment],
      )) === 1
    );
  }
  async assignmentsOf(deviceId: string): Promise<{ model: string; version: string; deployment_id: string }[]> {
    return this.db.all('SELECT model, version, deployment_id FROM assignments WHERE device_id = ? ORDER BY model', [
      deviceId,
    ]);
  }

  // ---- telemetry ----
  /**
   * Insert records; returns those that were new (first delivery of their message id), in one
   * transaction. The id is the primary key and `ON CONFLICT (id) DO NOTHING` skips a known one, so a
   * redelivery (on this replica or another) is stored and counted once.
   * SQLite: one prepared single-row INSERT stepped per record, its change count telling new from
   * duplicate (cheaper than multi-row statements with RETURNING). PostgreSQL: multi-row
   * INSERT … RETURNING id, TELEMETRY_ROWS_PER_INSERT rows per statement (a round trip each).
   */
  async insertTelemetry(records: TelemetryMessage[]): Promise<TelemetryMessage[]> {
    if (records.length === 0) return [];
    const unique = new Map<string, TelemetryMessage>();
    for (const t of records) if (!unique.has(t.id)) unique.set(t.id, t);
    const rows = [...unique.values()];
    const now = Date.now();
    const values = (t: TelemetryMessage): SqlValue[] => [
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
    const columns = `telemetry (id, device_id, model, version, variant, deployment_id, window_start, window_end,
      inferences, errors, latency, results, received_at)`;
    const one = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
    if (this.db.kind === 'sqlite') {
      return this.db.transaction(async (tx) => {
        const changes = await tx.runEach(
          `INSERT INTO ${columns} VALUES ${one} ON CONFLICT (id) DO NOTHING`,
          rows.map(values),
        );
        return rows.filter((_, i) => changes[i]! > 0);
      });
    }
    return this.db.transaction(async (tx) => {
      const fresh = new Set<string>();
      for (let i = 0; i < rows.length; i += TELEMETRY_ROWS_PER_INSERT) {
        const chunk = rows.slice(i, i + TELEMETRY_ROWS_PER_INSERT);
        const inserted = await tx.all<{ id: string }>(
          `INSERT INTO ${columns} VALUES ${chunk.map(() => one).join(', ')} ON CONFLICT (id) DO NOTHING RETURNING id`,
          chunk.flatMap(values),
        );
        for (const r of inserted) fresh.add(r.id);
      }
      return rows.filter((t) => fresh.has(t.id));
    });
  }

  async telemetryFor(
    model: string,
    version: string,
    deviceIds: string[],
    since: number,
  ): Promise<{ inferences: number; errors: number; latency: string }[]> {
    if (deviceIds.length === 0) return [];
    return this.db.all(
      `SELECT inferences, errors, latency FROM telemetry WHERE model = ? AND version = ? AND window_end >= ?
       AND device_id IN (${deviceIds.map(() => '?').join(', ')})`,
      [model, version, since, ...deviceIds],
    );
  }

  async telemetrySince(
    since: number,
    model?: string,
  ): Promise<
    {
      device_id: string;
      model: string;
      version: string;
      variant: string;
      inferences: number;
      errors: number;
      latency: string;
      results: string | null;
    }[]
  > {
    return model
      ? this.db.all(
          'SELECT device_id, model, version, variant, inferences, errors, latency, results FROM telemetry WHERE window_end >= ? AND model = ?',
          [since, model],
        )
      : this.db.all(
          'SELECT device_id, model, version, variant, inferences, errors, latency, results FROM telemetry WHERE window_end >= ?',
          [since],
        );
  }

  async telemetryTotals(): Promise<{ messages: number; inferences: number; errors: number }> {
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
