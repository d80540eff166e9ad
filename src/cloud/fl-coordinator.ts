/**
 * The federated-learning coordinator of the control plane: the same Strategy verbs the simulator
 * drives, over the fleet. A job opens a round by choosing devices (target tags/ids, enrolled, not
 * revoked, online; the strategy's fraction_fit and min_fit_clients; waiting, bounded by the round
 * timeout, for min_available_clients of them to be online) and publishing each a retained
 * `fl` task naming the round's global model (a signed, content-addressed ONNX artifact). Devices
 * upload signed updates over HTTP (fl-uploads.ts). `tick()` closes a round when every selected
 * device answered or the deadline passed — with at least min_fit_clients updates it aggregates,
 * stores the new global model and the strategy's state as artifacts and opens the next round;
 * with fewer the round fails and is retried. After the last round an `evaluate` round measures the
 * final model on the devices' hold-outs, then the model is published with its lineage.
 *
 * All state is in the database (fl-repository.ts) and artifacts; transitions are conditional, so a
 * restarted control plane (or another replica) picks the job up where it stood.
 */
import { randomBytes } from 'node:crypto';
import semver from 'semver';
import { VergeError } from '../errors.ts';
import {
  requireUpdate,
  parseCompression,
  layoutDigest,
  modelLayout,
  weightsOf,
  withWeights,
  DEFAULT_DP_DELTA,
  DpFedAvg,
  RdpAccountant,
  secureRandom,
  DEFAULT_CLIENT_OPTIMIZER,
  createStrategy,
  decodeStrategyState,
  encodeStrategyState,
  type FedAvgOptions,
  type FitResult,
  type Strategy,
  type WeightLayout,
} from '../fl/index.ts';
import { decodeModel, encodeModel, type Model } from '../onnx/browser.ts';
import {
  CreateFlJobRequest,
  FL_PATHS,
  signArtifact,
  type FlJob,
  type FlSecAggTask,
  type MessageInput,
  type ModelVersion,
  type PublishModelRequest,
} from '../protocol/index.ts';
import type { ArtifactStore } from './artifacts.ts';
import { artifactUrl, measurePublishedMemory } from './models.ts';
import type {
  DeviceRecord,
  FlJobRecord,
  FlParticipantRecord,
  FlRepository,
  FlRoundRecord,
} from './repositories/index.ts';
import type { SigningKey } from './secrets.ts';
import { SecureRounds, type SecureSum } from './fl-secure-rounds.ts';

/** A round that fails (too few updates) is retried; this many failures in a row fail the job. */
export const MAX_FAILED_ROUNDS = 3;
/** A round left `closing` this long after its deadline was claimed by a replica that died: retake it. */
const STALE_CLOSING_MS = 60_000;

/**
 * Whether a round may open with `online` target devices: never below `floor` (min_fit_clients, or 1
 * for the evaluation); below `want` (min_available_clients) only once `timeoutMs` passed since
 * `since` — the round waits for devices that are coming (back) online, but not forever.
 */
export function roundMayOpen(p: {
  online: number;
  floor: number;
  want: number;
  since: number;
  now: number;
  timeoutMs: number;
}): boolean {
  if (p.online < p.floor) return false;
  return p.online >= p.want || p.now >= p.since + p.timeoutMs;
}

export interface FlHost {
  fl: FlRepository;
  devices: { list(): Promise<DeviceRecord[]>; get(idOrName: string): Promise<DeviceRecord | null> };
  models: {
    version(name: string, version: string): Promise<ModelVersion | null>;
    publish(req: PublishModelRequest): Promise<ModelVersion>;
  };
  artifacts: ArtifactStore;
  /** Register an artifact written to the store (so the registry can publish it). */
  recordArtifact(sha256: string, size: number): Promise<void>;
  signingKey: SigningKey;
  /** Publish (retained) a device's FL task; null clears it. */
  publishTask(deviceId: string, task: MessageInput<'fl'> | null): Promise<void>;
  deviceOnline(d: DeviceRecord): boolean;
  now?: () => number;
}

