/**
 * `verge codec train`'s work: a convolutional autoencoder for images [C, H, W] (H, W divisible
 * by 4), trained with verge's own trainer (TrainingSession + fit, MSE against the input), then cut
 * at the latent into two ONNX models — the encoder (deployed to agents) and the decoder (run by
 * the cloud) — and measured through the real uplink path: the `learned` codec's 8-bit latent
 * frames, their bytes per sample against raw float32, the reconstruction PSNR, and optionally a
 * classifier's accuracy on original vs decoded test samples.
 *
 *   encoder: Conv(16w, 3×3, /2) ReLU · Conv(32w, 3×3, /2) ReLU · Flatten · Dense(K)          → latent [K]
 *   decoder: Dense(32w·H/4·W/4) ReLU · Reshape · ConvT(16w, 4×4, ×2) ReLU · ConvT(C, 4×4, ×2) Sigmoid → [C, H, W]
 *
 * (w: the width, default 2). Options left unset take the measured recipe's values (codec-recipe.ts).
 *
 * The sigmoid output assumes samples in [0, 1] (images as verge's data sources load them).
 *
 * Task-aware training (`--task-classifier M`): MSE alone reconstructs blurry images a classifier
 * misreads. With a classifier, the training graph also runs it — frozen, its weights constants —
 * on the input and on the reconstruction, and adds weight · T² · KL(softmax(c(x)/T) ‖
 * softmax(c(x̂)/T)) to the objective (knowledge distillation through the decoder): the decoder
 * learns to keep what the classifier looks at. The classifier never ships with the codec halves.
 *
 * Joint training (`task.joint`): the copy that reads the reconstruction is trained too, beside the
 * codec — the cloud answers the codec's frames with a classifier adapted to them anyway
 * (`--adapt-classifier`), so the decoder and that classifier learn each other instead of the
 * decoder fitting a fixed reader. The copy's weights are the frozen ones plus `joint` × a trained
 * offset that starts at zero, so Adam moves them at `joint` × the codec's learning rate (a
 * fine-tuning rate) while the copy on the input stays the fixed teacher. The trained copy is
 * returned as `classifier` (same graph as the given one, new weights).
 */
import {
  type Dataset,
  type Split,
  decodeTensor,
  encodeTensor,
  psnr,
  type CodecContext,
  type FloatTensor,
} from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import { CODEC_RECIPE } from './codec-recipe.ts';
import {
  Conv2d,
  Dense,
  Flatten,
  Layer,
  ReLU,
  Reshape,
  Sequential,
  Sigmoid,
  type BuildContext,
  type Shape,
} from '../nn/index.ts';
import { dataInputs, isFloat, type Model, type Node, type Tensor } from '../onnx/browser.ts';
import { Session } from '../runtime/index.ts';
import { countTop1, fit, TrainingSession, type LossTerm } from '../train/index.ts';

/** 2× upsampling by a learned 4×4 transposed convolution (stride 2, pads 1): [C, H, W] → [F, 2H, 2W]. */
class ConvTranspose2x extends Layer {
  readonly kind = 'conv_transpose2d';
  constructor(
    readonly filters: number,
    name: string,
  ) {
    super(name);
  }
  outputShape([s]: Shape[]): Shape {
    return [this.filters, s![1]! * 2, s![2]! * 2];
  }
  paramCount([s]: Shape[]): number {
    return s![0]! * this.filters * 16 + this.filters;
  }
  emit(ctx: BuildContext, scope: string, [x]: string[], [s]: Shape[]): string {
    const fans = { fanIn: this.filters * 16, fanOut: s![0]! * 16 };
    const w = this.param(ctx, scope, 'weight', [s![0]!, this.filters, 4, 4], 'torch', fans);
    const b = this.param(ctx, scope, 'bias', [this.filters], 'torch', fans);
    return ctx.g.op('ConvTranspose', [x!, w, b], { kernel_shape: [4, 4], strides: [2, 2], pads: [1, 1, 1, 1] });
  }
}

