/**
 * The federated client, one code path for simulation and for `verge agent`: take the global
 * weights, train `local_epochs` with `fit` on the local data, evaluate on a local hold-out, and
 * return the update (local − global), the example count and metrics — never data.
 *
 * `ClientTrainer` owns ONE TrainingSession; many virtual clients share it (the simulator) by
 * loading the global weights and fresh optimizer state before each fit, so onnxruntime sessions
 * are built once per process, not once per client.
 */
import type { Dataset, Split } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import type { Model } from '../onnx/browser.ts';
import {
  evaluate,
  findHead,
  fit,
  sampleShapeFor,
  type LossKind,
  type OptimizerOptions,
  ANCHOR_SUFFIX,
  LOGIT_OFFSET,
  LOGIT_SCALE,
  proximalTerm,
  TrainingSession,
  type TrainingSessionOptions,
  type TrainingState,
  type GradientReplicas,
} from '../train/browser.ts';
import type { ClientConfig } from './strategy/strategy.ts';
import { labelCounts, labelSkewFromConfig, logitAdjustment, type LabelSkewCorrection } from './label-skew.ts';
import { modelLayout, weightsOf, withWeights } from './model-weights.ts';
import { clipToNorm, firstNonFinite, subtract, type WeightLayout } from './weights.ts';

/** What a client does when a config leaves it open: one local epoch of batch 32 (Flower's examples). */
export const CLIENT_DEFAULTS = Object.freeze({ localEpochs: 1, batchSize: 32 } as const);

export interface ClientTrainerOptions {
  loss?: LossKind;
  /** The client optimizer; its state is reset every round. Default SGD, lr 0.05, momentum 0.9. */
  optimizer?: OptimizerOptions;
  threads?: number;
  /** Data-parallel replicas (TrainingSessionOptions.replicas): a browser tab's web workers. */
  replicas?: GradientReplicas;
  /**
   * Keep the classifier head (the output layer's weight and bias) fixed at the model's values:
   * clients train and send the body only (FedBABU, Oh et al. 2022). On label-skewed clients the
   * head is what local training biases most toward the client's own classes.
   */
  freezeHead?: boolean;
}

/** Name of FedProx's loss term in the client's training graph (StepResult.terms). */
export const PROXIMAL_TERM = 'proximal';

export const DEFAULT_CLIENT_OPTIMIZER: Readonly<OptimizerOptions> = Object.freeze({
  kind: 'sgd',
  lr: 0.05,
  momentum: 0.9,
});

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

/** One training session over the model and how its state maps onto the federated weight vector. */
interface SessionSlot {
  session: TrainingSession;
  template: TrainingState;
  /** Layout entries the session trains or updates (parameters, running statistics). */
  managed: WeightLayout['specs'];
  /** Proximal anchors (`<param>.anchor`) and the layout entry each is set from every round. */
  anchors: { name: string; spec: WeightLayout['specs'][number] }[];
  /** The session's loss reads logits · LOGIT_SCALE + LOGIT_OFFSET (label-skew corrections). */
  logitAdjust: boolean;
}

/** Per-class logit scale and offset loaded into a logit-adjusting session. */
type LogitAdjustment = ReturnType<typeof logitAdjustment>;

function slotOf(session: TrainingSession, layout: WeightLayout): SessionSlot {
  const inLayout = new Map(layout.specs.map((s) => [s.name, s]));
  const weights = session.stateTensors.filter((s) => s.kind === 'param' || s.kind === 'buffer');
  for (const w of weights)
    if (!inLayout.has(w.input))
      throw new VergeError('E_UNSUPPORTED', `federated training needs float32 weights; '${w.input}' is ${w.dtype}`);
  const anchors = session.stateTensors
    .filter((s) => s.kind === 'term' && s.input.endsWith(ANCHOR_SUFFIX))
    .map((s) => ({ name: s.input, spec: inLayout.get(s.input.slice(0, -ANCHOR_SUFFIX.length))! }));
  return {
    session,
    template: session.getState(),
    managed: weights.map((w) => inLayout.get(w.input)!),
    anchors,
    logitAdjust: session.stateTensors.some((s) => s.input === LOGIT_SCALE),
  };
}

export class ClientTrainer {
  /** The federation's weight vector: every float32 initializer (model-weights.ts). */
  readonly layout: WeightLayout;
  private readonly plain: SessionSlot;
  /**
   * The session of a non-plain objective: FedProx's μ/2·‖w − w_global‖² in its training graph
   * and/or a label-skew correction's logit adjustment (key: `<μ>/<adjust>`).
   */
  private special?: { key: string; slot: SessionSlot };
  /** The slot last loaded (what `current` reads). */
  private active: SessionSlot;

  private constructor(
    readonly model: Model,
    session: TrainingSession,
    readonly loss: LossKind,
    private readonly sessionOptions: TrainingSessionOptions,
  ) {
    this.layout = modelLayout(model);
    this.plain = slotOf(session, this.layout);
    this.active = this.plain;
  }

  static async create(model: Model, opts: ClientTrainerOptions = {}): Promise<ClientTrainer> {
    const loss = opts.loss ?? 'cross-entropy';
    const head = opts.freezeHead ? findHead(model) : undefined;
    const sessionOptions: TrainingSessionOptions = {
      loss,
      optimizer: opts.optimizer ?? DEFAULT_CLIENT_OPTIMIZER,
      ...(opts.threads ? { threads: opts.threads } : {}),
      ...(opts.replicas ? { replicas: opts.replicas } : {}),
      ...(head ? { frozen: [head.weight, ...(head.bias ? [head.bias] : [])] } : {}),
    };
    return new ClientTrainer(model, await TrainingSession.create(model, sessionOptions), loss, sessionOptions);
  }

