/**
 * The agent's side of the edge data loop (docs/edge-loop.md), run after every local prediction:
 *
 * 1. joint inference: when the deployment's policy names a cloud model and the local top-1
 *    probability is below its threshold, the input goes (encoded) to the cloud's hosted model; its
 *    answer is returned if it arrives before the deadline, otherwise the local answer is returned,
 *    flagged with why the cloud did not answer;
 * 2. collection: the policy's hard-example rules and sample rate decide which inputs are kept in
 *    the device's CollectionStore (with the cloud's answer when there was one);
 * 3. uplink: a CollectionUplink sends kept items to the cloud in the background.
 */
import type Database from 'better-sqlite3';
import { encodeTensor, type CodecContext } from '../data/browser.ts';
import { isVergeError } from '../errors.ts';
import {
  CODEC_FRAME_CONTENT_TYPE,
  EDGE_LOOP_PATHS,
  PredictResponse,
  addToDriftSummary,
  emptyDriftSummary,
  type DriftReport,
  type DriftSummary,
  parseEdgeLoopPolicy,
  type DesiredModel,
  type OffloadPolicy,
} from '../protocol/index.ts';
import type { TensorValue } from '../runtime/index.ts';
import { CollectionStore } from './collection-store.ts';
import { Collector, type ModelLoopPolicy } from './collector.ts';
import { outputConfidence } from './confidence.ts';
import { DriftStore, MAX_DRIFT_ROWS } from './drift-store.ts';
import { deviceAuthHeader, joinUrl } from './enrollment.ts';
import type { LoadedModel } from './served-models.ts';
import { CollectionUplink, UPLOAD_INTERVAL_MS } from './uplink.ts';

export type AnsweredBy = 'edge' | 'cloud';

/** Why the cloud did not answer an offloaded request (the local answer was returned). */
export type OffloadOutcome = 'ok' | 'timeout' | 'unreachable' | 'refused';

export interface AfterPredict {
  outputs: Record<string, TensorValue>;
  answered_by: AnsweredBy;
  offload?: { outcome: OffloadOutcome; ms: number; model: string; message?: string };
}

export interface EdgeLoopHost {
  db: Database.Database;
  deviceId: string;
  password: string;
  cloudUrl: () => string;
  /** HTTP to the cloud (cloud-channel.ts: the agent's CA and client certificate); default: global fetch. */
  fetch?: typeof fetch;
  codecContext: CodecContext;
  log: (line: string) => void;
  uploadIntervalMs?: number;
  /** Uniform [0, 1) draws for the sample rate (default Math.random; tests seed it). */
  random?: () => number;
}

export class AgentEdgeLoop {
  readonly store: CollectionStore;
  readonly collector: Collector;
  readonly uplink: CollectionUplink;
  readonly offloadCounters = { requests: 0, ok: 0, timeout: 0, unreachable: 0, refused: 0 };
  /** Drift summaries not yet delivered (agent.db: they survive restarts and outages). */
  readonly driftStore: DriftStore;
  /** Input and class-mix summaries since the last fold into driftStore, per model. */
  private drift = new Map<string, { version: string; start: number; summary: DriftSummary }>();
  private driftTimer?: NodeJS.Timeout;
  private driftChain: Promise<unknown> = Promise.resolve();
  private driftTick = false;
  readonly driftCounters = { reports: 0, failed: 0, dropped_windows: 0 };

  constructor(private readonly host: EdgeLoopHost) {
    this.store = new CollectionStore(host.db);
    this.driftStore = new DriftStore(host.db);
    this.collector = new Collector(this.store, host.db, host.random);
    this.uplink = new CollectionUplink(
      {
        cloudUrl: host.cloudUrl,
        ...(host.fetch ? { fetch: host.fetch } : {}),
        deviceId: host.deviceId,
        password: host.password,
        store: this.store,
        codecsFor: (model) => {
          const c = this.collector.policyOf(model)?.policy.collect;
          return c?.upload ? c.codecs : null;
        },
        codecContext: host.codecContext,
        log: host.log,
      },
      { intervalMs: host.uploadIntervalMs },
    );
  }

