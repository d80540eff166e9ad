/**
 * The control plane's own retrain scheduler (docs/edge-loop.md, "Retraining on drift"): every
 * `intervalMs` it applies the drift policy of `verge retrain --when-drifted` (retrain.ts:
 * `retrainDue`) to every model whose devices reported drift within the window and, when a run is
 * due, retrains it in this process from the labelled collected items and rolls the new version out
 * as a canary to the drifted deployment's target with its edge-loop policy — the same code
 * `verge retrain` runs, over the services instead of HTTP.
 *
 * Off unless the control plane is started with it (`verge cloud --auto-retrain`): a run trains on
 * this process's cores (one onnxruntime thread by default) and publishes and deploys without an
 * operator. Bounded: one run at a time and at most one per tick; per model, the cooldown after a
 * retrained version (from the registry, so it survives restarts) and after a failed run (here);
 * at most `maxRunsPerDay` runs per 24 h over all models. Run it on one replica only: replicas do
 * not share this state. What it decided and ran is in GET /v1/edge-loop/retrain.
 */
import { VergeError } from '../errors.ts';
import type { RetrainSchedulerStatus } from '../protocol/index.ts';
import { retrainDue, retrainFromCollected, type DriftTrigger } from './retrain.ts';
import type { RetrainBackend } from './retrain-backend.ts';

export interface AutoRetrainPolicy extends DriftTrigger {
  /** How often the policy is checked. */
  intervalMs: number;
  /** Canary percentage of the rollout of a retrained version. */
  canaryPercent: number;
  /** Runs over all models within 24 h. */
  maxRunsPerDay: number;
  epochs: number;
  batch: number;
  lr: number;
  /** onnxruntime threads of a run (the API shares the machine). */
  threads: number;
}

/**
 * The policy `verge retrain --when-drifted` defaults to (PSI > 0.25 over the last hour, 24 h
 * cooldown, 100 labelled items), a 10% canary, checked every minute, ≤ 4 runs a day; the
 * fine-tuning of `verge retrain` (3 epochs, batch 32, Adam 5e-4) on one thread.
 */
export const DEFAULT_AUTO_RETRAIN: Readonly<AutoRetrainPolicy> = Object.freeze({
  threshold: 0.25,
  windowMs: 3600_000,
  cooldownMs: 24 * 3600_000,
  minLabelled: 100,
  intervalMs: 60_000,
  canaryPercent: 10,
  maxRunsPerDay: 4,
  epochs: 3,
  batch: 32,
  lr: 5e-4,
  threads: 1,
});

/** Runs and decisions the status keeps (the newest). */
const MAX_RUNS_KEPT = 20;
const MAX_DECISIONS_KEPT = 100;
const DAY_MS = 24 * 3600_000;

/** The policy with defaults filled in, every field checked. */
export function checkAutoRetrain(p: Partial<AutoRetrainPolicy> = {}): AutoRetrainPolicy {
  const out = { ...DEFAULT_AUTO_RETRAIN, ...p };
  const positive = ['windowMs', 'intervalMs', 'maxRunsPerDay', 'epochs', 'batch', 'lr', 'threads'] as const;
  for (const k of positive)
    if (!(Number.isFinite(out[k]) && out[k] > 0))
      throw new VergeError('E_BAD_ARGUMENT', `auto-retrain ${k} must be a positive number, got ${out[k]}`);
  for (const k of ['threshold', 'cooldownMs', 'minLabelled'] as const)
    if (!(Number.isFinite(out[k]) && out[k] >= 0))
      throw new VergeError('E_BAD_ARGUMENT', `auto-retrain ${k} must be a number ≥ 0, got ${out[k]}`);
  if (!(out.canaryPercent > 0 && out.canaryPercent <= 100))
    throw new VergeError('E_BAD_ARGUMENT', `auto-retrain canaryPercent must be in (0, 100], got ${out.canaryPercent}`);
  return out;
}

export interface RetrainSchedulerHost {
  backend: RetrainBackend;
  /** Models whose devices reported drift since `since`. */
  driftModels(since: number): Promise<string[]>;
  log(line: string): void;
}

type Run = RetrainSchedulerStatus['runs'][number];
type Decision = RetrainSchedulerStatus['decisions'][number];

export class RetrainScheduler {
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private readonly decisions = new Map<string, Decision>();
  private readonly runs: Run[] = [];
  private running: RetrainSchedulerStatus['running'] = null;
  private lastCheck: number | null = null;

  constructor(
    private readonly host: RetrainSchedulerHost,
    readonly policy: AutoRetrainPolicy | null,
  ) {}

  get enabled(): boolean {
    return this.policy !== null;
  }

