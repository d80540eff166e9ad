/**
 * Quantization-aware training. The float model gets fake quantization exactly where static int8
 * will quantize (same plan, same calibrated activation ranges, per-channel weight scales computed
 * from the current weights every step), is trained for a few steps through the training engine,
 * and the trained weights are then quantized statically with those same ranges.
 *
 * Fake quantization y = (clip(round(x/s) + z, lo, hi) − z)·s is written with standard ops. Its
 * straight-through gradient (dy/dx = 1 inside the range, 0 outside) comes from the form
 *   u  = clip(x/s + z, lo, hi)
 *   y  = ((u − detach(u)) + round(u) − z)·s
 * whose value is the fake-quantized one (u − detach(u) = 0) while autodiff sees only the u path:
 * Round is not differentiable, and detach(u) = float(int64(u·2^23))/2^23 goes through an integer
 * tensor, where gradients stop. The int64 round trip is exact for |u| ≥ 1 (float32 has 23 fraction
 * bits) and off by < 2^-23 below, i.e. below float32 resolution of a quantization step.
 */
import { VergeError } from '../../errors.ts';
import type { Split } from '../../data/browser.ts';
import { cloneModel, GraphBuilder, outChannelAxis, type Model, type Node } from '../../onnx/browser.ts';
import { fit, splitDataset, TrainingSession, type FitCallback } from '../../train/browser.ts';
import { calibrate, type CalibrateOptions, type CalibrationData } from './calibrate.ts';
import {
  affineParams,
  INT8_SYMMETRIC_MAX,
  MIN_SCALE,
  QRANGE,
  type ActivationRange,
  type QuantizeResult,
} from './common.ts';
import { prepareForQuantization } from './prepare.ts';
import {
  applyStatic,
  calibrationTensors,
  planForOnnxRuntime,
  type StaticPlan,
  type StaticQuantizeOptions,
} from './static.ts';

/** 2^23: float32's fraction bits; scaling by it makes the int64 round trip of detach() exact for |u| ≥ 1. */
const DETACH_SCALE = 2 ** 23;

export interface FakeQuantModel {
  model: Model;
  /** Initializers fake quantization added (scales, zero points, bounds): keep them frozen. */
  constants: string[];
}

function rootOf(plan: StaticPlan, t: string): string {
  let cur = t;
  for (let p = plan.tensors.get(cur); p && 'sameAs' in p; p = plan.tensors.get(cur)) cur = p.sameAs;
  return cur;
}

/** Insert fake quantization for a static plan. Pure. */
export function insertFakeQuant(
  model: Model,
  plan: StaticPlan,
  ranges: Record<string, ActivationRange>,
  opts: StaticQuantizeOptions = {},
): FakeQuantModel {
  const qtype = opts.activationType ?? 'uint8';
  const out = cloneModel(model);
  const g = out.graph;
  const scratch = { ...g, nodes: [], initializers: [] } as typeof g;
  const b = new GraphBuilder(scratch);
  const constants: string[] = [];
  const konst = (prefix: string, dims: number[], values: number[] | Float32Array) => {
    const n = b.initializer(prefix, 'float32', dims, values);
    constants.push(n);
    return n;
  };
  const nodes: Node[] = [];
  const op = (
    type: string,
    inputs: string[],
    attrs: Record<string, number | number[]> = {},
    output?: string,
  ): string => {
    const o = output ?? b.uniqueName(`${inputs[0]}_${type.toLowerCase()}`);
    const attributes: Node['attributes'] = {};
    for (const [k, v] of Object.entries(attrs))
      attributes[k] = Array.isArray(v) ? { type: 'ints', value: v } : { type: 'int', value: v };
    nodes.push({ name: b.uniqueName(`${o}_${type}`), opType: type, domain: '', inputs, outputs: [o], attributes });
    return o;
  };
  const detach = (v: string) => {
    const up = konst('qat_detach_scale', [], [DETACH_SCALE]);
    const down = konst('qat_detach_unscale', [], [1 / DETACH_SCALE]);
    return op('Mul', [op('Cast', [op('Cast', [op('Mul', [v, up])], { to: 7 })], { to: 1 }), down]);
  };
  /** Fake-quantize x with scale s and zero point z (tensor names) onto integers [lo, hi]. */
  const fakeQuant = (x: string, s: string, z: string | undefined, lo: number, hi: number, output?: string): string => {
    let u = op('Div', [x, s]);
    if (z) u = op('Add', [u, z]);
    const uc = op('Clip', [u, konst('qat_lo', [], [lo]), konst('qat_hi', [], [hi])]);
    let y = op('Add', [op('Sub', [uc, detach(uc)]), op('Round', [uc])]);
    if (z) y = op('Sub', [y, z]);
    return op('Mul', [y, s], {}, output);
  };

  const activationParams = new Map<string, [string, string]>();
  const paramsOf = (t: string): [string, string] => {
    const root = rootOf(plan, t);
    let p = activationParams.get(root);
    if (!p) {
      const r = ranges[root];
      if (!r) throw new VergeError('E_BAD_ARGUMENT', `no calibrated range for tensor '${root}'`);
      const a = affineParams(r, qtype);
      p = [konst(`${root}_qat_scale`, [], [a.scale]), konst(`${root}_qat_zero_point`, [], [a.zeroPoint])];
      activationParams.set(root, p);
    }
    return p;
  };
  const { lo, hi } = QRANGE[qtype];
  const graphInputs = new Set(g.inputs.map((i) => i.name));
  const inputRename = new Map<string, string>();
  for (const t of plan.tensors.keys()) {
    if (!graphInputs.has(t)) continue;
    const [s, z] = paramsOf(t);
    inputRename.set(t, fakeQuant(t, s, z, lo, hi));
  }
  g.nodes.forEach((orig, i) => {
    const n: Node = { ...orig, inputs: orig.inputs.map((v) => inputRename.get(v) ?? v), outputs: [...orig.outputs] };
    if (plan.nodes.get(i) === 'weighted') {
      // per-channel symmetric int8 weights, scale = max|w| / 127 of the current weights
      const w = orig.inputs[1]!;
      const rank = g.initializers.find((t) => t.name === w)!.dims.length;
      const axis = plan.perChannel ? outChannelAxis(orig, rank) : undefined;
      const axes = Array.from({ length: rank }, (_, k) => k).filter((k) => k !== axis);
      const absmax = op('ReduceMax', [op('Abs', [detach(w)])], { axes, keepdims: 1 });
      const scale = op('Max', [
        op('Div', [absmax, konst('qat_int8_max', [], [INT8_SYMMETRIC_MAX])]),
        konst('qat_min_scale', [], [MIN_SCALE]),
      ]);
      n.inputs[1] = fakeQuant(w, scale, undefined, -INT8_SYMMETRIC_MAX, INT8_SYMMETRIC_MAX);
    }
    const post: [string, string][] = [];
    n.outputs = n.outputs.map((o) => {
      if (!o || !plan.tensors.has(o) || graphInputs.has(o)) return o;
      const f = b.uniqueName(`${o}_float`);
      post.push([f, o]);
      return f;
    });
    nodes.push(n);
    for (const [f, o] of post) {
      const [s, z] = paramsOf(o);
      fakeQuant(f, s, z, lo, hi, o);
    }
  });
  g.nodes = nodes;
  g.initializers = [...g.initializers, ...scratch.initializers];
  const renamed = new Set(plan.tensors.keys());
  g.valueInfo = g.valueInfo.filter((v) => !renamed.has(v.name));
  return { model: out, constants };
}

