/**
 * `verge codec train`'s work: a convolutional autoencoder for images [C, H, W] (H, W divisible
 * by 4), trained with verge's own trainer (TrainingSession + fit, MSE against the input), then cut
 * at the latent into two ONNX models — the encoder (deployed to agents) and the decoder (run by
 * the cloud) — and measured through the real uplink path: the `learned` codec's 8-bit latent
 * frames, their bytes per sample against raw float32, the reconstruction PSNR, and optionally a
 * classifier's accuracy on original vs decoded test samples.
 *
 *   encoder: Conv(16, 3×3, /2) ReLU · Conv(32, 3×3, /2) ReLU · Flatten · Dense(K)          → latent [K]
 *   decoder: Dense(32·H/4·W/4) ReLU · Reshape · ConvT(16, 4×4, ×2) ReLU · ConvT(C, 4×4, ×2) Sigmoid → [C, H, W]
 *
 * The sigmoid output assumes samples in [0, 1] (images as verge's data sources load them).
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
import type { Model } from '../onnx/browser.ts';
import { Session } from '../runtime/index.ts';
import { fit, TrainingSession } from '../train/index.ts';

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

export interface CodecTrainOptions {
  latent: number;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  threads?: number;
  onEpoch?: (epoch: number, loss: number) => void;
}

export interface LearnedCodecModels {
  encoder: Model;
  decoder: Model;
  sampleShape: number[];
  history: { epoch: number; loss: number }[];
}

function layersFor(shape: number[], latent: number): { encoder: Layer[]; decoder: Layer[] } {
  const [c, h, w] = shape as [number, number, number];
  if (shape.length !== 3 || h % 4 !== 0 || w % 4 !== 0)
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `the learned codec trains on images [channels, height, width] with height and width divisible by 4; the data has samples [${shape.join(', ')}]`,
    );
  return {
    encoder: [
      new Conv2d({ filters: 16, kernel: 3, stride: 2, padding: 'same', name: 'enc_conv1' }),
      new ReLU(),
      new Conv2d({ filters: 32, kernel: 3, stride: 2, padding: 'same', name: 'enc_conv2' }),
      new ReLU(),
      new Flatten(),
      new Dense({ units: latent, name: 'enc_latent' }),
    ],
    decoder: [
      new Dense({ units: 32 * (h / 4) * (w / 4), name: 'dec_dense' }),
      new ReLU(),
      new Reshape([32, h / 4, w / 4]),
      new ConvTranspose2x(16, 'dec_up1'),
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
  const { encoder, decoder } = layersFor(data.shape, opts.latent);
  const full = new Sequential(data.shape, [...encoder, ...decoder]).build({ seed: opts.seed });
  const session = await TrainingSession.create(full, {
    loss: 'mse',
    optimizer: { kind: 'adam' },
    threads: opts.threads,
  });
  const history: { epoch: number; loss: number }[] = [];
  try {
    await fit(session, data, {
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      lr: opts.lr,
      seed: opts.seed,
      loss: 'mse',
      callbacks: [{ onBatchBegin: (b) => ({ ...b, targets: b.x }) }],
      onEpochEnd: (r) => {
        history.push({ epoch: r.epoch, loss: r.loss });
        opts.onEpoch?.(r.epoch, r.loss);
      },
    });
    const trained = session.exportModel();
    return {
      encoder: withTrained(
        new Sequential(data.shape, encoder).build({ seed: opts.seed, name: 'codec-encoder' }),
        trained,
      ),
      decoder: withTrained(
        new Sequential([opts.latent], decoder).build({ seed: opts.seed, name: 'codec-decoder' }),
        trained,
      ),
      sampleShape: data.shape,
      history,
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
    const logits = Object.values(out)[0]!;
    const k = logits.data.length / n;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (Number(logits.data[i * k + c]) > Number(logits.data[i * k + best])) best = c;
      if (best === y[at + i]) correct++;
    }
  }
  return correct / Math.max(1, y.length);
}