  start(): void {
    if (!this.policy || this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.policy.intervalMs);
  }

  /** Stop checking; a run in progress is aborted after its current training step. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.abort.abort();
    await this.ticking?.catch(() => undefined);
  }

  /** One check of every drifted model; runs at most one retraining. Overlapping calls wait for the first. */
  tick(now = Date.now()): Promise<void> {
    if (!this.policy || this.abort.signal.aborted) return Promise.resolve();
    this.ticking ??= this.check(this.policy, now).finally(() => (this.ticking = null));
    return this.ticking;
  }

  status(): RetrainSchedulerStatus {
    const p = this.policy;
    return {
      enabled: p !== null,
      policy: p
        ? {
            drift_threshold: p.threshold,
            window_s: p.windowMs / 1000,
            cooldown_s: p.cooldownMs / 1000,
            min_labelled: p.minLabelled,
            canary_percent: p.canaryPercent,
            interval_s: p.intervalMs / 1000,
            max_runs_per_day: p.maxRunsPerDay,
            epochs: p.epochs,
          }
        : null,
      last_check: this.lastCheck,
      running: this.running,
      decisions: [...this.decisions.values()].sort((a, b) => a.model.localeCompare(b.model)),
      runs: [...this.runs].reverse(),
    };
  }

  private async check(p: AutoRetrainPolicy, now: number): Promise<void> {
    this.lastCheck = now;
    try {
      for (const model of (await this.host.driftModels(now - p.windowMs)).sort()) {
        if (this.abort.signal.aborted) return;
        const decision = await this.decide(p, model, now);
        this.decisions.set(model, decision);
        while (this.decisions.size > MAX_DECISIONS_KEPT) this.decisions.delete(this.decisions.keys().next().value!);
        if (decision.due && decision.version) {
          await this.run(p, model, decision.version, now);
          return; // at most one run per tick
        }
      }
    } catch (e) {
      this.host.log(`auto-retrain: policy check failed: ${(e as Error).message}`);
    }
  }

  private async decide(p: AutoRetrainPolicy, model: string, now: number): Promise<Decision> {
    const base = { model, at: now };
    const last = this.runs.filter((r) => r.model === model).at(-1);
    const failed = last?.error ? last : undefined;
    if (failed && now - failed.started_at < p.cooldownMs)
      return {
        ...base,
        due: false,
        version: null,
        score: null,
        reason: `cooldown after a failed run at ${new Date(failed.started_at).toISOString()}: ${failed.error}`,
      };
    const recent = this.runs.filter((r) => now - r.started_at < DAY_MS).length;
    const d = await retrainDue(this.host.backend, model, p, now);
    const score = d.drift?.score ?? null;
    if (!d.due) return { ...base, due: false, version: d.drift?.version ?? null, score, reason: d.reason };
    if (recent >= p.maxRunsPerDay)
      return {
        ...base,
        due: false,
        version: d.version,
        score,
        reason: `due, but ${recent} runs in the last 24 h (at most ${p.maxRunsPerDay})`,
      };
    return {
      ...base,
      due: true,
      version: d.version,
      score,
      reason: `drifted (score ${score?.toFixed(3)} > ${p.threshold}), ${d.labelled} labelled items`,
    };
  }

  private async run(p: AutoRetrainPolicy, model: string, version: string, now: number): Promise<void> {
    this.running = { model, from: `${model}@${version}`, started_at: now };
    const run: Run = {
      ...this.running,
      finished_at: null,
      published: null,
      deployment: null,
      holdout: null,
      error: null,
    };
    this.host.log(`auto-retrain: ${model}@${version} drifted; retraining from the collected items`);
    try {
      const r = await retrainFromCollected(this.host.backend, {
        name: model,
        version,
        epochs: p.epochs,
        batch: p.batch,
        lr: p.lr,
        seed: 0,
        threads: p.threads,
        rollout: p.canaryPercent,
        log: (line) => this.host.log(`auto-retrain ${model}: ${line}`),
        signal: this.abort.signal,
      });
      run.published = r.published ? `${r.published.name}@${r.published.version}` : null;
      run.deployment = r.deployment?.id ?? null;
      run.holdout = r.holdout;
      this.host.log(`auto-retrain: published ${run.published}, canary deployment ${run.deployment}`);
    } catch (e) {
      run.error = (e as Error).message;
      this.host.log(`auto-retrain: ${model}@${version} failed: ${run.error}`);
    } finally {
      run.finished_at = Date.now();
      this.runs.push(run);
      if (this.runs.length > MAX_RUNS_KEPT) this.runs.shift();
      this.running = null;
    }
  }
}