export interface QatOptions extends StaticQuantizeOptions, Omit<CalibrateOptions, 'onProgress'> {
  /** Labelled training samples and the shape of one sample. */
  train: Split;
  sampleShape: number[];
  steps: number;
  batchSize?: number;
  /** Adam learning rate; small, since QAT fine-tunes an already trained model. */
  lr?: number;
  seed?: number;
  threads?: number;
  onStep?: (step: number, total: number, loss: number) => void;
}

/** Default QAT learning rate: a tenth of Adam's usual 1e-3, as for any fine-tuning. */
export const QAT_DEFAULT_LR = 1e-4;

/** Calibrate, fine-tune with fake quantization, and export the static int8 model. */
export async function quantizeAwareTraining(
  model: Model,
  calib: CalibrationData,
  opts: QatOptions,
): Promise<QuantizeResult> {
  if (!(opts.steps > 0))
    throw new VergeError('E_BAD_ARGUMENT', `QAT needs a positive number of steps, got ${opts.steps}`);
  const { model: prepared, plan } = planForOnnxRuntime(prepareForQuantization(model).model, opts);
  const cal = await calibrate(prepared, calibrationTensors(plan), calib, opts);
  const fq = insertFakeQuant(prepared, plan, cal.ranges, opts);
  const frozen = new Set(fq.constants);
  const session = await TrainingSession.create(fq.model, {
    loss: 'cross-entropy',
    optimizer: { kind: 'adam', lr: opts.lr ?? QAT_DEFAULT_LR },
    frozen: (p) => frozen.has(p),
    threads: opts.threads,
    seed: opts.seed,
  });
  const history: number[] = [];
  try {
    const record: FitCallback = {
      onBatchEnd: (_b, r, ctx) => {
        history.push(r.loss);
        opts.onStep?.(ctx.globalStep, opts.steps, r.loss);
      },
    };
    await fit(session, splitDataset(opts.train, opts.sampleShape, 'QAT training split'), {
      steps: opts.steps,
      batchSize: opts.batchSize ?? 64,
      dropLast: true,
      seed: opts.seed ?? 0,
      lr: opts.lr ?? QAT_DEFAULT_LR,
      inputName: session.graph.dataInputs[0]!,
      callbacks: [record],
    });
    // trained weights back into the float graph, then the same static rewrite with the QAT ranges
    const trained = session.exportModel();
    const weights = new Map(trained.graph.initializers.map((t) => [t.name, t]));
    const float = cloneModel(prepared);
    float.graph.initializers = float.graph.initializers.map((t) => weights.get(t.name) ?? t);
    const res = applyStatic(float, plan, cal.ranges, opts);
    res.report.mode = 'qat';
    res.report.qat = {
      steps: history.length,
      lr: opts.lr ?? QAT_DEFAULT_LR,
      first_loss: history[0],
      last_loss: history.at(-1),
      calibration: { method: opts.method, source: calib.source, samples: calib.samples },
    };
    return res;
  } finally {
    await session.release();
  }
}
