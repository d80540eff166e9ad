/**
 * TrainingSession: the API the trainer (fit), the CLI and federated clients call. It owns one
 * onnxruntime session over the training graph and keeps parameters, running statistics and
 * optimizer state as tensors between steps: a step is one Session.run and a swap of references.
 */
import { VergeError } from '../errors.ts';
import {
  cloneModel,
  encodeModel,
  makeModel,
  makeTensor,
  type DType,
  type Dim,
  type Model,
  type Tensor,
} from '../onnx/browser.ts';
import { Session, nchwcBlockSize, type TensorValue } from '../runtime/index.ts';
import {
  combineShards,
  dataParallelProblem,
  shardRows,
  shardWeights,
  sliceRows,
  type GradientReplicas,
  type GraphRunner,
} from './data-parallel.ts';
import type { LossKind } from './loss.ts';
import { resolveFormulations, type Formulations } from './grad/formulations.ts';
import { convsToNchwc } from './lower/nchwc.ts';
import type { LossTerm } from './loss-terms.ts';
import { defaultLearningRate, type OptimizerOptions } from './optimizer.ts';
import { buildInferenceGraph, buildTrainingGraph, type StateTensor, type TrainingGraph } from './training-graph.ts';

export interface TrainingSessionOptions {
  loss: LossKind;
  optimizer: OptimizerOptions;
  /** Model output the loss applies to (default: the first output). */
  output?: string;
  /** Parameters to keep fixed: a list of initializer names or a predicate. */
  frozen?: string[] | ((param: string) => boolean);
  /** Clip gradients to this global L2 norm before the update. */
  clipNorm?: number;
  /** onnxruntime intra-op threads. */
  threads?: number;
  /** Seed of the dropout masks. */
  seed?: number;
  /** Extra terms of the objective (FedProx's proximal term, regularizers): see loss-terms.ts. */
  lossTerms?: readonly LossTerm[];
  /** Gradient formulations (default: the measured winners, see grad/formulations.ts). */
  formulations?: Partial<Formulations>;
  /**
   * Per-class logit scale and offset inside the loss (term tensors LOGIT_SCALE / LOGIT_OFFSET, set
   * with setTensors): see TrainingGraphOptions.logitAdjust.
   */
  logitAdjust?: boolean;
  /**
   * BatchNormalization while training: batch statistics with the running statistics updated and
   * saved (true, the default, PyTorch's model.train()), or the running statistics, fixed (false:
   * eval-mode BN, what Keras does for a frozen layer; steadier on small fine-tuning sets).
   */
  trainBatchNorm?: boolean;
  /**
   * Data parallelism: every step's batch is cut by rows between this session and the runners
   * `replicas` starts (e.g. one web worker each: src/web/app/replicas.ts), which compute their
   * shards' gradients at the same time; the gradients are combined into the whole batch's and the
   * optimizer update runs once, here. A step computes what one session computes on the whole
   * batch (up to float rounding). Refused (E_UNSUPPORTED) for models whose step depends on the
   * whole batch (BatchNormalization in training mode) or draws random masks (Dropout).
   */
  replicas?: GradientReplicas;
}

export interface StepResult {
  /** Mean loss over the batch. */
  loss: number;
  /** Correct predictions in the batch (classification losses). */
  correct?: number;
  /** Samples in the batch. */
  count: number;
  /** Values of the loss terms (not included in `loss`), by term name. */
  terms?: Record<string, number>;
}

/** Everything needed to resume: parameters, running statistics, optimizer state and the step. */
export interface TrainingState {
  step: number;
  tensors: Record<string, TensorValue>;
}

/** Metadata key marking a checkpoint file (an ONNX file whose initializers are the state). */
export const CHECKPOINT_MARK = 'verge.checkpoint';

/** Parameters and running statistics: what inference reads (not optimizer slots or term inputs). */
function isModelState(s: StateTensor): boolean {
  return s.kind === 'param' || s.kind === 'buffer';
}