/** What a job keeps besides the request: derived once at creation. */
interface JobSpec extends CreateFlJobRequest {
  layout_digest: string;
  seed: number;
  publish_as: { name: string; version: string };
  /** DP jobs: the devices the job can draw from (the accountant's population; q = m / this). */
  dp_population?: number;
}

/** The devices' training config of a job (a scheduled rate starts from the devices' default when no lr is set). */
function fitConfigOf(spec: CreateFlJobRequest): Record<string, number> {
  const scheduled = (spec.lr_decay !== undefined && spec.lr_decay < 1) || spec.lr_schedule === 'cosine';
  const lr = spec.lr ?? (scheduled ? DEFAULT_CLIENT_OPTIMIZER.lr : undefined);
  return {
    local_epochs: spec.local_epochs,
    ...(spec.local_steps !== undefined ? { local_steps: spec.local_steps } : {}),
    batch_size: spec.batch_size,
    ...(lr !== undefined ? { lr } : {}),
    ...(spec.restricted_softmax !== undefined ? { restricted_softmax: spec.restricted_softmax } : {}),
    ...(spec.logit_calibration !== undefined ? { logit_calibration: spec.logit_calibration } : {}),
  };
}

/** A job's client config and lr schedule as strategy options (the strategy checks them: at creation and per round). */
function clientScheduleOf(spec: CreateFlJobRequest): FedAvgOptions {
  return {
    fitConfig: fitConfigOf(spec),
    ...(spec.lr_decay !== undefined ? { clientLrDecay: spec.lr_decay } : {}),
    ...(spec.lr_min !== undefined ? { clientLrMin: spec.lr_min } : {}),
    ...(spec.lr_schedule !== undefined ? { clientLrSchedule: spec.lr_schedule, clientLrRounds: spec.rounds } : {}),
  };
}

interface Loaded {
  model: Model;
  layout: WeightLayout;
}

export class FlCoordinator {
  /** Source models by sha256 (parsing a model per round is wasted work; they never change). */
  private readonly models = new Map<string, Loaded>();
  private ticking = false;
  /** The four phases of secure-aggregation rounds (fl-secure-rounds.ts). */
  readonly secure: SecureRounds;
  /** A round waiting for min_available_clients counts its wait from here at the earliest (devices reconnect after a restart). */
  private readonly startedAt: number;

  constructor(private readonly host: FlHost) {
    this.startedAt = host.now?.() ?? Date.now();
    this.secure = new SecureRounds({
      fl: host.fl,
      readArtifact: (sha) => this.readArtifact(sha),
      now: () => this.now(),
    });
  }

  private now(): number {
    return this.host.now?.() ?? Date.now();
  }

  private async readArtifact(sha256: string): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    for await (const c of this.host.artifacts.read(sha256)) chunks.push(c as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  }

  async loadModel(sha256: string): Promise<Loaded> {
    let m = this.models.get(sha256);
    if (!m) {
      const model = decodeModel(await this.readArtifact(sha256), `artifact ${sha256.slice(0, 12)}`);
      m = { model, layout: modelLayout(model) };
      this.models.set(sha256, m);
    }
    return m;
  }

  private async putArtifact(bytes: Uint8Array): Promise<string> {
    const a = await this.host.artifacts.putBytes(bytes);
    await this.host.recordArtifact(a.sha256, a.size);
    return a.sha256;
  }

  private async resolveModel(
    req: CreateFlJobRequest,
  ): Promise<{ sha256: string; name: string | null; version: string | null }> {
    if ('sha256' in req.model) {
      if (!this.host.artifacts.has(req.model.sha256))
        throw new VergeError('E_NOT_FOUND', `artifact ${req.model.sha256} was not uploaded (POST /v1/artifacts first)`);
      return { sha256: req.model.sha256, name: null, version: null };
    }
    const { name, version } = req.model;
    const mv = await this.host.models.version(name, version);
    if (!mv) throw new VergeError('E_NOT_FOUND', `no model ${name}@${version} in the registry`);
    const fp32 = mv.variants.find((v) => v.precision === 'fp32');
    if (!fp32) throw new VergeError('E_UNSUPPORTED', `${name}@${version} has no fp32 variant to train federatedly`);
    return { sha256: fp32.sha256, name, version };
  }