/** Unset fields take the measured recipe's values (codec-recipe.ts), as `verge codec train` does. */
export interface CodecTrainOptions {
  latent: number;
  /** Filter multiplier of the convolutions (1: 16 and 32 filters each way; default 2). */
  width?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  threads?: number;
  /** Train against this classifier's outputs too (task-aware loss; see the header). */
  task?: TaskLossOptions;
  onEpoch?: (epoch: number, loss: number, task?: number) => void;
}

export interface TaskLossOptions {
  classifier: Model;
  /** Weight of the KL term beside the reconstruction MSE (default 0.05). */
  weight?: number;
  /** Softmax temperature of both distributions (default 2). */
  temperature?: number;
  /**
   * Train the classifier copy on the reconstruction too, at this multiple of the codec's learning
   * rate (see the header); the trained copy comes back as LearnedCodecModels.classifier.
   */
  joint?: number;
}

/** Prefixes of the frozen classifier copies in the training graph. */
const TASK_PARAM = 'task_clf/';
const TASK_ON_INPUT = 'task_ref/';
const TASK_ON_DECODED = 'task_dec/';
/** Joint training: the trained offsets of the copy on the reconstruction (not frozen). */
const TASK_DELTA = 'task_delta/';
const JOINT_SCALE = `${TASK_PARAM}joint_scale`;

/**
 * Joint training's weights of the copy on the reconstruction: for each float parameter p,
 * `<TASK_ON_DECODED>w/p` = frozen p + scale · trained offset (zeros to start).
 */
function jointWeights(
  classifier: Model,
  scale: number,
): { nodes: Node[]; initializers: Tensor[]; names: Map<string, string> } {
  const params = classifier.graph.initializers.filter((t) => isFloat(t.dtype));
  const bad = params.find((t) => t.dtype !== 'float32');
  if (bad)
    throw new VergeError('E_BAD_ARGUMENT', `joint training needs a float32 classifier; '${bad.name}' is ${bad.dtype}`);
  const names = new Map(params.map((t) => [t.name, `${TASK_ON_DECODED}w/${t.name}`]));
  const node = (op: string, inputs: string[], output: string): Node => ({
    name: output,
    opType: op,
    domain: '',
    inputs,
    outputs: [output],
    attributes: {},
  });
  return {
    names,
    nodes: params.flatMap((t) => [
      node('Mul', [`${TASK_DELTA}${t.name}`, JOINT_SCALE], `${names.get(t.name)!}.offset`),
      node('Add', [`${TASK_PARAM}${t.name}`, `${names.get(t.name)!}.offset`], names.get(t.name)!),
    ]),
    initializers: [
      { name: JOINT_SCALE, dtype: 'float32', dims: [], data: Float32Array.of(scale) },
      ...params.map((t) => ({
        name: `${TASK_DELTA}${t.name}`,
        dtype: 'float32' as const,
        dims: [...t.dims],
        data: new Float32Array(t.data.length),
      })),
    ],
  };
}

/** The classifier with joint training's weights: frozen p + scale · the trained offset of p. */
export function jointClassifier(classifier: Model, trained: Model, scale: number): Model {
  const offsets = new Map(trained.graph.initializers.map((t) => [t.name, t]));
  const s = Math.fround(scale);
  return {
    ...classifier,
    graph: {
      ...classifier.graph,
      initializers: classifier.graph.initializers.map((t) => {
        const d = offsets.get(`${TASK_DELTA}${t.name}`);
        if (!d) return t;
        const w = t.data as Float32Array;
        const o = d.data as Float32Array;
        // written raw, whatever the file held
        const { storage: _storage, externalData: _external, ...rest } = t;
        return { ...rest, data: Float32Array.from(w, (v, i) => v + Math.fround(s * o[i]!)) };
      }),
    },
  };
}

/**
 * The autoencoder with the classifier appended twice (on the input and on the reconstruction),
 * sharing one set of weights (prefixed, to be frozen). The reconstruction stays the first output.
 */