function checkStateValue(st: StateTensor, v: TensorValue): void {
  if (v.dims.join(',') !== st.dims.join(',') || v.dtype !== st.dtype) {
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `state '${st.input}' is ${v.dtype}[${v.dims.join(', ')}], expected ${st.dtype}[${st.dims.join(', ')}]`,
    );
  }
}

export class TrainingSession {
  private evalSession?: Session;
  private evalGraph?: Awaited<ReturnType<typeof buildInferenceGraph>>;
  private predictSession?: Session;
  private readonly state = new Map<string, TensorValue>();
  private steps = 0;

  private constructor(
    private readonly source: Model,
    readonly graph: TrainingGraph,
    private readonly train: Session,
    private readonly opts: TrainingSessionOptions,
    /** Data parallelism: the optimizer update's session, the replicas' runners, the session's share of rows. */
    private readonly parallel?: { update: Session; runners: GraphRunner[]; ownShare: number },
  ) {
    const inits = new Map(source.graph.initializers.map((t) => [t.name, t]));
    for (const s of graph.state) {
      const term = graph.termValues.get(s.input);
      if (term) {
        this.state.set(s.input, { dtype: term.dtype, dims: [...term.dims], data: term.data.slice() as Tensor['data'] });
        continue;
      }
      const t = inits.get(s.input);
      const data = t
        ? (t.data as Float32Array).slice()
        : new (s.dtype === 'float64' ? Float64Array : Float32Array)(s.dims.reduce((a, b) => a * b, 1));
      this.state.set(s.input, { dtype: s.dtype, dims: [...s.dims], data });
    }
  }

  static async create(model: Model, opts: TrainingSessionOptions): Promise<TrainingSession> {
    // NCHWc only where this onnxruntime has its kernels (the gradient rules pick forms for it) and
    // the layout is chosen (by the caller or the defaults).
    const probed = await nchwcBlockSize();
    const runtimeBlock = probed === 8 || probed === 16 ? probed : 0;
    const layout = resolveFormulations(opts.formulations).convLayout;
    const block = layout === 'nchwc' && runtimeBlock > 0 ? runtimeBlock : 1;
    const formulations = {
      ...opts.formulations,
      convLayout: block > 1 ? ('nchwc' as const) : ('nchw' as const),
      nchwcBlock: block === 8 || block === 16 ? block : 0,
    } as const;
    if (opts.replicas) shardWeights(0, opts.replicas.ownShare); // refuses a bad share before any work
    let graph = await buildTrainingGraph(model, { ...opts, formulations, separateUpdate: !!opts.replicas });
    let replicas = opts.replicas;
    if (replicas) {
      const problem = dataParallelProblem(graph);
      if (problem && !replicas.optional)
        throw new VergeError('E_UNSUPPORTED', `data-parallel training cannot split this model: ${problem}`);
      if (problem) {
        replicas = undefined;
        graph = await buildTrainingGraph(model, { ...opts, formulations, separateUpdate: false });
      }
    }
    if (graph.parameters.length === 0)
      throw new VergeError('E_BAD_ARGUMENT', 'nothing to train: no parameter receives a gradient (all frozen?)');
    convsToNchwc(graph.model, block);
    const train = await Session.create(graph.model, { threads: opts.threads });
    if (!replicas) return new TrainingSession(model, graph, train, opts);
    const update = await Session.create(graph.update!.model, { threads: opts.threads });
    const runners = await replicas.start(encodeModel(graph.model));
    return new TrainingSession(model, graph, train, opts, { update, runners, ownShare: replicas.ownShare ?? 1 });
  }

  /** Sessions computing each step's gradients: 1, or 1 + the replicas' runners (data parallelism). */
  get replicaCount(): number {
    return 1 + (this.parallel?.runners.length ?? 0);
  }

  /** Trained parameter names (initializers of the source model). */
  get parameterNames(): readonly string[] {
    return this.graph.parameters;
  }
  get stepCount(): number {
    return this.steps;
  }
  /**
   * The optimizer's learning rate (its `lr`, or the optimizer's default): what step() uses when
   * given no rate, and fit()'s base rate unless it is given one.
   */
  get learningRate(): number {
    return defaultLearningRate(this.opts.optimizer);
  }