  /** Take the policies of a new desired state; a policy this agent cannot read leaves that model's previous one. */
  applyDesired(models: readonly DesiredModel[]): void {
    const next = new Map<string, ModelLoopPolicy>();
    for (const m of models) {
      if (!m.edge_loop) continue;
      try {
        next.set(m.name, { deployment_id: m.deployment_id, policy: parseEdgeLoopPolicy(m.edge_loop) });
      } catch (e) {
        const prev = this.collector.policyOf(m.name);
        if (prev) next.set(m.name, prev);
        this.host.log(`keeping the previous edge-loop policy of ${m.name}: ${(e as Error).message}`);
      }
    }
    const before = JSON.stringify(
      Object.fromEntries([...this.collector.models()].map((n) => [n, this.collector.policyOf(n)])),
    );
    const after = JSON.stringify(Object.fromEntries(next));
    if (before === after) return;
    this.collector.setPolicies(next);
    for (const [name, p] of next)
      this.host.log(
        `edge-loop policy of ${name}: ${p.policy.collect ? `collect (sample ${p.policy.collect.sample_rate}, hard ${JSON.stringify(p.policy.collect.hard)}, quota ${p.policy.collect.quota_mb} MB)` : 'no collection'}${p.policy.offload ? `, offload below ${p.policy.offload.below}${p.policy.offload.margin_below !== undefined ? ` or margin below ${p.policy.offload.margin_below}` : ''} to ${p.policy.offload.model}` : ''}`,
      );
  }

  start(): void {
    this.uplink.start();
    this.driftTimer = setInterval(() => {
      if (this.driftTick) return; // the previous tick's report is still waiting for the cloud
      this.driftTick = true;
      void this.reportDrift()
        .catch(() => undefined)
        .finally(() => (this.driftTick = false));
    }, this.host.uploadIntervalMs ?? UPLOAD_INTERVAL_MS);
    this.driftTimer.unref();
  }

  async stop(): Promise<unknown> {
    if (this.driftTimer) clearInterval(this.driftTimer);
    // a report in flight keeps its rows (sendingUpTo); what is in memory goes to agent.db
    try {
      if (this.host.db.open) this.flushDrift();
    } catch (e) {
      this.host.log(`cannot keep the drift summaries: ${(e as Error).message}`);
    }
    return this.uplink.stop();
  }

  /** Fold the in-memory drift summaries into agent.db. */
  flushDrift(): void {
    if (this.drift.size === 0) return;
    const now = Date.now();
    const windows = [...this.drift].map(([model, d]) => ({
      model,
      version: d.version,
      start: d.start,
      end: now,
      summary: d.summary,
    }));
    this.drift = new Map();
    const { dropped } = this.driftStore.add(windows);
    if (dropped > 0) {
      this.driftCounters.dropped_windows += dropped;
      this.host.log(`drift: ${dropped} undelivered window(s) dropped (more than ${MAX_DRIFT_ROWS} pending)`);
    }
  }

  private observeDrift(model: { name: string; version: string }, input: TensorValue, predicted: number[]): void {
    if (!(input.data instanceof Float32Array) || predicted.length === 0) return;
    let d = this.drift.get(model.name);
    if (!d || d.version !== model.version) {
      if (d) this.flushDrift(); // keep the previous version's window (reported on its own)
      d = { version: model.version, start: Date.now(), summary: emptyDriftSummary() };
      this.drift.set(model.name, d);
    }
    addToDriftSummary(d.summary, input.data, predicted.length, predicted);
  }

  /**
   * Send the drift summaries not delivered yet (those in agent.db, after folding in the ones in
   * memory); they are deleted only once the cloud accepted them. Reports run one after another,
   * so the one a call starts includes everything observed before the call.
   */
  reportDrift(): Promise<boolean> {
    const run = this.driftChain.then(() => this.sendDrift());
    this.driftChain = run.catch(() => undefined);
    return run;
  }