export function withTaskClassifier(
  ae: Model,
  classifier: Model,
  joint?: number,
): { model: Model; onInput: string; onDecoded: string } {
  const aeIn = dataInputs(ae.graph)[0]!.name;
  const recon = ae.graph.outputs[0]!.name;
  const clsIns = dataInputs(classifier.graph);
  const clsOut = classifier.graph.outputs[0]?.name;
  if (clsIns.length !== 1 || !clsOut)
    throw new VergeError('E_BAD_ARGUMENT', 'the task classifier must have one data input and an output (its logits)');
  const clsIn = clsIns[0]!.name;
  const params = new Set(classifier.graph.initializers.map((t) => t.name));
  const trained = joint !== undefined ? jointWeights(classifier, joint) : undefined;
  const copy = (prefix: string, source: string, own?: Map<string, string>): Node[] =>
    classifier.graph.nodes.map((n) => ({
      ...n,
      name: `${prefix}${n.name}`,
      inputs: n.inputs.map((i) =>
        i === '' ? '' : i === clsIn ? source : (own?.get(i) ?? (params.has(i) ? `${TASK_PARAM}${i}` : `${prefix}${i}`)),
      ),
      outputs: n.outputs.map((o) => (o === '' ? '' : `${prefix}${o}`)),
    }));
  const opset = (m: Model) =>
    m.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? CODEC_OPSET;
  if (opset(classifier) > opset(ae))
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `the task classifier is at opset ${opset(classifier)}, newer than the autoencoder's ${opset(ae)}`,
    );
  return {
    model: {
      ...ae,
      graph: {
        ...ae.graph,
        nodes: [
          ...ae.graph.nodes,
          ...copy(TASK_ON_INPUT, aeIn),
          ...(trained?.nodes ?? []),
          ...copy(TASK_ON_DECODED, recon, trained?.names),
        ],
        initializers: [
          ...ae.graph.initializers,
          ...classifier.graph.initializers.map((t) => ({ ...t, name: `${TASK_PARAM}${t.name}` })),
          ...(trained?.initializers ?? []),
        ],
        outputs: [
          ...ae.graph.outputs,
          { ...classifier.graph.outputs[0]!, name: `${TASK_ON_INPUT}${clsOut}` },
          { ...classifier.graph.outputs[0]!, name: `${TASK_ON_DECODED}${clsOut}` },
        ],
      },
    },
    onInput: `${TASK_ON_INPUT}${clsOut}`,
    onDecoded: `${TASK_ON_DECODED}${clsOut}`,
  };
}

/** weight · T² · mean over the batch of KL(softmax(teacher/T) ‖ softmax(student/T)). */
export function distillationTerm(teacher: string, student: string, weight: number, temperature: number): LossTerm {
  return {
    name: 'task',
    build: ({ g }) => {
      const t = g.scalar(temperature, 'float32', 'task_temperature');
      const logP = g.op('LogSoftmax', [g.op('Div', [teacher, t])], { axis: -1 });
      const logQ = g.op('LogSoftmax', [g.op('Div', [student, t])], { axis: -1 });
      const kl = g.op(
        'ReduceSum',
        [g.op('Mul', [g.op('Exp', [logP]), g.op('Sub', [logP, logQ])]), g.constInt64([-1], [1], 'task_axes')],
        {
          keepdims: 0,
        },
      );
      const mean = g.op('ReduceMean', [kl], { keepdims: 0 });
      return g.op('Mul', [mean, g.scalar(weight * temperature * temperature, 'float32', 'task_weight')]);
    },
  };
}

export interface LearnedCodecModels {
  encoder: Model;
  decoder: Model;
  sampleShape: number[];
  /** Per epoch: the reconstruction MSE and, with a task classifier, the mean weighted KL term. */
  history: { epoch: number; loss: number; task?: number }[];
  /** Joint training (TaskLossOptions.joint): the classifier trained on the reconstructions. */
  classifier?: Model;
}