  private labelFeed(labels: TensorValue, batch: number, dtype = this.graph.labelsDtype): TensorValue {
    const n = labels.data.length;
    if (dtype === 'int64') {
      if (labels.dtype === 'int64') return { ...labels, dims: [n] };
      const src = labels.data as ArrayLike<number>;
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(src[i]!);
      if (n !== batch) throw new VergeError('E_SHAPE_MISMATCH', `got ${n} labels for a batch of ${batch}`);
      return { dtype: 'int64', dims: [n], data: out };
    }
    // Float targets take the output's shape: [batch] class labels for a [batch, 1] output reshape.
    const decl = this.graph.model.graph.inputs.find((i) => i.name === this.graph.labels)?.type;
    const shape = decl?.kind === 'tensor' ? decl.shape : undefined;
    let dims = labels.dims;
    if (shape && shape.length !== dims.length) {
      const rest = shape.slice(1).map((d) => (typeof d === 'number' ? d : 1));
      if (batch * rest.reduce((a, b) => a * b, 1) === n) dims = [batch, ...rest];
    }
    if (labels.dtype === dtype) return { ...labels, dims };
    const src = labels.data as ArrayLike<number | bigint>;
    const data = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = Number(src[i]!);
    return { dtype, dims, data };
  }

  private batchOf(inputs: Record<string, TensorValue>): number {
    const first = this.graph.dataInputs[0];
    const v = first ? inputs[first] : undefined;
    if (!v) throw new VergeError('E_INPUT_MISSING', `training needs input '${first}'`);
    return v.dims[0] ?? 1;
  }

  /** One optimizer step on a batch; `lr` defaults to the optimizer's learning rate. */
  async step(inputs: Record<string, TensorValue>, labels: TensorValue, lr = this.learningRate): Promise<StepResult> {
    const batch = this.batchOf(inputs);
    const feeds: Record<string, TensorValue> = {};
    for (const name of this.graph.dataInputs) {
      const v = inputs[name];
      if (!v) throw new VergeError('E_INPUT_MISSING', `training needs input '${name}'`);
      feeds[name] = v;
    }
    feeds[this.graph.labels] = this.labelFeed(labels, batch);
    const lrFeed: TensorValue = { dtype: 'float32', dims: [], data: Float32Array.of(lr) };
    const stepFeed: TensorValue = { dtype: 'float32', dims: [], data: Float32Array.of(this.steps + 1) };
    let out: Record<string, TensorValue>;
    if (this.parallel) out = await this.parallelStep(feeds, batch, lrFeed, stepFeed);
    else {
      feeds[this.graph.lr] = lrFeed;
      feeds[this.graph.step] = stepFeed;
      for (const [k, v] of this.state) feeds[k] = v;
      out = await this.train.run(feeds);
    }
    for (const s of this.graph.state) if (s.output) this.state.set(s.input, out[s.output]!);
    this.steps++;
    const r = this.result(out, this.graph.loss, this.graph.correct, batch);
    const terms = Object.entries(this.graph.terms);
    if (terms.length) r.terms = Object.fromEntries(terms.map(([k, v]) => [k, Number(out[v]!.data[0])]));
    return r;
  }