  private publishTarget(job: string, m: { name: string | null; version: string | null }, req: CreateFlJobRequest) {
    if (req.publish) return req.publish;
    if (m.name && m.version) return { name: m.name, version: semver.inc(m.version, 'minor') ?? '1.0.0' };
    return { name: job, version: '1.0.0' };
  }

  /** Validate and store a job; its first round opens on the next tick. */
  async create(input: unknown): Promise<FlJob> {
    const parsed = CreateFlJobRequest.safeParse(input);
    if (!parsed.success)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `invalid FL job: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    const req = parsed.data;
    parseCompression(req.compress);
    // fails fast on an unknown strategy, bad parameters or a bad lr schedule
    const strategy = createStrategy(req.strategy, clientScheduleOf(req));
    if (req.dp && !strategy.linear)
      throw new VergeError('E_BAD_ARGUMENT', `DP needs a mean-based strategy; '${strategy.name}' is not one`);
    if (req.secure_agg && !strategy.linear)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `secure aggregation needs a mean-based strategy; '${strategy.name}' reads individual updates`,
      );
    if (req.secure_agg && req.compress !== 'none')
      throw new VergeError(
        'E_BAD_ARGUMENT',
        'secure aggregation masks dense updates; it cannot be combined with compress',
      );
    if (req.secure_agg && req.min_fit_clients < 2)
      throw new VergeError('E_BAD_ARGUMENT', 'secure aggregation needs min_fit_clients ≥ 2');
    checkMinAvailable(req);
    const id = `fl-${randomBytes(6).toString('hex')}`;
    const source = await this.resolveModel(req);
    const { layout } = await this.loadModel(source.sha256);
    const publish = this.publishTarget(id, source, req);
    if (await this.host.models.version(publish.name, publish.version))
      throw new VergeError('E_CONFLICT', `${publish.name}@${publish.version} exists; choose another publish version`);
    if (req.target.devices)
      for (const d of req.target.devices)
        if (!(await this.host.devices.get(d))) throw new VergeError('E_NOT_FOUND', `no device '${d}'`);
    const spec: JobSpec = {
      ...req,
      layout_digest: layoutDigest(layout),
      seed: randomBytes(4).readUInt32LE(0),
      publish_as: publish,
      ...(req.dp ? { dp_population: Math.max(req.min_fit_clients, await this.targetCount(req)) } : {}),
    };
    const now = this.now();
    await this.host.fl.insertJob({
      id,
      state: 'running',
      spec: spec as unknown as Record<string, unknown>,
      model_sha256: source.sha256,
      model_name: source.name,
      model_version: source.version,
      global_sha256: source.sha256,
      strategy_state_sha256: null,
      current_round: 0,
      rounds_completed: 0,
      final: null,
      published: null,
      error: null,
      created_at: now,
    });
    void this.tick().catch(() => undefined);
    return this.describe(id);
  }

  /** Enrolled, non-revoked devices the job targets, online or not (the DP population). */
  private async targetCount(req: CreateFlJobRequest): Promise<number> {
    const want = req.target.devices ? new Set(req.target.devices) : null;
    return (await this.host.devices.list()).filter(
      (d) =>
        d.revoked_at === null &&
        (!want || want.has(d.id) || want.has(d.name)) &&
        (!req.target.tags || Object.entries(req.target.tags).every(([k, v]) => d.tags[k] === v)),
    ).length;
  }

  private strategyOf(spec: JobSpec): Strategy {
    const inner = this.innerStrategyOf(spec);
    if (!spec.dp) return inner;
    return new DpFedAvg(inner, {
      clip: spec.dp.clip,
      noiseMultiplier: spec.dp.noise_multiplier,
      population: spec.dp_population ?? spec.min_fit_clients,
      ...(spec.dp.delta !== undefined ? { delta: spec.dp.delta } : {}),
      random: secureRandom(),
    });
  }

  /**
   * The RDP accountant of a DP job replayed from its closed training rounds (one sampled-Gaussian
   * step each, q = contributors / population): restarts lose nothing, and no state is stored.
   */
  private async replayAccountant(job: FlJobRecord, spec: JobSpec, acc: RdpAccountant): Promise<void> {
    if (!spec.dp) return;
    const population = spec.dp_population ?? spec.min_fit_clients;
    for (const r of await this.host.fl.listRounds(job.id)) {
      if (r.task !== 'fit' || r.state !== 'closed') continue;
      const m = (await this.host.fl.participants(job.id, r.round)).filter((p) => p.state === 'accepted').length;
      acc.step(Math.min(1, m / population), spec.dp.noise_multiplier);
    }
  }

  private innerStrategyOf(spec: JobSpec): Strategy {
    return createStrategy(spec.strategy, {
      fractionFit: spec.fraction_fit,
      minFitClients: spec.min_fit_clients,
      // the coordinator waits for min_available_clients itself (openRound); past that wait a round may
      // open with fewer, so the strategy's own check is the floor
      minAvailableClients: spec.min_fit_clients,
      minEvaluateClients: 1,
      ...clientScheduleOf(spec),
      seed: spec.seed,
    });
  }

  private async restoreStrategy(job: FlJobRecord): Promise<Strategy> {
    const s = this.strategyOf(job.spec as unknown as JobSpec);
    if (job.strategy_state_sha256) s.setState(decodeStrategyState(await this.readArtifact(job.strategy_state_sha256)));
    if (s instanceof DpFedAvg) await this.replayAccountant(job, job.spec as unknown as JobSpec, s.accountant);
    return s;
  }

  /** Enrolled, non-revoked, online devices the job targets. */
  private async pool(spec: JobSpec): Promise<DeviceRecord[]> {
    const want = spec.target.devices ? new Set(spec.target.devices) : null;
    return (await this.host.devices.list()).filter(
      (d) =>
        d.revoked_at === null &&
        this.host.deviceOnline(d) &&
        (!want || want.has(d.id) || want.has(d.name)) &&
        (!spec.target.tags || Object.entries(spec.target.tags).every(([k, v]) => d.tags[k] === v)),
    );
  }

  private taskFor(
    job: FlJobRecord,
    round: number,
    task: 'fit' | 'evaluate',
    deadline: number,
    p: { device_id: string; token: string },
    config: Record<string, number | string | boolean>,
    secagg?: FlSecAggTask,
  ): MessageInput<'fl'> {
    const spec = job.spec as unknown as JobSpec;
    const size = this.host.artifacts.size(job.global_sha256);
    return {
      device_id: p.device_id,
      job_id: job.id,
      round,
      task,
      deadline,
      model: {
        sha256: job.global_sha256,
        size,
        url: artifactUrl(job.global_sha256),
        signature: signArtifact(job.global_sha256, this.host.signingKey.privateKey),
        key_id: this.host.signingKey.keyId,
      },
      layout: spec.layout_digest,
      config,
      compress: spec.compress,
      upload_path: task === 'fit' ? FL_PATHS.update(job.id, round) : FL_PATHS.evaluation(job.id, round),
      token: p.token,
      ...(secagg ? { secagg } : {}),
    };
  }

  /**
   * Open the job's next round; false when too few devices are available yet (retried next tick).
   * `since`: when the round became due (the previous round's close, or the job's creation).
   */
  private async openRound(job: FlJobRecord, task: 'fit' | 'evaluate', since: number): Promise<boolean> {
    const spec = job.spec as unknown as JobSpec;
    const devices = await this.pool(spec);
    const round = job.current_round + 1;
    const floor = task === 'fit' ? spec.min_fit_clients : 1;
    const may = roundMayOpen({
      online: devices.length,
      floor,
      want: Math.max(floor, spec.min_available_clients ?? floor),
      since: Math.max(since, this.startedAt),
      now: this.now(),
      timeoutMs: spec.round_timeout_s * 1000,
    });
    if (!may) return false;
    let chosen: { id: string; config: Record<string, number | string | boolean> }[];
    if (task === 'fit') {
      const strategy = this.strategyOf(spec);
      const { layout } = await this.loadModel(job.model_sha256);
      chosen = strategy
        .configureFit(
          round,
          new Float32Array(layout.size),
          devices.map((d) => ({ id: d.id })),
        )
        .map((i) => ({ id: i.client, config: i.config }));
    } else {
      chosen = devices.map((d) => ({ id: d.id, config: { round } }));
    }
    const deadline = this.now() + spec.round_timeout_s * 1000;
    const parts = chosen.map((c) => ({ device_id: c.id, token: randomBytes(18).toString('base64url') }));
    const secure =
      task === 'fit' && spec.secure_agg
        ? SecureRounds.params(
            job.id,
            round,
            parts.map((p) => p.device_id),
            (await this.loadModel(job.model_sha256)).layout.size,
            !!spec.dp,
          )
        : null;
    await this.host.fl.openRound(
      { job_id: job.id, round, task, state: 'open', model_sha256: job.global_sha256, deadline, opened_at: this.now() },
      parts,
    );
    const sa = secure
      ? (await this.secure.open(job.id, round, secure, deadline), await this.secure.get(job.id, round))
      : null;
    const current = (await this.host.fl.getJob(job.id))!;
    await Promise.all(
      parts.map(async (p, i) =>
        this.host.publishTask(
          p.device_id,
          this.taskFor(
            current,
            round,
            task,
            deadline,
            p,
            chosen[i]!.config,
            sa ? await this.secure.taskPart(sa, p.device_id) : undefined,
          ),
        ),
      ),
    );
    return true;
  }

  /** Re-send the retained task of every open round (the embedded broker forgets retained messages on restart). */
  async republish(): Promise<void> {
    for (const job of await this.host.fl.listJobs('running')) {
      // one job's trouble must not stop the control plane from starting; the ticker retries it
      await this.republishJob(job).catch(() => undefined);
    }
  }

  /**
   * The client config of a training round, as the strategy gave it when the round opened (the round's
   * scheduled lr, FedProx's μ, DP's clipping norm: they depend on the round only, not on who takes part).
   */
  private roundConfig(spec: JobSpec, round: number): Record<string, number | string | boolean> {
    return this.strategyOf(spec).fitConfig(round);
  }

  private async republishJob(job: FlJobRecord): Promise<void> {
    const r = job.current_round ? await this.host.fl.getRound(job.id, job.current_round) : null;
    if (!r || r.state !== 'open') return;
    const sa = r.task === 'fit' ? await this.secure.get(job.id, r.round) : null;
    if (sa && sa.phase !== 'advertise') return this.publishPhase(job, r.round, await this.secure.members(sa), true);
    const all = await this.host.fl.participants(job.id, r.round);
    const config = r.task === 'fit' ? this.roundConfig(job.spec as unknown as JobSpec, r.round) : { round: r.round };
    for (const p of all.filter((x) => x.state === 'pending'))
      await this.host.publishTask(
        p.device_id,
        this.taskFor(
          job,
          r.round,
          r.task,
          r.deadline,
          p,
          config,
          sa ? await this.secure.taskPart(sa, p.device_id) : undefined,
        ),
      );
  }

  /** Send the current phase of a secure round to `devices` (those that have not answered it, with `pendingOnly`). */
  private async publishPhase(job: FlJobRecord, round: number, devices: string[], pendingOnly = false): Promise<void> {
    const sa = (await this.secure.get(job.id, round))!;
    const answered = pendingOnly
      ? new Set((await this.host.fl.secAggMessages(job.id, round, sa.phase)).map((m) => m.device_id))
      : new Set<string>();
    for (const d of devices) {
      if (answered.has(d)) continue;
      const p = await this.host.fl.participant(job.id, round, d);
      if (!p) continue;
      await this.host.publishTask(
        d,
        this.taskFor(job, round, 'fit', sa.phase_deadline, p, {}, await this.secure.taskPart(sa, d)),
      );
    }
  }

  /** Weighted mean of the clients' evaluation metrics (eval_* in fit uploads, loss/accuracy in evaluations). */
  private evaluation(parts: FlParticipantRecord[], prefix: string): { accuracy: number | null; loss: number | null } {
    let n = 0;
    let acc = 0;
    let loss = 0;
    for (const p of parts) {
      const e = p.metrics[`${prefix}examples`];
      const a = p.metrics[`${prefix}accuracy`];
      const l = p.metrics[`${prefix}loss`];
      if (!(typeof e === 'number' && e > 0 && typeof a === 'number' && typeof l === 'number')) continue;
      n += e;
      acc += a * e;
      loss += l * e;
    }
    return n > 0 ? { accuracy: acc / n, loss: loss / n } : { accuracy: null, loss: null };
  }

  /** The accepted updates as strategy inputs: one per device, or the secure round's one sum. */
  private async fitResults(accepted: FlParticipantRecord[], size: number, sum: SecureSum | null): Promise<FitResult[]> {
    if (sum)
      return [
        {
          client: 'secure-aggregate',
          update: sum.mean,
          examples: accepted.reduce((a, p) => a + (p.examples ?? 0), 0),
          metrics: {},
          contributors: sum.survivors.length,
        },
      ];
    const results: FitResult[] = [];
    for (const p of accepted)
      results.push({
        client: p.device_id,
        update: requireUpdate(await this.readArtifact(p.update_sha256!), size),
        examples: p.examples ?? 0,
        metrics: p.metrics,
      });
    return results;
  }

  private async aggregate(
    job: FlJobRecord,
    round: number,
    accepted: FlParticipantRecord[],
    sum: SecureSum | null,
  ): Promise<void> {
    const { model, layout } = await this.loadModel(job.model_sha256);
    const current =
      job.global_sha256 === job.model_sha256 ? model : decodeModel(await this.readArtifact(job.global_sha256));
    const global = weightsOf(current, layout);
    const strategy = await this.restoreStrategy(job);
    const results = await this.fitResults(accepted, layout.size, sum);
    const next = strategy.aggregateFit(round, global, results, []).weights;
    const globalSha = await this.putArtifact(encodeModel(withWeights(model, layout, next)));
    const state = strategy.getState();
    const stateSha = Object.keys(state).length ? await this.putArtifact(encodeStrategyState(state)) : null;
    await this.host.fl.updateJob(job.id, ['running'], {
      global_sha256: globalSha,
      strategy_state_sha256: stateSha,
      rounds_completed: job.rounds_completed + 1,
    });
  }

  private async closeRound(job: FlJobRecord, r: FlRoundRecord): Promise<void> {
    await this.host.fl.markMissing(job.id, r.round);
    const parts = await this.host.fl.participants(job.id, r.round);
    const accepted = parts.filter((p) => p.state === 'accepted');
    const uplink = parts.reduce((a, p) => a + (p.bytes ?? 0), 0);
    const spec = job.spec as unknown as JobSpec;
    if (r.task === 'evaluate') {
      const final = this.evaluation(accepted, '');
      await this.host.fl.transitionRound(job.id, r.round, 'closing', 'closed', {
        ...final,
        uplink_bytes: uplink,
        closed_at: this.now(),
      });
      await this.finish(job, final);
      return;
    }
    const ev = this.evaluation(accepted, 'eval_');
    // a secure round aggregates the masked inputs' sum; it fails if the phases left too few devices
    const sa = spec.secure_agg ? await this.secure.get(job.id, r.round) : null;
    let sum: SecureSum | null = null;
    let secureUplink = 0;
    if (sa) {
      for (const phase of ['advertise', 'share', 'unmask'] as const)
        for (const m of await this.host.fl.secAggMessages(job.id, r.round, phase)) secureUplink += m.bytes;
      if (accepted.length >= spec.min_fit_clients) sum = await this.secure.sum(sa).catch(() => null);
    }
    if (accepted.length < spec.min_fit_clients || (sa && !sum)) {
      await this.host.fl.transitionRound(job.id, r.round, 'closing', 'failed', {
        ...ev,
        uplink_bytes: uplink + secureUplink,
        closed_at: this.now(),
      });
      const rounds = await this.host.fl.listRounds(job.id);
      const failedInARow = rounds.reverse().findIndex((x) => x.state !== 'failed');
      if ((failedInARow < 0 ? rounds.length : failedInARow) >= MAX_FAILED_ROUNDS)
        await this.fail(
          job,
          `${MAX_FAILED_ROUNDS} rounds in a row closed with fewer than ${spec.min_fit_clients} updates`,
        );
      return;
    }
    await this.aggregate(job, r.round, accepted, sum);
    await this.host.fl.transitionRound(job.id, r.round, 'closing', 'closed', {
      ...ev,
      uplink_bytes: uplink + secureUplink,
      closed_at: this.now(),
    });
  }

  private async clearTasks(job: FlJobRecord): Promise<void> {
    const devices = new Set<string>();
    for (const r of await this.host.fl.listRounds(job.id))
      for (const p of await this.host.fl.participants(job.id, r.round)) devices.add(p.device_id);
    await Promise.all([...devices].map((d) => this.host.publishTask(d, null).catch(() => undefined)));
  }

  private async fail(job: FlJobRecord, error: string): Promise<void> {
    if (await this.host.fl.updateJob(job.id, ['running'], { state: 'failed', error })) await this.clearTasks(job);
  }

  private async finish(job: FlJobRecord, final: { accuracy: number | null; loss: number | null }): Promise<void> {
    const j = (await this.host.fl.getJob(job.id))!;
    const spec = j.spec as unknown as JobSpec;
    const parent = j.model_name && j.model_version ? `${j.model_name}@${j.model_version}` : null;
    // the global model's loaded memory, for the agents' budget check (absent when it cannot be measured: they estimate)
    const loaded = await measurePublishedMemory(await this.readArtifact(j.global_sha256), () => undefined);
    await this.host.models.publish({
      name: spec.publish_as.name,
      version: spec.publish_as.version,
      sha256: j.global_sha256,
      parent,
      optimization: `federated:${spec.strategy} rounds=${j.rounds_completed} job=${j.id}`.slice(0, 200),
      metrics: {
        ...(final.accuracy !== null ? { accuracy: final.accuracy } : {}),
        ...(final.loss !== null ? { loss: final.loss } : {}),
        fl_rounds: j.rounds_completed,
      },
      ...(loaded ? { loaded_memory: loaded } : {}),
    });
    if (await this.host.fl.updateJob(j.id, ['running'], { state: 'completed', final, published: spec.publish_as }))
      await this.clearTasks(j);
  }

  /**
   * True while a selected device may still answer: one is pending and not revoked. A device revoked
   * mid-round can no longer upload (its credential is refused), so it does not hold the round to its
   * deadline; it counts as missing when the round closes. Stops at the first live pending device.
   */
  private async awaitsDevice(parts: readonly FlParticipantRecord[]): Promise<boolean> {
    for (const p of parts) {
      if (p.state !== 'pending') continue;
      const d = await this.host.devices.get(p.device_id);
      if (d && d.revoked_at === null) return true;
    }
    return false;
  }

  /** Advance one job: open, close, aggregate, publish — whatever its state calls for now. */
  private async advance(job: FlJobRecord): Promise<void> {
    const spec = job.spec as unknown as JobSpec;
    const r = job.current_round ? await this.host.fl.getRound(job.id, job.current_round) : null;
    if (!r || r.state === 'closed' || r.state === 'failed') {
      // the final evaluation closed but publishing did not complete (e.g. a restart): publish now
      if (r?.task === 'evaluate') return this.finish(job, { accuracy: r.accuracy, loss: r.loss });
      await this.openRound(
        job,
        job.rounds_completed >= spec.rounds ? 'evaluate' : 'fit',
        r?.closed_at ?? job.created_at,
      );
      return;
    }
    if (r.state === 'closing') {
      if (this.now() > r.deadline + STALE_CLOSING_MS)
        await this.host.fl.transitionRound(job.id, r.round, 'closing', 'open');
      return;
    }
    const sa = r.task === 'fit' && spec.secure_agg ? await this.secure.get(job.id, r.round) : null;
    if (sa) {
      const step = await this.secure.step(sa, spec.round_timeout_s * 1000);
      if (step === 'wait') return;
      if (step !== 'close') return this.publishPhase(job, r.round, step.next);
    } else {
      const parts = await this.host.fl.participants(job.id, r.round);
      if (this.now() < r.deadline && (await this.awaitsDevice(parts))) return;
    }
    if (!(await this.host.fl.transitionRound(job.id, r.round, 'open', 'closing'))) return; // another replica has it
    await this.closeRound(job, r);
  }

  /** Called every control-plane tick and after uploads. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      for (const job of await this.host.fl.listJobs('running')) {
        try {
          await this.advance(job);
        } catch (e) {
          await this.fail(job, (e as Error).message.split('\n')[0]!);
        }
      }
    } finally {
      this.ticking = false;
    }
  }

  async stop(id: string): Promise<FlJob> {
    const job = await this.host.fl.getJob(id);
    if (!job) throw new VergeError('E_NOT_FOUND', `no FL job '${id}'`);
    if (job.state !== 'running') throw new VergeError('E_CONFLICT', `FL job ${id} is already ${job.state}`);
    if (await this.host.fl.updateJob(id, ['running'], { state: 'stopped', error: 'stopped by operator' }))
      await this.clearTasks(job);
    return this.describe(id);
  }

  async describe(id: string): Promise<FlJob> {
    const j = await this.host.fl.getJob(id);
    if (!j) throw new VergeError('E_NOT_FOUND', `no FL job '${id}'`);
    const spec = j.spec as unknown as JobSpec;
    const history = [];
    for (const r of await this.host.fl.listRounds(id)) {
      const parts = await this.host.fl.participants(id, r.round);
      const count = (s: string) => parts.filter((p) => p.state === s).length;
      history.push({
        round: r.round,
        task: r.task,
        state: r.state === 'closing' ? ('open' as const) : r.state,
        selected: parts.length,
        accepted: count('accepted'),
        rejected: count('rejected'),
        late: count('late'),
        missing: count('missing'),
        accuracy: r.accuracy,
        loss: r.loss,
        uplink_bytes: r.uplink_bytes,
        deadline: r.deadline,
        closed_at: r.closed_at,
      });
    }
    const acc = spec.dp ? new RdpAccountant() : null;
    if (acc) await this.replayAccountant(j, spec, acc);
    const delta = spec.dp?.delta ?? DEFAULT_DP_DELTA;
    return {
      id: j.id,
      state: j.state,
      model: { name: j.model_name, version: j.model_version, sha256: j.model_sha256 },
      strategy: spec.strategy,
      rounds: spec.rounds,
      rounds_completed: j.rounds_completed,
      min_fit_clients: spec.min_fit_clients,
      min_available_clients: spec.min_available_clients ?? spec.min_fit_clients,
      fraction_fit: spec.fraction_fit,
      round_timeout_s: spec.round_timeout_s,
      compress: spec.compress,
      secure_agg: !!spec.secure_agg,
      target: spec.target,
      final: j.final,
      published: j.published,
      error: j.error,
      privacy:
        acc && spec.dp
          ? {
              epsilon: acc.rounds > 0 ? acc.epsilon(delta).epsilon : 0,
              delta,
              clip: spec.dp.clip,
              noise_multiplier: spec.dp.noise_multiplier,
            }
          : null,
      history,
      created_at: j.created_at,
      updated_at: j.updated_at,
    };
  }

  async list(): Promise<FlJob[]> {
    return Promise.all((await this.host.fl.listJobs()).map((j) => this.describe(j.id)));
  }
}

/** min_available_clients must be reachable: not below min_fit_clients, not above the named devices. */
function checkMinAvailable(req: CreateFlJobRequest): void {
  const want = req.min_available_clients;
  if (want === undefined) return;
  if (want < req.min_fit_clients)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `min_available_clients (${want}) is below min_fit_clients (${req.min_fit_clients})`,
    );
  const named = req.target.devices?.length;
  if (named !== undefined && want > named)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `min_available_clients (${want}) is more than the ${named} target device(s)`,
    );
}
