/**
 * The federated client, one code path for simulation and for `verge agent`: take the global
 * weights, train `local_epochs` with `fit` on the local data, evaluate on a local hold-out, and
 * return the update (local − global), the example count and metrics — never data.
 *
 * `ClientTrainer` owns ONE TrainingSession; many virtual clients share it (the simulator) by
 * loading the global weights and fresh optimizer state before each fit, so onnxruntime sessions
 * are built once per process, not once per client.
 */
import type { Dataset, Split } from '../data/dataset.ts';
import { VergeError } from '../errors.ts';
import type { Model } from '../onnx/ir.ts';
import { evaluate, fit, sampleShapeFor } from '../train/fit.ts';
import type { LossKind } from '../train/loss.ts';
import type { OptimizerOptions } from '../train/optimizer.ts';
import { TrainingSession, type TrainingState } from '../train/session.ts';
import { clipToNorm } from './privacy/dp-fedavg.ts';
import type { ClientConfig } from './strategy/strategy.ts';
import { modelLayout, weightsOf, withWeights } from './model-weights.ts';
import { firstNonFinite, subtract, type WeightLayout } from './weights.ts';

/** What a client does when a config leaves it open: one local epoch of batch 32 (Flower's examples). */
export const CLIENT_DEFAULTS = { localEpochs: 1, batchSize: 32 } as const;

export interface ClientTrainerOptions {
  loss?: LossKind;
  /** The client optimizer; its state is reset every round. Default SGD, lr 0.05, momentum 0.9. */
  optimizer?: OptimizerOptions;
  threads?: number;
}

export const DEFAULT_CLIENT_OPTIMIZER: OptimizerOptions = { kind: 'sgd', lr: 0.05, momentum: 0.9 };

export interface LocalFitResult {
  update: Float32Array;
  examples: number;
  metrics: { loss: number; accuracy: number; train_seconds: number; clip_factor?: number };
}

export interface LocalEvaluation {
  loss: number;
  accuracy: number;
  examples: number;
}

function num(config: ClientConfig, key: string, fallback: number): number {
  const v = config[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new VergeError('E_PROTOCOL', `client config '${key}' must be a number, got ${JSON.stringify(v)}`);
  return v;
}

export class ClientTrainer {
  /** The federation's weight vector: every float32 initializer (model-weights.ts). */
  readonly layout: WeightLayout;
  private readonly template: TrainingState;
  /** Layout entries the session trains or updates (parameters, running statistics). */
  private readonly managed: WeightLayout['specs'];

  private constructor(
    readonly model: Model,
    readonly session: TrainingSession,
    readonly loss: LossKind,
  ) {
    this.layout = modelLayout(model);
    const inLayout = new Map(this.layout.specs.map((s) => [s.name, s]));
    const weights = session.stateTensors.filter((s) => s.kind !== 'optimizer');
    for (const w of weights)
      if (!inLayout.has(w.input))
        throw new VergeError('E_UNSUPPORTED', `federated training needs float32 weights; '${w.input}' is ${w.dtype}`);
    this.managed = weights.map((w) => inLayout.get(w.input)!);
    this.template = session.getState();
  }

  static async create(model: Model, opts: ClientTrainerOptions = {}): Promise<ClientTrainer> {
    const loss = opts.loss ?? 'cross-entropy';
    const session = await TrainingSession.create(model, {
      loss,
      optimizer: opts.optimizer ?? DEFAULT_CLIENT_OPTIMIZER,
      ...(opts.threads ? { threads: opts.threads } : {}),
    });
    return new ClientTrainer(model, session, loss);
  }

  /** The model's own weights, flat (round 1's global weights unless a strategy says otherwise). */
  initialWeights(): Float32Array {
    return weightsOf(this.model, this.layout);
  }

  /** Load `weights` into the session with zeroed optimizer state and step 0. */
  load(weights: Float32Array): void {
    if (weights.length !== this.layout.size)
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `global weights have ${weights.length} values; the model has ${this.layout.size}`,
      );
    const tensors: TrainingState['tensors'] = {};
    for (const [name, t] of Object.entries(this.template.tensors))
      tensors[name] = { dtype: t.dtype, dims: t.dims, data: new Float32Array(t.data.length) };
    for (const s of this.managed)
      (tensors[s.name]!.data as Float32Array).set(weights.subarray(s.offset, s.offset + s.size));
    this.session.setState({ step: 0, tensors });
  }

  /** The session's current weights over `base` (entries the session does not train keep base's values). */
  current(base: Float32Array): Float32Array {
    const st = this.session.getState();
    const out = base.slice();
    for (const s of this.managed) out.set(st.tensors[s.name]!.data as Float32Array, s.offset);
    return out;
  }

  /** The plain inference model with `weights`. */
  exportModel(weights: Float32Array): Model {
    return withWeights(this.model, this.layout, weights);
  }

  /** One round of local training from `global` on `data.train`; config comes from the strategy. */
  async fit(global: Float32Array, data: Dataset, config: ClientConfig, seed = 0): Promise<LocalFitResult> {
    if (data.train.count === 0) throw new VergeError('E_DATA_INVALID', 'the client has no training samples');
    // FedProx's μ/2·‖w − w_global‖² belongs in the training graph (train's loss terms); until the
    // session has that term, refuse rather than silently train plain FedAvg
    if (typeof config.proximal_mu === 'number' && config.proximal_mu > 0)
      throw new VergeError(
        'E_UNSUPPORTED',
        'FedProx clients need the proximal loss term in the training graph, which this build lacks; use fedavg',
      );
    const { shape } = sampleShapeFor(this.model, data, { loss: this.loss });
    this.load(global);
    const started = performance.now();
    const r = await fit(this.session, data, {
      epochs: num(config, 'local_epochs', CLIENT_DEFAULTS.localEpochs),
      batchSize: num(config, 'batch_size', CLIENT_DEFAULTS.batchSize),
      ...(config.lr !== undefined ? { lr: num(config, 'lr', 0) } : {}),
      seed,
      loss: this.loss,
      inputShape: shape,
    });
    const update = subtract(this.current(global), global);
    if (firstNonFinite(update) >= 0) throw new VergeError('E_RUNTIME', 'local training produced a non-finite update');
    const last = r.history[r.history.length - 1]!;
    const metrics: LocalFitResult['metrics'] = {
      loss: last.loss,
      accuracy: last.accuracy ?? 0,
      train_seconds: (performance.now() - started) / 1000,
    };
    const clip = config.dp_clip;
    if (clip !== undefined) metrics.clip_factor = clipToNorm(update, num(config, 'dp_clip', 0));
    return { update, examples: data.train.count, metrics };
  }

  /** Accuracy and loss of `weights` on a split (the client's hold-out, or the server's test set). */
  async evaluate(weights: Float32Array, data: Dataset, split: Split): Promise<LocalEvaluation> {
    this.load(weights);
    const { shape } = sampleShapeFor(this.model, data, { loss: this.loss });
    const r = await evaluate(this.session, data, split, { loss: this.loss, inputShape: shape });
    return { loss: r.loss, accuracy: r.accuracy, examples: r.samples };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