  /**
   * One data-parallel step: shard 0 of the batch's rows is this session's, shard k + 1 goes to
   * runner k (the replicas are called first, so they run while this thread computes its shard;
   * an empty shard is not run), the shards' gradients are combined, and the update session
   * applies them. Returns the outputs of both models by name.
   */
  private async parallelStep(
    data: Record<string, TensorValue>,
    batch: number,
    lr: TensorValue,
    step: TensorValue,
  ): Promise<Record<string, TensorValue>> {
    const { update, runners, ownShare } = this.parallel!;
    const state: Record<string, TensorValue> = {};
    for (const s of this.graph.state) if (s.kind !== 'optimizer') state[s.input] = this.state.get(s.input)!;
    const shards = shardRows(batch, shardWeights(runners.length, ownShare));
    const shardFeeds = ([start, end]: [number, number]) => {
      const f: Record<string, TensorValue> = { ...state };
      for (const k in data) f[k] = sliceRows(data[k]!, batch, start, end);
      return f;
    };
    const used = shards.filter(([a, b]) => b > a);
    const remote = shards.slice(1).flatMap((r, k) => (r[1] > r[0] ? [runners[k]!.run(shardFeeds(r))] : []));
    const own = shards[0]![1] > shards[0]![0] ? [await this.train.run(shardFeeds(shards[0]!))] : [];
    const outs = [...own, ...(await Promise.all(remote))];
    const combined = combineShards(
      outs,
      used.map(([a, b]) => b - a),
      this.graph,
    );
    const feeds: Record<string, TensorValue> = { [this.graph.lr]: lr, [this.graph.step]: step };
    for (const s of this.graph.state)
      if (s.kind === 'param' || s.kind === 'optimizer') feeds[s.input] = this.state.get(s.input)!;
    for (const g of this.graph.update!.grads.values()) feeds[g] = combined[g]!;
    return { ...combined, ...(await update.run(feeds)) };
  }

  private result(
    out: Record<string, TensorValue>,
    loss: string,
    correct: string | undefined,
    count: number,
  ): StepResult {
    const r: StepResult = { loss: Number(out[loss]!.data[0]), count };
    if (correct) r.correct = Number(out[correct]!.data[0]);
    return r;
  }

  private stateFeeds(): Record<string, TensorValue> {
    const f: Record<string, TensorValue> = {};
    for (const s of this.graph.state) if (isModelState(s)) f[s.input] = this.state.get(s.input)!;
    return f;
  }

  private modelStateNames(): string[] {
    return this.graph.state.filter(isModelState).map((s) => s.input);
  }

  /** The element type and declared dims of a data input of the training graph. */
  inputType(name: string): { dtype: DType; shape?: Dim[] } {
    const vi = this.graph.model.graph.inputs.find((i) => i.name === name);
    if (!vi || !this.graph.dataInputs.includes(name) || vi.type?.kind !== 'tensor')
      throw new VergeError('E_BAD_ARGUMENT', `the model has no data input '${name}'`);
    return { dtype: vi.type.dtype, ...(vi.type.shape ? { shape: vi.type.shape } : {}) };
  }

  /**
   * The current value of a state tensor (parameter, running statistic, optimizer slot, term
   * input): a view, valid until the next step. Edit it only through updateTensors/setTensors.
   */
  tensor(name: string): TensorValue {
    const v = this.state.get(name);
    if (!v)
      throw new VergeError('E_BAD_ARGUMENT', `no state tensor '${name}' (parameters: ${this.graph.parameters.length})`);
    return v;
  }

  /** Replace state tensors between steps (values are copied; dtype and dims must match). */
  setTensors(values: Record<string, TensorValue>): void {
    const byName = new Map(this.graph.state.map((s) => [s.input, s]));
    for (const [name, v] of Object.entries(values)) {
      const st = byName.get(name);
      if (!st) throw new VergeError('E_BAD_ARGUMENT', `no state tensor '${name}'`);
      checkStateValue(st, v);
    }
    for (const [name, v] of Object.entries(values))
      this.state.set(name, { dtype: v.dtype, dims: [...v.dims], data: v.data.slice() as TensorValue['data'] });
  }

  /**
   * Rewrite state tensors in place between steps, e.g. to hold pruned weights at zero:
   * `s.updateTensors(masks.keys(), (v, name) => zeroWhere(v.data, masks.get(name)))`.
   */
  updateTensors(names: Iterable<string>, edit: (value: TensorValue, name: string) => void): void {
    for (const name of names) edit(this.tensor(name), name);
  }

  /** Zero the optimizer's moments and restart its step count (e.g. at the start of an FL round). */
  resetOptimizer(): void {
    for (const s of this.graph.state) if (s.kind === 'optimizer') this.state.get(s.input)!.data.fill(0 as never);
    this.steps = 0;
  }