function layersFor(shape: number[], latent: number, width: number): { encoder: Layer[]; decoder: Layer[] } {
  const [c, h, w] = shape as [number, number, number];
  if (shape.length !== 3 || h % 4 !== 0 || w % 4 !== 0)
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `the learned codec trains on images [channels, height, width] with height and width divisible by 4; the data has samples [${shape.join(', ')}]`,
    );
  if (!Number.isInteger(width) || width < 1)
    throw new VergeError('E_BAD_ARGUMENT', `the codec's width must be a positive integer, got ${width}`);
  const [f1, f2] = [16 * width, 32 * width];
  return {
    encoder: [
      new Conv2d({ filters: f1, kernel: 3, stride: 2, padding: 'same', name: 'enc_conv1' }),
      new ReLU(),
      new Conv2d({ filters: f2, kernel: 3, stride: 2, padding: 'same', name: 'enc_conv2' }),
      new ReLU(),
      new Flatten(),
      new Dense({ units: latent, name: 'enc_latent' }),
    ],
    decoder: [
      new Dense({ units: f2 * (h / 4) * (w / 4), name: 'dec_dense' }),
      new ReLU(),
      new Reshape([f2, h / 4, w / 4]),
      new ConvTranspose2x(f1, 'dec_up1'),
      new ReLU(),
      new ConvTranspose2x(c, 'dec_up2'),
      new Sigmoid(),
    ],
  };
}

/**
 * The halves use Conv, ConvTranspose, Gemm/MatMul, Relu, Sigmoid, Flatten and Reshape only, all
 * unchanged since opset 17; they are written at opset 17 / IR 8, which every onnxruntime build
 * and Debian's ONNX checker read (the team's default for models verge writes).
 */
const CODEC_OPSET = 17;
const CODEC_IR_VERSION = 8;

/** Copy trained parameters (same names) into a freshly built half. */
function withTrained(half: Model, trained: Model): Model {
  const byName = new Map(trained.graph.initializers.map((t) => [t.name, t]));
  return {
    ...half,
    irVersion: CODEC_IR_VERSION,
    opsetImports: half.opsetImports.map((o) =>
      o.domain === '' || o.domain === 'ai.onnx' ? { ...o, version: CODEC_OPSET } : o,
    ),
    graph: {
      ...half.graph,
      initializers: half.graph.initializers.map((t) => byName.get(t.name) ?? t),
    },
  };
}

/** Train the autoencoder on `data.train` and cut it into encoder and decoder. */
export async function trainAutoencoder(data: Dataset, opts: CodecTrainOptions): Promise<LearnedCodecModels> {
  if (!Number.isInteger(opts.latent) || opts.latent < 1)
    throw new VergeError('E_BAD_ARGUMENT', `--latent must be a positive integer, got ${opts.latent}`);
  const { epochs = CODEC_RECIPE.epochs, batchSize = CODEC_RECIPE.batchSize, lr = CODEC_RECIPE.lr, seed = 0 } = opts;
  const { encoder, decoder } = layersFor(data.shape, opts.latent, opts.width ?? CODEC_RECIPE.width);
  const ae = new Sequential(data.shape, [...encoder, ...decoder]).build({ seed });
  const task = opts.task ? withTaskClassifier(ae, opts.task.classifier, opts.task.joint) : undefined;
  const session = await TrainingSession.create(task?.model ?? ae, {
    loss: 'mse',
    output: ae.graph.outputs[0]!.name,
    optimizer: { kind: 'adam' },
    threads: opts.threads,
    ...(task && opts.task
      ? {
          frozen: (p: string) => p.startsWith(TASK_PARAM),
          lossTerms: [
            distillationTerm(
              task.onInput,
              task.onDecoded,
              opts.task.weight ?? CODEC_RECIPE.task.weight,
              opts.task.temperature ?? CODEC_RECIPE.task.temperature,
            ),
          ],
        }
      : {}),
  });
  const history: { epoch: number; loss: number; task?: number }[] = [];
  let taskSum = 0;
  let taskCount = 0;
  try {
    await fit(session, data, {
      epochs,
      batchSize,
      lr,
      seed,
      loss: 'mse',
      callbacks: [
        {
          onBatchBegin: (b) => ({ ...b, targets: b.x }),
          onBatchEnd: (_b, r) => {
            taskSum += (r.terms?.task ?? 0) * r.count;
            taskCount += r.count;
          },
        },
      ],
      onEpochEnd: (r) => {
        const taskMean = task ? taskSum / Math.max(1, taskCount) : undefined;
        taskSum = taskCount = 0;
        history.push({ epoch: r.epoch, loss: r.loss, ...(taskMean !== undefined ? { task: taskMean } : {}) });
        opts.onEpoch?.(r.epoch, r.loss, taskMean);
      },
    });
    const trained = session.exportModel();
    return {
      encoder: withTrained(new Sequential(data.shape, encoder).build({ seed, name: 'codec-encoder' }), trained),
      decoder: withTrained(new Sequential([opts.latent], decoder).build({ seed, name: 'codec-decoder' }), trained),
      sampleShape: data.shape,
      history,
      ...(opts.task?.joint !== undefined
        ? { classifier: jointClassifier(opts.task.classifier, trained, opts.task.joint) }
        : {}),
    };
  } finally {
    await session.release();
  }
}