  private async sendDrift(): Promise<boolean> {
    this.flushDrift();
    const pending = this.driftStore.take();
    if (pending.length === 0) return true;
    try {
      const reports: DriftReport[] = pending.map((p) => ({
        model: p.model,
        version: p.version,
        device_id: this.host.deviceId,
        window_start: p.window_start,
        window_end: p.window_end,
        summary: p.summary,
      }));
      const res = await (this.host.fetch ?? fetch)(
        joinUrl(this.host.cloudUrl(), EDGE_LOOP_PATHS.drift.replace(/^\//, '')),
        {
          method: 'POST',
          headers: {
            authorization: deviceAuthHeader(this.host.deviceId, this.host.password),
            'content-type': 'application/json',
          },
          body: JSON.stringify({ reports }),
          signal: AbortSignal.timeout(30_000),
        },
      );
      if (res.ok) {
        this.driftStore.delivered(pending.map((p) => p.seq));
        this.driftCounters.reports++;
        return true;
      }
      if (res.status === 400 || res.status === 413) {
        // the cloud will never take these (malformed): dropping them keeps later windows flowing
        this.driftStore.delivered(pending.map((p) => p.seq));
        this.driftCounters.dropped_windows += pending.length;
        this.host.log(`drift: the cloud refused ${pending.length} window(s) with HTTP ${res.status}; dropped`);
      }
    } catch {
      /* offline: they stay in agent.db */
    } finally {
      this.driftStore.released();
    }
    this.driftCounters.failed++;
    return false;
  }

  /** After a local prediction: maybe offload, maybe collect. Never throws: the local answer stands. */
  async afterPredict(
    m: LoadedModel,
    feeds: Record<string, TensorValue>,
    outputs: Record<string, TensorValue>,
  ): Promise<AfterPredict> {
    const policy = this.collector.policyOf(m.name)?.policy;
    const local: AfterPredict = { outputs, answered_by: 'edge' };
    if (!policy || m.inputs.length !== 1) return local;
    const inputName = m.inputs[0]!.name;
    const input = feeds[inputName];
    const first = Object.values(outputs)[0];
    if (!input || !first) return local;
    this.observeDrift(
      m,
      input,
      outputConfidence(first.dims, first.data as ArrayLike<number>).map((c) => c.predicted),
    );
    let result = local;
    let offloaded: boolean[] | undefined;
    let cloudPredicted: (number | null)[] | undefined;
    if (policy.offload) {
      const conf = outputConfidence(first.dims, first.data as ArrayLike<number>);
      const { below, margin_below: marginBelow } = policy.offload;
      if (conf.some((c) => c.top1 < below || (marginBelow !== undefined && c.margin < marginBelow))) {
        result = await this.offload(policy.offload, inputName, input, local);
        offloaded = conf.map(() => true);
        if (result.answered_by === 'cloud') {
          const cloudFirst = Object.values(result.outputs)[0]!;
          const cc = outputConfidence(cloudFirst.dims, cloudFirst.data as ArrayLike<number>);
          cloudPredicted = cc.length === conf.length ? cc.map((c) => c.predicted) : undefined;
        }
      }
    }
    try {
      this.collector.observe({ name: m.name, version: m.version }, inputName, input, first, {
        offloaded,
        cloudPredicted,
      });
    } catch (e) {
      this.host.log(`collection failed: ${(e as Error).message}`);
    }
    return result;
  }

  private async offload(
    p: OffloadPolicy,
    inputName: string,
    input: TensorValue,
    local: AfterPredict,
  ): Promise<AfterPredict> {
    const started = performance.now();
    this.offloadCounters.requests++;
    const flag = (outcome: Exclude<OffloadOutcome, 'ok'>, message: string): AfterPredict => {
      this.offloadCounters[outcome]++;
      return { ...local, offload: { outcome, ms: performance.now() - started, model: p.model, message } };
    };
    if (!(input.data instanceof Float32Array)) return flag('refused', 'only float32 inputs are offloaded');
    let frame: Uint8Array;
    try {
      frame = (await encodeTensor(p.codec, { dims: input.dims, data: input.data }, this.host.codecContext)).frame;
    } catch (e) {
      return flag('refused', `cannot encode with ${p.codec}: ${(e as Error).message}`);
    }
    let res: Response;
    try {
      res = await (this.host.fetch ?? fetch)(
        joinUrl(this.host.cloudUrl(), `v1/models/${encodeURIComponent(p.model)}:predict`),
        {
          method: 'POST',
          headers: {
            authorization: deviceAuthHeader(this.host.deviceId, this.host.password),
            'content-type': CODEC_FRAME_CONTENT_TYPE,
            'x-verge-input': inputName,
          },
          body: frame,
          signal: AbortSignal.timeout(p.deadline_ms),
        },
      );
    } catch (e) {
      const name = (e as Error).name;
      return name === 'TimeoutError' || name === 'AbortError'
        ? flag('timeout', `no answer within ${p.deadline_ms} ms`)
        : flag('unreachable', errorText(e));
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch (e) {
      return (e as Error).name === 'TimeoutError'
        ? flag('timeout', `no answer within ${p.deadline_ms} ms`)
        : flag('refused', `HTTP ${res.status}`);
    }
    if (!res.ok) {
      const msg = (body as { error?: { message?: string } })?.error?.message ?? `HTTP ${res.status}`;
      return flag('refused', msg);
    }
    const parsed = PredictResponse.safeParse(body);
    if (!parsed.success) return flag('refused', 'the cloud answered with an unexpected body');
    const outputs: Record<string, TensorValue> = {};
    for (const [k, t] of Object.entries(parsed.data.outputs))
      outputs[k] = { dtype: 'float32', dims: t.dims, data: Float32Array.from(t.data, (v) => v ?? NaN) };
    this.offloadCounters.ok++;
    return {
      outputs,
      answered_by: 'cloud',
      offload: { outcome: 'ok', ms: performance.now() - started, model: p.model },
    };
  }

  info(): Record<string, unknown> {
    return {
      collection: this.store.counts(),
      collector: this.collector.counters,
      uplink: this.uplink.totals,
      offload: this.offloadCounters,
      drift: { ...this.driftCounters, pending: this.driftStore.counts() },
    };
  }
}

function errorText(e: unknown): string {
  if (isVergeError(e)) return `${e.code}: ${e.message}`;
  const cause = (e as { cause?: { code?: string } }).cause;
  return cause?.code ?? (e as Error).message;
}