  /** Inference-mode loss/accuracy (running statistics, no dropout) with the current parameters. */
  async evaluate(inputs: Record<string, TensorValue>, labels: TensorValue): Promise<StepResult> {
    if (!this.evalSession) {
      this.evalGraph = await buildInferenceGraph(this.source, this.modelStateNames(), {
        kind: this.opts.loss,
        output: this.opts.output,
      });
      this.evalSession = await Session.create(this.evalGraph.model, { threads: this.opts.threads });
    }
    const e = this.evalGraph!;
    const batch = this.batchOf(inputs);
    const feeds: Record<string, TensorValue> = { ...this.stateFeeds() };
    for (const name of this.graph.dataInputs) feeds[name] = inputs[name]!;
    feeds[e.labels] = this.labelFeed(labels, batch, e.labelsDtype);
    const out = await this.evalSession.run(feeds);
    return this.result(out, e.loss, e.correct, batch);
  }

  /** The model's outputs in inference mode with the current parameters. */
  async predict(inputs: Record<string, TensorValue>): Promise<Record<string, TensorValue>> {
    if (!this.predictSession) {
      const g = await buildInferenceGraph(this.source, this.modelStateNames());
      this.predictSession = await Session.create(g.model, { threads: this.opts.threads });
    }
    return this.predictSession.run({ ...inputs, ...this.stateFeeds() });
  }

  /** A plain inference model: the source graph with the trained parameters and running statistics. */
  exportModel(): Model {
    const m = cloneModel(this.source);
    m.graph.initializers = m.graph.initializers.map((t) => {
      const v = this.state.get(t.name);
      return v ? { ...t, data: v.data.slice() as Tensor['data'], storage: 'raw' as const } : t;
    });
    return m;
  }

  getState(): TrainingState {
    const tensors: Record<string, TensorValue> = {};
    for (const [k, v] of this.state)
      tensors[k] = { dtype: v.dtype, dims: [...v.dims], data: v.data.slice() as TensorValue['data'] };
    return { step: this.steps, tensors };
  }

  setState(s: TrainingState): void {
    for (const st of this.graph.state) {
      const v = s.tensors[st.input];
      if (!v) throw new VergeError('E_BAD_ARGUMENT', `training state lacks '${st.input}'`);
      checkStateValue(st, v);
    }
    for (const st of this.graph.state) {
      const v = s.tensors[st.input]!;
      this.state.set(st.input, { dtype: v.dtype, dims: [...v.dims], data: v.data.slice() as TensorValue['data'] });
    }
    this.steps = s.step;
  }

  /** The state as a model of initializers marked as a checkpoint (what checkpoint files hold). */
  checkpointModel(): Model {
    const s = this.getState();
    const inits: Tensor[] = Object.entries(s.tensors).map(([name, v]) => makeTensor(name, v.dtype, v.dims, v.data));
    const m = makeModel({
      name: 'checkpoint',
      nodes: [],
      initializers: inits,
      sparseInitializers: [],
      inputs: [],
      outputs: [],
      valueInfo: [],
    });
    m.metadataProps = [
      { key: CHECKPOINT_MARK, value: '1' },
      { key: 'step', value: String(s.step) },
    ];
    return m;
  }

  /** Put back a checkpointModel() (`source` names it in errors). */
  restoreCheckpoint(m: Model, source = 'the model'): void {
    if (!m.metadataProps?.some((p) => p.key === CHECKPOINT_MARK)) {
      throw new VergeError('E_DATA_INVALID', `${source} is not a verge training checkpoint`);
    }
    const step = Number(m.metadataProps.find((p) => p.key === 'step')?.value ?? 0);
    const tensors: Record<string, TensorValue> = {};
    for (const t of m.graph.initializers) tensors[t.name] = { dtype: t.dtype, dims: [...t.dims], data: t.data };
    this.setState({ step, tensors });
  }

  /** State tensors described (for summaries): name, kind, dims. */
  get stateTensors(): readonly StateTensor[] {
    return this.graph.state;
  }

  async release(): Promise<void> {
    await this.train.release();
    if (this.parallel) {
      await this.parallel.update.release();
      for (const r of this.parallel.runners) await r.release();
    }
    await this.evalSession?.release();
    await this.predictSession?.release();
  }
}