/** A codec context running both halves on onnxruntime sessions (for measuring, and for the CLI). */
export async function sessionCodecContext(
  ref: string,
  models: { encoder: Model; decoder: Model; sampleShape: number[] },
  threads = 1,
): Promise<{ ctx: CodecContext; release: () => Promise<void> }> {
  const enc = await Session.create(models.encoder, { threads });
  const dec = await Session.create(models.decoder, { threads });
  const run = async (s: Session, x: FloatTensor): Promise<FloatTensor> => {
    const out = await s.run({ [s.inputNames[0]!]: { dtype: 'float32', dims: x.dims, data: x.data } });
    const y = Object.values(out)[0]!;
    return { dims: y.dims, data: y.data as Float32Array };
  };
  const runner = {
    ref,
    sampleShape: models.sampleShape,
    encode: (x: FloatTensor) => run(enc, x),
    decode: (z: FloatTensor) => run(dec, z),
  };
  return {
    ctx: { learned: async (r) => (r === ref ? runner : undefined) },
    release: async () => {
      await enc.release();
      await dec.release();
    },
  };
}

export interface CodecReport {
  samples: number;
  raw_bytes_per_sample: number;
  /** Mean size of one sample's codec frame (what one collected item costs on the uplink). */
  bytes_per_sample: number;
  ratio: number;
  psnr_db: number;
  classifier?: { accuracy_original: number; accuracy_decoded: number; drop_pts: number };
}

/** Encode and decode each test sample on its own (as the uplink sends them), and measure. */
export async function measureCodec(
  spec: string,
  split: Split,
  shape: number[],
  ctx: CodecContext,
  classifier?: Session,
): Promise<{ report: CodecReport; decoded: Float32Array }> {
  const per = shape.reduce((a, b) => a * b, 1);
  const decoded = new Float32Array(split.count * per);
  let bytes = 0;
  for (let i = 0; i < split.count; i++) {
    const x = split.x.subarray(i * per, (i + 1) * per);
    const enc = await encodeTensor(spec, { dims: [1, ...shape], data: x }, ctx);
    bytes += enc.frame.length;
    decoded.set((await decodeTensor(enc.frame, ctx)).data, i * per);
  }
  const report: CodecReport = {
    samples: split.count,
    raw_bytes_per_sample: per * 4,
    bytes_per_sample: bytes / Math.max(1, split.count),
    ratio: (per * 4) / Math.max(1e-9, bytes / Math.max(1, split.count)),
    psnr_db: psnr(split.x.subarray(0, split.count * per), decoded),
  };
  if (classifier) {
    const labels = split.y.subarray(0, split.count);
    const a = await accuracy(classifier, split.x, labels, shape);
    const b = await accuracy(classifier, decoded, labels, shape);
    report.classifier = { accuracy_original: a, accuracy_decoded: b, drop_pts: 100 * (a - b) };
  }
  return { report, decoded };
}

/** Top-1 accuracy of a classifier session over samples in batches of 256. */
export async function accuracy(s: Session, x: Float32Array, y: Int32Array, shape: number[]): Promise<number> {
  const per = shape.reduce((a, b) => a * b, 1);
  let correct = 0;
  for (let at = 0; at < y.length; at += 256) {
    const n = Math.min(256, y.length - at);
    const out = await s.run({
      [s.inputNames[0]!]: { dtype: 'float32', dims: [n, ...shape], data: x.slice(at * per, (at + n) * per) },
    });
    correct += countTop1(Object.values(out)[0]!.data as ArrayLike<number>, y, n, at);
  }
  return correct / Math.max(1, y.length);
}