  /** The model's own weights, flat (round 1's global weights unless a strategy says otherwise). */
  initialWeights(): Float32Array {
    return weightsOf(this.model, this.layout);
  }

  /**
   * The session for proximal weight μ (0: none) with or without the logit adjustment of label-skew
   * corrections. Both are part of the training graph, so such a session is built on first use and
   * rebuilt only when a strategy changes μ or the correction is switched on or off.
   */
  private async slotFor(mu: number, logitAdjust: boolean): Promise<SessionSlot> {
    if (mu === 0 && !logitAdjust) return this.plain;
    const key = `${mu}/${logitAdjust}`;
    if (this.special?.key !== key) {
      const old = this.special;
      this.special = undefined;
      await old?.slot.session.release();
      const session = await TrainingSession.create(this.model, {
        ...this.sessionOptions,
        ...(mu > 0 ? { lossTerms: [proximalTerm(mu, PROXIMAL_TERM)] } : {}),
        ...(logitAdjust ? { logitAdjust } : {}),
      });
      this.special = { key, slot: slotOf(session, this.layout) };
    }
    return this.special.slot;
  }

  /**
   * Load `weights` into a session with zeroed optimizer state and step 0 (proximal anchors =
   * weights; a logit-adjusting session gets `adjust`, or scale 1 and offset 0).
   */
  load(weights: Float32Array, slot: SessionSlot = this.plain, adjust?: LogitAdjustment): void {
    if (weights.length !== this.layout.size)
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `global weights have ${weights.length} values; the model has ${this.layout.size}`,
      );
    const tensors: TrainingState['tensors'] = {};
    for (const [name, t] of Object.entries(slot.template.tensors))
      tensors[name] = { dtype: t.dtype, dims: t.dims, data: new Float32Array(t.data.length) };
    for (const s of slot.managed)
      (tensors[s.name]!.data as Float32Array).set(weights.subarray(s.offset, s.offset + s.size));
    for (const a of slot.anchors)
      (tensors[a.name]!.data as Float32Array).set(weights.subarray(a.spec.offset, a.spec.offset + a.spec.size));
    if (slot.logitAdjust) {
      const scale = tensors[LOGIT_SCALE]!.data as Float32Array;
      if (adjust) {
        scale.set(adjust.scale);
        (tensors[LOGIT_OFFSET]!.data as Float32Array).set(adjust.offset);
      } else scale.fill(1);
    }
    slot.session.setState({ step: 0, tensors });
    this.active = slot;
  }

  /** The session's current weights over `base` (entries the session does not train keep base's values). */
  current(base: Float32Array): Float32Array {
    const st = this.active.session.getState();
    const out = base.slice();
    for (const s of this.active.managed) out.set(st.tensors[s.name]!.data as Float32Array, s.offset);
    return out;
  }

  /** The plain inference model with `weights`. */
  exportModel(weights: Float32Array): Model {
    return withWeights(this.model, this.layout, weights);
  }

  /**
   * One round of local training from `global` on `data.train`; config comes from the strategy:
   * `local_epochs` or `local_steps`, `batch_size`, `lr` (the round's rate: a server-side schedule
   * sends a new one each round). `proximal_mu` > 0 (FedProx) trains loss + μ/2·‖w − global‖²,
   * differentiated with the loss. `restricted_softmax` / `logit_calibration` (label-skew.ts) adjust
   * the logits inside the loss from this client's own label counts.
   */
  async fit(global: Float32Array, data: Dataset, config: ClientConfig, seed = 0): Promise<LocalFitResult> {
    if (data.train.count === 0) throw new VergeError('E_DATA_INVALID', 'the client has no training samples');
    const mu = num(config, 'proximal_mu', 0);
    if (mu < 0) throw new VergeError('E_PROTOCOL', `client config 'proximal_mu' must be ≥ 0, got ${mu}`);
    const { shape } = sampleShapeFor(this.model, data, { loss: this.loss });
    const correction = labelSkewFromConfig(config);
    const slot = await this.slotFor(mu, !!correction);
    this.load(global, slot, correction && this.adjustmentFor(slot, data, correction));
    const started = performance.now();
    const steps = num(config, 'local_steps', 0);
    if (!(Number.isInteger(steps) && steps >= 0))
      throw new VergeError('E_PROTOCOL', `client config 'local_steps' must be a whole number ≥ 0, got ${steps}`);
    const r = await fit(slot.session, data, {
      epochs: num(config, 'local_epochs', CLIENT_DEFAULTS.localEpochs),
      // local_steps > 0: that many optimizer steps instead of whole epochs (the data reshuffled each
      // epoch it takes), so a client's work per round does not grow with its data
      ...(steps > 0 ? { steps } : {}),
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

  /** The logit adjustment of `correction` for this client's training labels. */
  private adjustmentFor(slot: SessionSlot, data: Dataset, correction: LabelSkewCorrection): LogitAdjustment {
    const classes = slot.template.tensors[LOGIT_SCALE]!.dims[0]!;
    return logitAdjustment(labelCounts(data.train.y, classes), correction);
  }

  /** Accuracy and loss of `weights` on a split (the client's hold-out, or the server's test set). */
  async evaluate(weights: Float32Array, data: Dataset, split: Split): Promise<LocalEvaluation> {
    this.load(weights);
    const { shape } = sampleShapeFor(this.model, data, { loss: this.loss });
    const r = await evaluate(this.plain.session, data, split, { loss: this.loss, inputShape: shape });
    return { loss: r.loss, accuracy: r.accuracy, examples: r.samples };
  }

  async release(): Promise<void> {
    await this.plain.session.release();
    await this.special?.slot.session.release();
  }
}
