/**
 * Deployments: targeting, canary with a health gate, promotion, automatic rollback, per-device
 * status. Every transition is a conditional database update, so replicas sharing one database can
 * all evaluate the same deployment and each transition still happens once.
 */
import semver from 'semver';
import { VergeError } from '../errors.ts';
import {
  isAssignedDeviceId,
  CreateDeploymentRequest,
  histogramQuantile,
  mergeHistograms,
  selectVariant,
  type AckMessage,
  type Deployment,
  type DeploymentTarget,
  type DeviceDeploymentState,
  type LatencyHistogram,
  type ModelVersion,
} from '../protocol/index.ts';
import { randomBytes } from 'node:crypto';
import type { ControlPlaneMetrics } from './metrics.ts';
import type {
  DeploymentDeviceRecord,
  DeploymentRecord,
  DeploymentRepository,
  DeviceRecord,
  DeviceRepository,
  TelemetryRepository,
} from './repositories/index.ts';

/** Forward-only order of per-device states; a late or redelivered ack never moves a device back. */
const STATE_RANK: Record<DeviceDeploymentState, number> = {
  pending: 0,
  received: 1,
  downloading: 2,
  verified: 3,
  loaded: 4,
  failed: 5,
  rejected: 5,
  rolled_back: 6,
};
const ACTIVE = ['canary', 'rolling'] as const;
/** Ack bursts within this window cause one deployment evaluation. */
const EVALUATE_COALESCE_MS = 20;

export interface DeploymentHost {
  deployments: DeploymentRepository;
  devices: DeviceRepository;
  telemetry: TelemetryRepository;
  /** A published model version with its variants, or null. */
  modelVersion(name: string, version: string): Promise<ModelVersion | null>;
  metrics: ControlPlaneMetrics;
  /** Publish the device's desired state (retained) after its assignments changed. */
  publishDesiredState(deviceId: string): Promise<void>;
}

function matchesTarget(d: DeviceRecord, t: DeploymentTarget): boolean {
  if (t.tags && !Object.entries(t.tags).every(([k, v]) => d.tags[k] === v)) return false;
  if (t.profile) {
    const p = d.profile;
    if (!p) return false;
    if (t.profile.class !== undefined && p.class !== t.profile.class) return false;
    if (t.profile.arch !== undefined && p.arch !== t.profile.arch) return false;
    if (t.profile.precision !== undefined && !p.precisions.includes(t.profile.precision)) return false;
    if (t.profile.min_memory_mb !== undefined && p.memory_mb < t.profile.min_memory_mb) return false;
  }
  return true;
}

export class DeploymentController {
  constructor(private readonly host: DeploymentHost) {}

  /** Model versions read during one release, shared by its devices (a release takes milliseconds). */
  private versionMemo: Map<string, Promise<ModelVersion | null>> | null = null;

  private get repo(): DeploymentRepository {
    return this.host.deployments;
  }

