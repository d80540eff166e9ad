/**
 * Deployments, their per-device rows, and assignments (each device's desired version per model).
 * State changes are conditional updates, so replicas evaluating the same deployment concurrently
 * make each transition exactly once.
 */
import type {
  Deployment,
  DeploymentDevice,
  DeploymentState,
  DeviceDeploymentState,
  HealthGate,
} from '../../protocol/index.ts';
import { IN_LIST_CHUNK, first, jsonColumn, placeholders, type SqlDatabase } from '../db/sql.ts';

export interface DeploymentRecord extends Omit<Deployment, 'devices' | 'target'> {
  target: Record<string, unknown>;
  gate_passed_at: number | null;
}

export interface DeploymentDeviceRecord extends Omit<DeploymentDevice, 'name'> {
  previous_version: string | null;
  previous_deployment: string | null;
}

export type Assignment = {
  model: string;
  version: string;
  deployment_id: string;
};

const DEFAULT_HEALTH: HealthGate = { max_error_rate: 0.05, max_p95_ms: null, min_inferences: 0, timeout_s: 300 };

function toDeployment(r: Record<string, unknown>): DeploymentRecord {
  return {
    id: r.id as string,
    model: r.model as string,
    version: r.version as string,
    previous_version: (r.previous_version as string | null) ?? null,
    target: jsonColumn(r.target, {}),
    strategy: r.strategy as 'all' | 'canary',
    canary_percent: (r.canary_percent as number | null) ?? null,
    health: jsonColumn<HealthGate>(r.health, DEFAULT_HEALTH),
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
    error: jsonColumn(r.error, null),
    previous_version: (r.previous_version as string | null) ?? null,
    previous_deployment: (r.previous_deployment as string | null) ?? null,
    updated_at: Number(r.updated_at),
  };
}

export class DeploymentRepository {
  constructor(private readonly db: SqlDatabase) {}

  async insert(d: DeploymentRecord, devices: DeploymentDeviceRecord[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO deployments (id, model, version, previous_version, target, strategy, canary_percent, health, auto_promote,
           state, reason, gate_passed_at, created_at, updated_at) VALUES (${placeholders(14)})`,
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
             previous_deployment, updated_at) VALUES ${chunk.map(() => `(${placeholders(10)})`).join(', ')}`,
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

  async get(id: string): Promise<DeploymentRecord | null> {
    const r = await first(this.db, 'SELECT * FROM deployments WHERE id = ?', [id]);
    return r ? toDeployment(r) : null;
  }

  async list(filter: { model?: string; active?: boolean } = {}): Promise<DeploymentRecord[]> {
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

  async devices(id: string): Promise<DeploymentDeviceRecord[]> {
    const rows = await this.db.all(
      'SELECT * FROM deployment_devices WHERE deployment_id = ? ORDER BY canary DESC, device_id',
      [id],
    );
    return rows.map(toDeploymentDevice);
  }

  async device(id: string, deviceId: string): Promise<DeploymentDeviceRecord | null> {
    const r = await first(this.db, 'SELECT * FROM deployment_devices WHERE deployment_id = ? AND device_id = ?', [
      id,
      deviceId,
    ]);
    return r ? toDeploymentDevice(r) : null;
  }

  async count(): Promise<{ total: number; active: number }> {
    const r = await first<{ total: number; active: number }>(
      this.db,
      "SELECT COUNT(*) AS total, SUM(CASE WHEN state IN ('canary', 'rolling') THEN 1 ELSE 0 END) AS active FROM deployments",
    );
    return { total: Number(r?.total ?? 0), active: Number(r?.active ?? 0) };
  }

  /** Conditional state change: applies only while the deployment is still in one of `from`. */
  async transition(id: string, from: DeploymentState[], to: DeploymentState, reason: string | null): Promise<boolean> {
    const n = await this.db.run(
      `UPDATE deployments SET state = ?, reason = ?, updated_at = ? WHERE id = ? AND state IN (${placeholders(from.length)})`,
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

  async setDeviceState(
    deploymentId: string,
    deviceId: string,
    state: DeviceDeploymentState,
    opts: {
      variant?: string | null;
      error?: { code: string; message: string } | null;
      onlyFrom?: DeviceDeploymentState[];
    } = {},
  ): Promise<boolean> {
    const cond = opts.onlyFrom ? ` AND state IN (${placeholders(opts.onlyFrom.length)})` : '';
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

  async release(deploymentId: string, deviceIds: string[]): Promise<void> {
    for (let i = 0; i < deviceIds.length; i += IN_LIST_CHUNK) {
      const chunk = deviceIds.slice(i, i + IN_LIST_CHUNK);
      await this.db.run(
        `UPDATE deployment_devices SET released = 1, updated_at = ? WHERE deployment_id = ? AND device_id IN (${placeholders(chunk.length)})`,
        [Date.now(), deploymentId, ...chunk],
      );
    }
  }

  // ---- desired state (assignments) ----

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
    const n = await this.db.run('DELETE FROM assignments WHERE device_id = ? AND model = ? AND deployment_id = ?', [
      deviceId,
      model,
      deploymentId,
    ]);
    return n === 1;
  }

  async reassignIfOwned(
    deviceId: string,
    model: string,
    fromDeployment: string,
    version: string,
    toDeployment: string,
  ): Promise<boolean> {
    const n = await this.db.run(
      'UPDATE assignments SET version = ?, deployment_id = ? WHERE device_id = ? AND model = ? AND deployment_id = ?',
      [version, toDeployment, deviceId, model, fromDeployment],
    );
    return n === 1;
  }

  async assignmentsOf(deviceId: string): Promise<Assignment[]> {
    return this.db.all<Assignment>(
      'SELECT model, version, deployment_id FROM assignments WHERE device_id = ? ORDER BY model',
      [deviceId],
    );
  }
}