  async create(input: unknown): Promise<Deployment> {
    const parsed = CreateDeploymentRequest.safeParse(input);
    if (!parsed.success)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `invalid deployment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    const req = parsed.data;
    if (req.strategy === 'canary' && req.canary_percent === null)
      throw new VergeError('E_BAD_ARGUMENT', 'canary strategy needs canary_percent (1-99)');
    const mv = await this.host.modelVersion(req.model, req.version);
    if (!mv) throw new VergeError('E_NOT_FOUND', `model ${req.model}@${req.version} is not published`);
    if (mv.variants.length === 0)
      throw new VergeError('E_NOT_FOUND', `model ${req.model}@${req.version} has no artifacts`);

    const devices = await this.resolveTarget(req.target);
    for (const d of devices) {
      if (d.profile && !selectVariant(mv.variants, d.profile)) {
        throw new VergeError(
          'E_UNSUPPORTED',
          `no variant of ${req.model}@${req.version} (${mv.variants.map((v) => `${v.variant}:${v.precision}`).join(', ')}) fits device ${d.name} (precisions ${d.profile.precisions.join(',')}${d.profile.class ? `, class ${d.profile.class}` : ''})`,
        );
      }
    }
    // canary set: online devices first, then by name; at least one device
    const ordered = [...devices].sort(
      (a, b) => Number(b.presence === 'online') - Number(a.presence === 'online') || a.name.localeCompare(b.name),
    );
    const canaryCount =
      req.strategy === 'canary' ? Math.max(1, Math.ceil((ordered.length * req.canary_percent!) / 100)) : 0;
    const now = Date.now();
    const id = `dep-${now.toString(36)}-${randomBytes(4).toString('hex')}`;
    const rows: DeploymentDeviceRecord[] = [];
    const previousVersions: string[] = [];
    const current = await this.repo.assignmentsOfModel(req.model);
    for (const [i, d] of ordered.entries()) {
      const prev = current.get(d.id);
      if (prev) previousVersions.push(prev.version);
      const canary = i < canaryCount;
      rows.push({
        device_id: d.id,
        canary,
        released: req.strategy === 'all' || canary,
        state: 'pending',
        variant: d.profile ? (selectVariant(mv.variants, d.profile)?.variant ?? null) : null,
        error: null,
        previous_version: prev?.version ?? null,
        previous_deployment: prev?.deployment_id ?? null,
        updated_at: now,
      });
    }
    const record: DeploymentRecord = {
      id,
      model: req.model,
      version: req.version,
      previous_version: mostCommon(previousVersions),
      target: req.target as Record<string, unknown>,
      strategy: req.strategy,
      canary_percent: req.strategy === 'canary' ? req.canary_percent : null,
      health: req.health,
      auto_promote: req.auto_promote,
      state: req.strategy === 'canary' ? 'canary' : 'rolling',
      reason: null,
      gate_passed_at: null,
      created_at: now,
      updated_at: now,
    };
    // an older active rollout of this model on these devices is replaced by this one
    const deviceIds = new Set(rows.map((r) => r.device_id));
    for (const old of await this.repo.list({ model: req.model, active: true })) {
      const oldDevices = await this.repo.devices(old.id);
      if (oldDevices.some((x) => deviceIds.has(x.device_id)))
        await this.repo.transition(old.id, [...ACTIVE], 'superseded', `superseded by ${id}`);
    }
    await this.repo.insert(record, rows);
    this.host.metrics.deployments.inc({ strategy: req.strategy });
    await this.release(
      record,
      rows.filter((r) => r.released).map((r) => r.device_id),
    );
    await this.evaluate(id);
    return this.view(id);
  }

  private async resolveTarget(t: DeploymentTarget): Promise<DeviceRecord[]> {
    const all = (await this.host.devices.list()).filter((d) => d.revoked_at === null);
    let chosen = all;
    if (t.devices) {
      // ids and names are separate namespaces: an id-shaped key is an id, never a name
      // (isAssignedDeviceId), so a device named like another's id cannot capture its deployments
      const byKey = new Map<string, DeviceRecord>();
      for (const d of all) if (!isAssignedDeviceId(d.name)) byKey.set(d.name, d);
      for (const d of all) byKey.set(d.id, d);
      const missing = t.devices.filter((k) => !byKey.has(k));
      if (missing.length) throw new VergeError('E_NOT_FOUND', `unknown or revoked device(s): ${missing.join(', ')}`);
      const wanted = new Set(t.devices.map((k) => byKey.get(k)!.id));
      chosen = chosen.filter((d) => wanted.has(d.id));
    }
    chosen = chosen.filter((d) => matchesTarget(d, t));
    if (chosen.length === 0)
      throw new VergeError('E_NOT_FOUND', `no enrolled device matches target ${JSON.stringify(t)}`);
    return chosen;
  }

  /** Point the devices' desired state at this deployment's version and publish it. */
  private async release(d: DeploymentRecord, deviceIds: string[]): Promise<void> {
    await this.repo.release(d.id, deviceIds);
    this.versionMemo ??= new Map();
    try {
      await forEachLimit(deviceIds, PUBLISH_CONCURRENCY, async (dev) => {
        await this.repo.assign(dev, d.model, d.version, d.id);
        await this.host.publishDesiredState(dev);
      });
    } finally {
      this.versionMemo = null;
    }
  }

  async view(id: string): Promise<Deployment> {
    const d = await this.repo.get(id);
    if (!d) throw new VergeError('E_NOT_FOUND', `no deployment '${id}'`);
    const names = new Map((await this.host.devices.list()).map((x) => [x.id, x.name]));
    const devices = (await this.repo.devices(id)).map((x) => ({
      device_id: x.device_id,
      name: names.get(x.device_id) ?? x.device_id,
      canary: x.canary,
      released: x.released,
      state: x.state,
      variant: x.variant,
      error: x.error,
      updated_at: x.updated_at,
    }));
    const { gate_passed_at, ...rest } = d;
    return { ...rest, gate_passed_at, devices };
  }

  async list(filter: { model?: string; active?: boolean } = {}): Promise<Deployment[]> {
    const ds = await this.repo.list(filter);
    return Promise.all(ds.map((d) => this.view(d.id)));
  }

  async onAck(ack: AckMessage): Promise<void> {
    const row = await this.repo.device(ack.deployment_id, ack.device_id);
    if (!row) return; // unknown or foreign deployment: nothing to update
    const lower = (Object.keys(STATE_RANK) as DeviceDeploymentState[]).filter(
      (s) => STATE_RANK[s] < STATE_RANK[ack.state],
    );
    const changed = await this.repo.setDeviceState(ack.deployment_id, ack.device_id, ack.state, {
      variant: ack.variant ?? null,
      error: ack.error ?? null,
      onlyFrom: lower,
    });
    if (changed && ack.state === 'loaded' && ack.variant && ack.sha256) {
      await this.host.devices.recordServedModel(ack.device_id, {
        name: ack.model.name,
        version: ack.model.version,
        variant: ack.variant,
        sha256: ack.sha256,
        deployment_id: ack.deployment_id,
      });
    }
    // only these states can change the deployment's state; evaluations are coalesced because a
    // rollout to N devices brings N acks at once
    if (changed && ['loaded', 'failed', 'rejected'].includes(ack.state)) this.scheduleEvaluate(ack.deployment_id);
    // a device that could not take a full rollout goes back to what it ran, so its desired state
    // (and any later rollback's "previous version") names a version it can actually serve; a
    // canary's failure is handled by rolling the whole canary back
    if (changed && (ack.state === 'failed' || ack.state === 'rejected')) {
      const d = await this.repo.get(ack.deployment_id);
      if (d && d.state !== 'canary' && d.state !== 'rolled_back' && d.state !== 'superseded')
        await this.revertDevice(d, row);
    }
  }

  private readonly scheduled = new Map<string, Promise<void>>();
  /** Evaluate soon, once per burst: callers in the same EVALUATE_COALESCE_MS window share one run. */
  scheduleEvaluate(id: string): Promise<void> {
    const pending = this.scheduled.get(id);
    if (pending) return pending;
    const p = new Promise<void>((resolve) => setTimeout(resolve, EVALUATE_COALESCE_MS))
      .then(() => {
        this.scheduled.delete(id);
        return this.evaluate(id);
      })
      .catch(() => undefined);
    this.scheduled.set(id, p);
    return p;
  }

  /** Re-evaluate every active deployment (timeouts, telemetry-based gates). */
  async tick(): Promise<void> {
    for (const d of await this.repo.list({ active: true })) await this.scheduleEvaluate(d.id);
  }

  async evaluate(id: string): Promise<void> {
    const d = await this.repo.get(id);
    if (!d || !(ACTIVE as readonly string[]).includes(d.state)) return;
    const devs = await this.repo.devices(id);
    if (d.state === 'canary') {
      const canary = devs.filter((x) => x.canary);
      const bad = canary.find((x) => x.state === 'failed' || x.state === 'rejected');
      if (bad)
        return void (await this.rollback(
          id,
          `canary device ${bad.device_id} ${bad.state}${bad.error ? `: ${bad.error.code} ${bad.error.message}` : ''}`,
          'canary-failure',
        ));
      const timedOut = Date.now() - d.created_at > d.health.timeout_s * 1000;
      if (d.gate_passed_at !== null) return; // waiting for a manual promote
      if (canary.every((x) => x.state === 'loaded')) {
        const verdict = await this.healthVerdict(
          d,
          canary.map((x) => x.device_id),
        );
        if (verdict.kind === 'fail')
          return void (await this.rollback(id, `health gate failed: ${verdict.reason}`, 'health-gate'));
        if (verdict.kind === 'pass') {
          if (d.auto_promote) return void (await this.promote(id));
          await this.repo.markGatePassed(id, `health gate passed (${verdict.reason}); waiting for promote`);
          return;
        }
        if (timedOut)
          return void (await this.rollback(
            id,
            `health gate timed out after ${d.health.timeout_s}s: ${verdict.reason}`,
            'timeout',
          ));
        return;
      }
      if (timedOut) {
        const waiting = canary.filter((x) => x.state !== 'loaded').map((x) => x.device_id);
        return void (await this.rollback(
          id,
          `health gate timed out after ${d.health.timeout_s}s: not loaded on ${waiting.join(', ')}`,
          'timeout',
        ));
      }
      return;
    }
    // rolling
    const released = devs.filter((x) => x.released);
    const bad = released.filter((x) => x.state === 'failed' || x.state === 'rejected');
    if (bad.length) {
      await this.repo.transition(
        id,
        ['rolling'],
        'failed',
        `${bad.length} device(s) failed: ${bad.map((x) => `${x.device_id} ${x.state}${x.error ? ` (${x.error.code})` : ''}`).join(', ')}`,
      );
      return;
    }
    if (released.length === devs.length && released.every((x) => x.state === 'loaded')) {
      await this.repo.transition(id, ['rolling'], 'succeeded', null);
    }
  }

  /** pass / fail / pending, from canary telemetry for the new version since the deployment began. */
  private async healthVerdict(
    d: DeploymentRecord,
    deviceIds: string[],
  ): Promise<{ kind: 'pass' | 'fail' | 'pending'; reason: string }> {
    const rows = await this.host.telemetry.forDevices(d.model, d.version, deviceIds, d.created_at);
    let inferences = 0;
    let errors = 0;
    let hist: LatencyHistogram | null = null;
    for (const r of rows) {
      inferences += Number(r.inferences);
      errors += Number(r.errors);
      const h = JSON.parse(r.latency) as LatencyHistogram;
      try {
        hist = hist ? mergeHistograms(hist, h) : h;
      } catch {
        // a device with non-standard buckets: its latency is not gated, its counts still are
      }
    }
    const errorRate = inferences > 0 ? errors / inferences : 0;
    const p95 = hist ? histogramQuantile(hist, 0.95) : 0;
    const summary = `${inferences} inferences, error rate ${errorRate.toFixed(3)} (max ${d.health.max_error_rate}), p95 ≤ ${p95} ms${d.health.max_p95_ms !== null ? ` (max ${d.health.max_p95_ms})` : ''}`;
    if (inferences > 0 && errorRate > d.health.max_error_rate) return { kind: 'fail', reason: summary };
    if (d.health.max_p95_ms !== null && inferences > 0 && p95 > d.health.max_p95_ms)
      return { kind: 'fail', reason: summary };
    if (inferences < d.health.min_inferences)
      return { kind: 'pending', reason: `${summary}; need ${d.health.min_inferences} inferences` };
    return { kind: 'pass', reason: summary };
  }

  async promote(id: string): Promise<Deployment> {
    const d = await this.repo.get(id);
    if (!d) throw new VergeError('E_NOT_FOUND', `no deployment '${id}'`);
    if (d.state === 'rolling' || d.state === 'succeeded') return this.view(id);
    if (d.state !== 'canary')
      throw new VergeError('E_CONFLICT', `deployment ${id} is ${d.state}; only a canary can be promoted`);
    const devs = await this.repo.devices(id);
    const bad = devs.find((x) => x.canary && (x.state === 'failed' || x.state === 'rejected'));
    if (bad) throw new VergeError('E_CONFLICT', `canary device ${bad.device_id} ${bad.state}; roll back instead`);
    if (
      await this.repo.transition(
        id,
        ['canary'],
        'rolling',
        d.gate_passed_at ? null : 'promoted by operator before the health gate passed',
      )
    ) {
      await this.release(
        d,
        devs.filter((x) => !x.released).map((x) => x.device_id),
      );
      await this.evaluate(id);
    }
    return this.view(id);
  }

  async rollback(
    id: string,
    reason: string,
    trigger: 'operator' | 'canary-failure' | 'health-gate' | 'timeout' = 'operator',
  ): Promise<Deployment> {
    const d = await this.repo.get(id);
    if (!d) throw new VergeError('E_NOT_FOUND', `no deployment '${id}'`);
    if (d.state === 'rolled_back') return this.view(id);
    if (d.state === 'superseded')
      throw new VergeError('E_CONFLICT', `deployment ${id} was superseded; roll back the newer one`);
    if (!(await this.repo.transition(id, ['canary', 'rolling', 'succeeded', 'failed'], 'rolled_back', reason)))
      return this.view(id);
    this.host.metrics.rollbacks.inc({ trigger });
    const released = (await this.repo.devices(id)).filter((x) => x.released);
    await forEachLimit(released, PUBLISH_CONCURRENCY, async (x) => {
      await this.revertDevice(d, x);
      await this.repo.setDeviceState(id, x.device_id, 'rolled_back', { error: x.error });
    });
    return this.view(id);
  }

  /**
   * Point one device back at what it ran before this deployment (or at nothing), if this
   * deployment still owns its assignment. Idempotent.
   */
  private async revertDevice(d: DeploymentRecord, x: DeploymentDeviceRecord): Promise<void> {
    const changed =
      x.previous_version !== null && x.previous_deployment !== null
        ? await this.repo.reassignIfOwned(x.device_id, d.model, d.id, x.previous_version, x.previous_deployment)
        : await this.repo.unassign(x.device_id, d.model, d.id);
    if (changed) await this.host.publishDesiredState(x.device_id);
  }

  /** Newest deployment of a model that can be rolled back. */
  async latestFor(model: string): Promise<DeploymentRecord | null> {
    const ds = await this.repo.list({ model });
    return ds.find((d) => d.state !== 'rolled_back' && d.state !== 'superseded') ?? null;
  }

  /** Desired-state entries for a device, for the retained deploy message. */
  async desiredModels(
    deviceId: string,
  ): Promise<{ deployment_id: string; name: string; version: string; variants: ModelVersion['variants'] }[]> {
    const out = [];
    for (const a of await this.repo.assignmentsOf(deviceId)) {
      const key = `${a.model}@${a.version}`;
      const load = () => this.host.modelVersion(a.model, a.version);
      let mvP = this.versionMemo?.get(key);
      if (!mvP) {
        mvP = load();
        this.versionMemo?.set(key, mvP);
      }
      const mv = await mvP;
      if (mv && mv.variants.length)
        out.push({ deployment_id: a.deployment_id, name: a.model, version: a.version, variants: mv.variants });
    }
    return out;
  }
}

/**
 * Devices updated in parallel during a release or rollback: overlaps database round trips and
 * broker PUBACKs; bounded so a 10,000-device rollout does not open 10,000 queries at once.
 */
const PUBLISH_CONCURRENCY = 16;

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function mostCommon(xs: string[]): string | null {
  if (xs.length === 0) return null;
  const counts = new Map<string, number>();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || semver.rcompare(a[0], b[0]))[0]![0];
}
