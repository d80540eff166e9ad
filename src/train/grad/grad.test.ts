/**
 * Finite-difference checks of every gradient rule (single-op graphs through the full autodiff
 * path). float64 where onnxruntime has double kernels; float32 (differences taken in float64 in
 * JS) for Conv, ConvTranspose, pools and the ops that only have float kernels.
 */
import { describe, expect, test } from 'vitest';
import { rng } from '../../data/dataset.ts';
import { GraphBuilder, makeModel, type AttrInput } from '../../onnx/builder.ts';
import type { DType } from '../../onnx/dtype.ts';
import { nchwcBlockSize } from '../../runtime/nchwc.ts';
import type { TensorValue } from '../../runtime/tensor.ts';
import { buildGradientModel } from '../autodiff.ts';
import { assertGradients, type GradCheckOptions } from '../gradcheck.ts';
import type { Formulations } from './formulations.ts';
import type { TrainingModes } from './rule.ts';
import { GRAD_RULES } from './index.ts';

type Fill = 'signed' | 'positive' | 'distinct';
interface In {
  dims: number[];
  dtype?: DType;
  /** Explicit values (constants such as indices, axes) — these become initializers. */
  values?: number[];
  fill?: Fill;
}
interface Case {
  inputs: Record<string, In>;
  attrs?: Record<string, AttrInput>;
  outputs?: number;
  dtype?: DType;
  opset?: number;
  wrt?: string[];
  tol?: GradCheckOptions;
  formulations?: Partial<Formulations>;
  modes?: TrainingModes;
}

function fill(n: number, how: Fill, seed: number): number[] {
  const r = rng(seed);
  if (how === 'distinct') {
    // A shuffled grid with 0.05 spacing: no ties and no kinks within the FD step.
    const v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.05);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [v[i], v[j]] = [v[j]!, v[i]!];
    }
    return v;
  }
  return Array.from({ length: n }, () => {
    const m = 0.2 + r() * 0.8; // magnitude away from 0: no ReLU/Clip/Abs kink inside the FD step
    return how === 'positive' ? m : r() < 0.5 ? -m : m;
  });
}

async function check(op: string, c: Case): Promise<void> {
  const dtype = c.dtype ?? 'float64';
  const g = new GraphBuilder();
  const feeds: Record<string, TensorValue> = {};
  const wrt: string[] = [];
  let seed = 1;
  const names = Object.entries(c.inputs).map(([name, spec]) => {
    if (name.startsWith('_')) return ''; // omitted optional input
    const dt = spec.dtype ?? dtype;
    if (spec.values) return g.initializer(name, dt, spec.dims, spec.values);
    const n = spec.dims.reduce((a, b) => a * b, 1);
    const data = fill(n, spec.fill ?? 'signed', seed++);
    g.input(name, dt, spec.dims);
    feeds[name] = {
      dtype: dt,
      dims: spec.dims,
      data: dt === 'float64' ? Float64Array.from(data) : Float32Array.from(data),
    };
    wrt.push(name);
    return name;
  });
  const outs = g.node(op, names, c.attrs ?? {}, { outputs: c.outputs ?? 1 });
  for (const o of outs) g.output(o);
  const model = makeModel(g.graph, { opset: c.opset });
  await assertGradients(model, feeds, c.wrt ?? wrt, { ...c.tol, formulations: c.formulations, modes: c.modes });
}

const f32 = 'float32' as const;
/**
 * onnxruntime's NCHWc block on this machine (16 with AVX-512, 8 with AVX2; 0 without NCHWc kernels):
 * the NCHWc formulation cases are built for the block the runtime's kernels use (a graph built for
 * 16 fails on an AVX2 runtime, whose ReorderInput pads channels to 8).
 */
const RUNTIME_BLOCK = await nchwcBlockSize();
const NCHWC_BLOCK: Formulations['nchwcBlock'] = RUNTIME_BLOCK === 8 || RUNTIME_BLOCK === 16 ? RUNTIME_BLOCK : 0;
const CASES: Record<string, [string, Case][]> = {
  Conv: [
    [
      '3x3 pads 1 with bias',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 5, 5] }, w: { dims: [4, 3, 3, 3] }, b: { dims: [4] } },
        attrs: { pads: [1, 1, 1, 1] },
      },
    ],
    [
      'stride 2, asymmetric pads, dilation 2',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 2, 9, 8] }, w: { dims: [3, 2, 3, 2] } },
        attrs: { strides: [2, 2], pads: [1, 0, 2, 1], dilations: [2, 2] },
      },
    ],
    [
      'groups 2',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 4, 6, 6] }, w: { dims: [6, 2, 3, 3] }, b: { dims: [6] } },
        attrs: { group: 2 },
      },
    ],
    [
      'depthwise stride 2',
      {
        dtype: f32,
        inputs: { x: { dims: [1, 3, 7, 7] }, w: { dims: [3, 1, 3, 3] } },
        attrs: { group: 3, strides: [2, 2], pads: [1, 1, 1, 1] },
      },
    ],
    [
      'depthwise weight gradient as one grouped Conv (stride 2, pads 1, rows dropped by the floor)',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 8, 7] }, w: { dims: [3, 1, 3, 3] }, b: { dims: [3] } },
        attrs: { group: 3, strides: [2, 2], pads: [1, 1, 1, 1] },
      },
    ],
    [
      'depthwise weight gradient as one grouped Conv (dilation 2, asymmetric pads, 1-D)',
      {
        dtype: f32,
        inputs: { x: { dims: [3, 4, 11] }, w: { dims: [4, 1, 3] } },
        attrs: { group: 4, dilations: [2], pads: [2, 1] },
      },
    ],
    [
      'auto_pad SAME_UPPER stride 2',
      {
        dtype: f32,
        inputs: { x: { dims: [1, 2, 6, 5] }, w: { dims: [2, 2, 3, 3] } },
        attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] },
      },
    ],
    [
      '1-D conv',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 10] }, w: { dims: [4, 3, 3] }, b: { dims: [4] } },
        attrs: { strides: [2], pads: [1, 1] },
      },
    ],
    ['1x1 conv', { dtype: f32, inputs: { x: { dims: [2, 3, 4, 4] }, w: { dims: [5, 3, 1, 1] } } }],
  ],
  ConvTranspose: [
    [
      'stride 2 pads 1 output_padding 1',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 4, 4] }, w: { dims: [3, 2, 3, 3] }, b: { dims: [2] } },
        attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] },
      },
    ],
    [
      'groups 2 dilation 2',
      {
        dtype: f32,
        inputs: { x: { dims: [1, 4, 3, 3] }, w: { dims: [4, 1, 2, 2] } },
        attrs: { group: 2, dilations: [2, 2] },
      },
    ],
  ],
  Gemm: [
    ['plain with bias row', { inputs: { a: { dims: [3, 4] }, b: { dims: [4, 5] }, c: { dims: [5] } } }],
    [
      'transA transB alpha beta',
      {
        inputs: { a: { dims: [4, 3] }, b: { dims: [5, 4] }, c: { dims: [3, 1] } },
        attrs: { transA: 1, transB: 1, alpha: 0.7, beta: 1.3 },
      },
    ],
    [
      'transB, full C',
      { inputs: { a: { dims: [3, 4] }, b: { dims: [5, 4] }, c: { dims: [3, 5] } }, attrs: { transB: 1 } },
    ],
    [
      'transA only, scalar C',
      { inputs: { a: { dims: [4, 3] }, b: { dims: [4, 2] }, c: { dims: [] } }, attrs: { transA: 1 } },
    ],
  ],
  MatMul: [
    ['2-D', { inputs: { a: { dims: [3, 4] }, b: { dims: [4, 2] } } }],
    ['batched x weight', { inputs: { a: { dims: [2, 3, 4] }, b: { dims: [4, 2] } } }],
    ['broadcast batch', { inputs: { a: { dims: [2, 1, 3, 4] }, b: { dims: [3, 4, 2] } } }],
    ['vector x matrix', { inputs: { a: { dims: [4] }, b: { dims: [2, 4, 3] } } }],
    ['matrix x vector', { inputs: { a: { dims: [2, 3, 4] }, b: { dims: [4] } } }],
  ],
  Add: [['broadcast [2,3,4]+[3,1]', { inputs: { a: { dims: [2, 3, 4] }, b: { dims: [3, 1] } } }]],
  Sub: [['broadcast [4]-[2,3,4]', { inputs: { a: { dims: [4] }, b: { dims: [2, 3, 4] } } }]],
  Mul: [['broadcast [2,1,4]*[3,1]', { inputs: { a: { dims: [2, 1, 4] }, b: { dims: [3, 1] } } }]],
  Div: [['broadcast [2,3]/[3]', { inputs: { a: { dims: [2, 3] }, b: { dims: [3], fill: 'positive' } } }]],
  Pow: [
    ['constant exponent 3', { inputs: { x: { dims: [2, 3] }, e: { dims: [], values: [3] } } }],
    ['trained exponent', { inputs: { x: { dims: [2, 3], fill: 'positive' }, e: { dims: [3], fill: 'positive' } } }],
  ],
  Reciprocal: [['', { inputs: { x: { dims: [3, 4], fill: 'positive' } } }]],
  Sum: [['three inputs, broadcast', { inputs: { a: { dims: [2, 3] }, b: { dims: [3] }, c: { dims: [2, 1] } } }]],
  // Continuous random values on both sides: no ties within the FD step.
  Max: [['broadcast', { inputs: { a: { dims: [2, 3] }, b: { dims: [3] } } }]],
  Min: [['broadcast', { inputs: { a: { dims: [2, 3] }, b: { dims: [2, 1] } } }]],
  Softplus: [['', { dtype: f32, inputs: { x: { dims: [3, 4] } } }]],
  PRelu: [['per-channel slope', { dtype: f32, inputs: { x: { dims: [2, 3, 4] }, s: { dims: [3, 1] } } }]],
  HardSigmoid: [['', { dtype: f32, inputs: { x: { dims: [3, 4] } }, attrs: { alpha: 0.4, beta: 0.3 } }]],
  HardSwish: [['', { dtype: f32, inputs: { x: { dims: [4, 4] } } }]],
  LayerNormalization: [
    [
      'last two axes, opset 17',
      {
        dtype: f32,
        opset: 17,
        inputs: { x: { dims: [2, 3, 4] }, scale: { dims: [3, 4] }, bias: { dims: [3, 4] } },
        attrs: { axis: 1 },
      },
    ],
    [
      'last axis, opset 18, through the primitives (formulation layerNorm)',
      {
        dtype: f32,
        opset: 18,
        inputs: { x: { dims: [2, 3, 4] }, scale: { dims: [4] }, bias: { dims: [4] } },
        attrs: { axis: -1 },
        formulations: { layerNorm: 'primitives' },
      },
    ],
    [
      'last axis, opset 18, no bias',
      { dtype: f32, opset: 18, inputs: { x: { dims: [2, 3, 4] }, scale: { dims: [4] } }, attrs: { axis: -1 } },
    ],
  ],
  Relu: [['', { inputs: { x: { dims: [3, 4] } } }]],
  LeakyRelu: [['alpha 0.1', { dtype: f32, inputs: { x: { dims: [3, 4] } }, attrs: { alpha: 0.1 } }]],
  Clip: [
    [
      'min/max inputs',
      {
        dtype: f32,
        inputs: { x: { dims: [3, 4] }, lo: { dims: [], values: [-0.5] }, hi: { dims: [], values: [0.55] } },
      },
    ],
    ['min only (ReLU-like)', { dtype: f32, inputs: { x: { dims: [3, 4] }, lo: { dims: [], values: [0.3] } } }],
    ['max only', { dtype: f32, inputs: { x: { dims: [3, 4] }, _lo: { dims: [] }, hi: { dims: [], values: [-0.3] } } }],
  ],
  Sigmoid: [['', { inputs: { x: { dims: [3, 4] } } }]],
  Tanh: [['', { inputs: { x: { dims: [3, 4] } } }]],
  Exp: [['', { inputs: { x: { dims: [3, 4] } } }]],
  Log: [['', { inputs: { x: { dims: [3, 4], fill: 'positive' } } }]],
  Sqrt: [['', { inputs: { x: { dims: [3, 4], fill: 'positive' } } }]],
  Neg: [['', { inputs: { x: { dims: [3, 4] } } }]],
  Abs: [['', { inputs: { x: { dims: [3, 4] } } }]],
  Erf: [['', { dtype: f32, inputs: { x: { dims: [3, 4] } } }]],
  Gelu: [
    ['exact', { dtype: f32, opset: 20, inputs: { x: { dims: [3, 4] } } }],
    ['tanh approximation', { dtype: f32, opset: 20, inputs: { x: { dims: [3, 4] } }, attrs: { approximate: 'tanh' } }],
  ],
  Softmax: [
    ['last axis', { inputs: { x: { dims: [2, 3, 4] } } }],
    ['axis 1', { inputs: { x: { dims: [2, 3, 4] } }, attrs: { axis: 1 } }],
  ],
  LogSoftmax: [['axis 1', { inputs: { x: { dims: [3, 5] } }, attrs: { axis: 1 } }]],
  MaxPool: [
    [
      '2x2 stride 2, odd width',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 5, 7], fill: 'distinct' } },
        attrs: { kernel_shape: [2, 2], strides: [2, 2] },
      },
    ],
    [
      '3x2 stride 3x2 (non-overlapping: unpool path)',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 7, 5], fill: 'distinct' } },
        attrs: { kernel_shape: [3, 2], strides: [3, 2] },
      },
    ],
    [
      '2x2 stride 2, square odd size',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 5, 5], fill: 'distinct' } },
        attrs: { kernel_shape: [2, 2], strides: [2, 2] },
      },
    ],
    [
      '1-D, kernel 3 stride 3, trailing element dropped',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 10], fill: 'distinct' } },
        attrs: { kernel_shape: [3], strides: [3] },
      },
    ],
    [
      '3-D 2x1x2 stride 2x1x2',
      {
        dtype: f32,
        inputs: { x: { dims: [1, 2, 4, 3, 5], fill: 'distinct' } },
        attrs: { kernel_shape: [2, 1, 2], strides: [2, 1, 2] },
      },
    ],
    [
      '3x3 stride 1 pads 1 (overlapping: scatter-add path)',
      {
        dtype: f32,
        inputs: { x: { dims: [1, 2, 5, 4], fill: 'distinct' } },
        attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] },
      },
    ],
  ],
  AveragePool: [
    [
      '2x2 stride 2',
      { dtype: f32, inputs: { x: { dims: [2, 2, 4, 5] } }, attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
    ],
    [
      '3x3 stride 2 pads 1 exclude pad',
      {
        dtype: f32,
        inputs: { x: { dims: [1, 2, 6, 5] } },
        attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
      },
    ],
    [
      '3x3 stride 2 pads 1 include pad',
      {
        dtype: f32,
        inputs: { x: { dims: [1, 2, 5, 5] } },
        attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 },
      },
    ],
  ],
  GlobalAveragePool: [['', { dtype: f32, inputs: { x: { dims: [2, 3, 4, 5] } } }]],
  BatchNormalization: [
    [
      'training mode',
      {
        inputs: {
          x: { dims: [4, 3, 2, 2] },
          scale: { dims: [3] },
          bias: { dims: [3] },
          mean: { dims: [3], values: [0, 0, 0] },
          var: { dims: [3], values: [1, 1, 1] },
        },
        wrt: ['x', 'scale', 'bias'],
      },
    ],
    [
      'training mode, rank 3 (BatchNorm1d over a sequence), gradient of x and scale only',
      {
        inputs: {
          x: { dims: [3, 2, 5] },
          scale: { dims: [2] },
          bias: { dims: [2] },
          mean: { dims: [2], values: [0, 0] },
          var: { dims: [2], values: [1, 1] },
        },
        attrs: { epsilon: 1e-3 },
        wrt: ['x', 'scale'],
      },
    ],
    [
      'training mode, float32, rank 2',
      {
        dtype: f32,
        inputs: {
          x: { dims: [6, 4] },
          scale: { dims: [4] },
          bias: { dims: [4] },
          mean: { dims: [4], values: [0, 0, 0, 0] },
          var: { dims: [4], values: [1, 1, 1, 1] },
        },
        wrt: ['x', 'scale', 'bias'],
      },
    ],
    [
      'fixed running statistics (trainBatchNorm false)',
      {
        inputs: {
          x: { dims: [4, 3, 2, 2] },
          scale: { dims: [3] },
          bias: { dims: [3] },
          mean: { dims: [3], values: [0.1, -0.2, 0.3] },
          var: { dims: [3], values: [0.5, 1, 2] },
        },
        wrt: ['x', 'scale', 'bias'],
        modes: { trainBatchNorm: false },
      },
    ],
  ],
  Pad: [
    [
      'constant, two axes',
      { inputs: { x: { dims: [2, 3, 4] }, p: { dims: [6], dtype: 'int64', values: [0, 1, 2, 0, 2, 1] } } },
    ],
  ],
  Flatten: [['axis 2', { inputs: { x: { dims: [2, 3, 2, 2] } }, attrs: { axis: 2 } }]],
  Reshape: [['', { inputs: { x: { dims: [2, 3, 4] }, s: { dims: [2], dtype: 'int64', values: [4, -1] } } }]],
  Squeeze: [['', { inputs: { x: { dims: [2, 1, 3] }, a: { dims: [1], dtype: 'int64', values: [1] } } }]],
  Unsqueeze: [['', { inputs: { x: { dims: [2, 3] }, a: { dims: [1], dtype: 'int64', values: [0] } } }]],
  Transpose: [['perm 2,0,1', { inputs: { x: { dims: [2, 3, 4] } }, attrs: { perm: [2, 0, 1] } }]],
  Concat: [
    ['axis 1', { inputs: { a: { dims: [2, 3] }, b: { dims: [2, 1] }, c: { dims: [2, 2] } }, attrs: { axis: 1 } }],
  ],
  // onnxruntime's GRU is float32 only. The fused gradient (grad/GRU.ts): PyTorch's form.
  GRU: [
    [
      'forward, linear_before_reset, bias and initial state',
      {
        inputs: {
          x: { dims: [4, 2, 3] },
          w: { dims: [1, 6, 3] },
          r: { dims: [1, 6, 2] },
          b: { dims: [1, 12] },
          _lens: { dims: [] },
          h0: { dims: [1, 2, 2] },
        },
        attrs: { hidden_size: 2, linear_before_reset: 1 },
        outputs: 2,
        dtype: f32,
      },
    ],
    [
      'reverse, no bias, zero initial state',
      {
        inputs: { x: { dims: [3, 2, 3] }, w: { dims: [1, 6, 3] }, r: { dims: [1, 6, 2] } },
        attrs: { hidden_size: 2, linear_before_reset: 1, direction: 'reverse' },
        outputs: 2,
        dtype: f32,
      },
    ],
    [
      'bidirectional, one step',
      {
        inputs: {
          x: { dims: [1, 2, 3] },
          w: { dims: [2, 6, 3] },
          r: { dims: [2, 6, 2] },
          b: { dims: [2, 12] },
          _lens: { dims: [] },
          h0: { dims: [2, 2, 2] },
        },
        attrs: { hidden_size: 2, linear_before_reset: 1, direction: 'bidirectional' },
        outputs: 2,
        dtype: f32,
      },
    ],
    [
      'bidirectional, three steps',
      {
        inputs: {
          x: { dims: [3, 2, 3] },
          w: { dims: [2, 6, 3] },
          r: { dims: [2, 6, 2] },
          b: { dims: [2, 12] },
        },
        attrs: { hidden_size: 2, linear_before_reset: 1, direction: 'bidirectional' },
        outputs: 2,
        dtype: f32,
      },
    ],
  ],
  Split: [
    [
      'axis 1, three parts',
      {
        inputs: { x: { dims: [2, 6] }, s: { dims: [3], dtype: 'int64', values: [1, 2, 3] } },
        attrs: { axis: 1 },
        outputs: 3,
      },
    ],
  ],
  Slice: [
    [
      'negative start, two axes',
      {
        inputs: {
          x: { dims: [3, 5, 4] },
          st: { dims: [2], dtype: 'int64', values: [1, -3] },
          en: { dims: [2], dtype: 'int64', values: [3, 100] },
          ax: { dims: [2], dtype: 'int64', values: [0, 2] },
        },
      },
    ],
  ],
  Gather: [
    [
      'embedding rows with repeats',
      { inputs: { emb: { dims: [5, 3] }, idx: { dims: [2, 3], dtype: 'int64', values: [0, 2, 2, 4, 0, 0] } } },
    ],
    [
      'distinct constant indices at opset 14 (plain ScatterND)',
      { opset: 14, inputs: { x: { dims: [4, 3] }, idx: { dims: [2], dtype: 'int64', values: [3, 1] } } },
    ],
    [
      'axis 1, scalar index',
      { inputs: { x: { dims: [2, 4, 3] }, idx: { dims: [], dtype: 'int64', values: [2] } }, attrs: { axis: 1 } },
    ],
    [
      'axis 1, negative scalar index (out[:, -1])',
      { inputs: { x: { dims: [2, 4, 3] }, idx: { dims: [], dtype: 'int64', values: [-1] } }, attrs: { axis: 1 } },
    ],
    ['axis 0, scalar index', { inputs: { x: { dims: [4, 3] }, idx: { dims: [], dtype: 'int64', values: [0] } } }],
  ],
  ReduceSum: [
    [
      'axes 1, keepdims 0',
      { inputs: { x: { dims: [2, 3, 4] }, a: { dims: [1], dtype: 'int64', values: [1] } }, attrs: { keepdims: 0 } },
    ],
    ['all axes', { inputs: { x: { dims: [2, 3] } } }],
  ],
  ReduceMean: [
    [
      'axes 0,2 keepdims 1 (axes input, opset 18)',
      { opset: 18, inputs: { x: { dims: [2, 3, 4] }, a: { dims: [2], dtype: 'int64', values: [0, 2] } } },
    ],
  ],
  Expand: [
    ['[3,1] → [2,3,4]', { inputs: { x: { dims: [3, 1] }, s: { dims: [3], dtype: 'int64', values: [2, 3, 4] } } }],
  ],
  Where: [
    [
      'broadcast branches',
      {
        inputs: {
          c: { dims: [2, 3], dtype: 'bool', values: [1, 0, 1, 1, 0, 0] },
          a: { dims: [2, 3] },
          b: { dims: [3] },
        },
      },
    ],
  ],
  // The float32 output limits the useful FD step to float32 resolution.
  Cast: [
    [
      'float64 → float32',
      { inputs: { x: { dims: [2, 3] } }, attrs: { to: 1 }, tol: { eps: 1e-3, rtol: 1e-3, atol: 1e-5 } },
    ],
  ],
  Identity: [['', { inputs: { x: { dims: [2, 3] } } }]],
  Dropout: [['ratio 0 is the identity', { dtype: f32, inputs: { x: { dims: [2, 3] }, r: { dims: [], values: [0] } } }]],
};

describe('gradient rules (finite differences)', () => {
  for (const [op, cases] of Object.entries(CASES)) {
    for (const [name, c] of cases) test(`${op}${name ? `: ${name}` : ''}`, () => check(op, c));
  }
  test('every registered rule has a finite-difference case', () => {
    expect([...GRAD_RULES.keys()].filter((op) => !(op in CASES))).toEqual([]);
  });
});

describe('alternative formulations', () => {
  const cases: [string, Partial<Formulations>, string, Case][] = [
    [
      'Conv weight gradient as one Gemm per kernel offset',
      { convWeight: 'patch-gemms' },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 7, 6] }, w: { dims: [4, 3, 3, 2] } },
        attrs: { strides: [2, 1], pads: [1, 1, 0, 0], dilations: [1, 2] },
      },
    ],
    [
      'MaxPool 2x2 stride 2 from a first-maximum mask of its output (odd width: last column dropped)',
      { maxPool: 'mask' },
      'MaxPool',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 5, 7], fill: 'distinct' } },
        attrs: { kernel_shape: [2, 2], strides: [2, 2] },
      },
    ],
    ...(
      [
        ['2x2 stride 2 (odd height and width: a row and a column no window reads)', [2, 5, 7, 9], 2],
        ['3x3 stride 3', [2, 3, 9, 6], 3],
      ] as [string, number[], number][]
    ).map(([name, dims, k]): [string, Partial<Formulations>, string, Case] => [
      `MaxPool ${name} from SpaceToDepth offsets of its input (no Indices)`,
      { maxPool: 'space-to-depth' },
      'MaxPool',
      { dtype: f32, inputs: { x: { dims, fill: 'distinct' } }, attrs: { kernel_shape: [k, k], strides: [k, k] } },
    ]),
    ...(
      [
        ['2x2 stride 2 (odd height and width: a row and a column no window reads)', [2, 2], [2, 2], [0, 0, 0, 0], 0],
        ['3x3 stride 3', [3, 3], [3, 3], [0, 0, 0, 0], 0],
        ['3x3 stride 2 pads 1 (overlapping, resnet)', [3, 3], [2, 2], [1, 1, 1, 1], 0],
        ['3x3 stride 2 ceil_mode (overlapping, squeezenet)', [3, 3], [2, 2], [0, 0, 0, 0], 1],
        ['3x2 stride 1 asymmetric pads', [3, 2], [1, 1], [1, 0, 0, 1], 0],
      ] as [string, number[], number[], number[], number][]
    ).map(([name, kernel, strides, pads, ceil]): [string, Partial<Formulations>, string, Case] => [
      `MaxPool ${name} from strided slices of its input (no Indices)`,
      { maxPool: 'slices' },
      'MaxPool',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 7, 9], fill: 'distinct' } },
        attrs: { kernel_shape: kernel, strides, pads, ceil_mode: ceil },
      },
    ]),
    [
      'MaxPool 1-D kernel 3 from a first-maximum mask',
      { maxPool: 'mask' },
      'MaxPool',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 10], fill: 'distinct' } },
        attrs: { kernel_shape: [3], strides: [3] },
      },
    ],
    [
      'MaxPool 3-D 2x1x2 from a first-maximum mask',
      { maxPool: 'mask' },
      'MaxPool',
      {
        dtype: f32,
        inputs: { x: { dims: [1, 2, 4, 3, 5], fill: 'distinct' } },
        attrs: { kernel_shape: [2, 1, 2], strides: [2, 1, 2] },
      },
    ],
    [
      'Conv weight gradient as a batched MatMul per image (stride, dilation, asymmetric pads)',
      { convWeight: 'patches-per-image' },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 2, 9, 8] }, w: { dims: [3, 2, 3, 2] }, b: { dims: [3] } },
        attrs: { strides: [2, 2], pads: [1, 0, 2, 1], dilations: [2, 2] },
      },
    ],
    [
      'Conv weight gradient as a batched MatMul per image (1x1, 1-D)',
      { convWeight: 'patches-per-image' },
      'Conv',
      { dtype: f32, inputs: { x: { dims: [2, 3, 10] }, w: { dims: [4, 3, 1] } } },
    ],
    [
      'ConvTranspose weight gradient as a batched MatMul per image',
      { convWeight: 'patches-per-image' },
      'ConvTranspose',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 4, 4] }, w: { dims: [3, 2, 3, 3] }, b: { dims: [2] } },
        attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] },
      },
    ],
    [
      'Conv input gradient as Col2Im of a batched MatMul',
      { convInput: 'col2im' },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 2, 9, 8] }, w: { dims: [3, 2, 3, 2] }, b: { dims: [3] } },
        attrs: { strides: [2, 2], pads: [1, 0, 2, 1], dilations: [2, 2] },
      },
    ],
    [
      'Conv input gradient as Col2Im (3x3 pads 1, 1-D stride 2)',
      { convInput: 'col2im' },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 10] }, w: { dims: [4, 3, 3] }, b: { dims: [4] } },
        attrs: { strides: [2], pads: [1, 1] },
      },
    ],
    [
      'Conv input gradient as a Conv with the flipped, transposed kernel (groups 2, dilation, asymmetric pads)',
      { convInput: 'flipped-conv' },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 4, 7, 6] }, w: { dims: [6, 2, 3, 2] }, b: { dims: [6] } },
        attrs: { group: 2, dilations: [2, 1], pads: [2, 0, 2, 1] },
      },
    ],
    [
      'Conv input gradient as a flipped-kernel Conv falls back to ConvTranspose (stride 2; pads wider than the kernel)',
      { convInput: 'flipped-conv' },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 6, 5] }, w: { dims: [4, 3, 3, 3] } },
        attrs: { strides: [2, 1], pads: [1, 3, 1, 0] },
      },
    ],
    [
      'depthwise input gradient as ConvTranspose (stride 1)',
      { depthwiseInput: 'conv-transpose' },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 6, 5] }, w: { dims: [3, 1, 3, 3] }, b: { dims: [3] } },
        attrs: { group: 3, pads: [1, 1, 1, 1] },
      },
    ],
    [
      'depthwise input gradient as a flipped-kernel Conv (3x3 pads 1; pads wider than the kernel fall back)',
      { depthwiseInput: 'flipped-conv' },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 6, 5] }, w: { dims: [3, 1, 3, 3] } },
        attrs: { group: 3, pads: [1, 3, 1, 0] },
      },
    ],
    ...(['as-weight', 'tall'] as const).map((weightGemm): [string, Partial<Formulations>, string, Case] => [
      `Conv trained as batch-wide im2col + GEMM (stride 2, asymmetric pads, dilation 2, bias; weightGemm ${weightGemm})`,
      { batchedConv: 'upto64', weightGemm },
      'Conv',
      {
        dtype: f32,
        opset: 18,
        inputs: { x: { dims: [2, 2, 9, 8] }, w: { dims: [3, 2, 3, 2] }, b: { dims: [3] } },
        attrs: { strides: [2, 2], pads: [1, 0, 2, 1], dilations: [2, 2] },
      },
    ]),
    [
      'Conv trained as batch-wide im2col + GEMM (1x1 stride 2)',
      { batchedConv: 'upto64' },
      'Conv',
      {
        dtype: f32,
        opset: 18,
        inputs: { x: { dims: [3, 4, 5, 5] }, w: { dims: [2, 4, 1, 1] } },
        attrs: { strides: [2, 2] },
      },
    ],
    [
      'Conv trained as batch-wide im2col + GEMM (1-D, pads 1, rows dropped by the floor)',
      { batchedConv: 'upto4' },
      'Conv',
      {
        dtype: f32,
        opset: 18,
        inputs: { x: { dims: [2, 3, 8] }, w: { dims: [4, 3, 3] }, b: { dims: [4] } },
        attrs: { strides: [3], pads: [1, 1] },
      },
    ],
    ...(['as-weight', 'tall'] as const).map((weightGemm): [string, Partial<Formulations>, string, Case] => [
      `Conv weight gradient as one Gemm, weightGemm ${weightGemm} (patch rows 18 > 4 output channels)`,
      { convWeight: 'patches-gemm', weightGemm },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 7, 6] }, w: { dims: [4, 3, 3, 2] }, b: { dims: [4] } },
        attrs: { strides: [2, 1], pads: [1, 1, 0, 0] },
      },
    ]),
    [
      'ConvTranspose weight gradient as one tall Gemm (groups 1)',
      { convWeight: 'patches-gemm', weightGemm: 'tall' },
      'ConvTranspose',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 4, 4] }, w: { dims: [3, 2, 3, 3] }, b: { dims: [2] } },
        attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] },
      },
    ],
    [
      'Conv weight gradient as one NCHWc convolution (3x3 pads 1, batch 3 padded to the block, bias)',
      { convWeight: 'nchwc-conv', nchwcBlock: NCHWC_BLOCK },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [3, 5, 6, 7] }, w: { dims: [8, 5, 3, 3] }, b: { dims: [8] } },
        attrs: { pads: [1, 1, 1, 1] },
      },
    ],
    [
      'Conv weight gradient as one NCHWc convolution (3x2 asymmetric pads, 20 output channels: padded block)',
      { convWeight: 'nchwc-conv', nchwcBlock: NCHWC_BLOCK },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 7, 6] }, w: { dims: [20, 3, 3, 2] } },
        attrs: { pads: [2, 0, 1, 1] },
      },
    ],
    [
      'Conv weight gradient as one NCHWc convolution, strided (3x3 stride 2 pads 1, odd size: a row dropped)',
      { convWeight: 'nchwc-strided', nchwcBlock: NCHWC_BLOCK },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [3, 5, 9, 8] }, w: { dims: [8, 5, 3, 3] }, b: { dims: [8] } },
        attrs: { strides: [2, 2], pads: [1, 1, 1, 1] },
      },
    ],
    [
      'Conv weight gradient as one NCHWc convolution, strided (5x3 strides 3x2, asymmetric pads, 20 outputs)',
      { convWeight: 'nchwc-strided', nchwcBlock: NCHWC_BLOCK },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 13, 9] }, w: { dims: [20, 3, 5, 3] } },
        attrs: { strides: [3, 2], pads: [2, 0, 1, 1] },
      },
    ],
    [
      'Conv weight gradient of a strided first layer (3 channels, 3x3 stride 2 pads 1, a column dropped; 27 patch rows < 56 positions) as per-image patches under nchwc-deep-strided',
      { convWeight: 'nchwc-deep-strided', nchwcBlock: NCHWC_BLOCK },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 3, 15, 14] }, w: { dims: [8, 3, 3, 3] }, b: { dims: [8] } },
        attrs: { strides: [2, 2], pads: [1, 1, 1, 1] },
      },
    ],
    [
      'depthwise weight gradient as one NCHWc depthwise Conv over stacked images (3x3 pads 1, batch 3)',
      { depthwiseWeight: 'nchwc-stacked', nchwcBlock: NCHWC_BLOCK },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [3, 8, 6, 7] }, w: { dims: [8, 1, 3, 3] }, b: { dims: [8] } },
        attrs: { pads: [1, 1, 1, 1], group: 8 },
      },
    ],
    [
      'depthwise weight gradient as one NCHWc depthwise Conv over stacked images (stride 2, odd sizes, 20 channels)',
      { depthwiseWeight: 'nchwc-stacked', nchwcBlock: NCHWC_BLOCK },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 20, 7, 9] }, w: { dims: [20, 1, 3, 3] } },
        attrs: { pads: [1, 1, 1, 1], strides: [2, 2], group: 20 },
      },
    ],
    [
      'depthwise weight gradient as one NCHWc depthwise Conv over stacked images (5x3, strides 3x2, asymmetric pads)',
      { depthwiseWeight: 'nchwc-stacked', nchwcBlock: NCHWC_BLOCK },
      'Conv',
      {
        dtype: f32,
        inputs: { x: { dims: [2, 4, 11, 8] }, w: { dims: [4, 1, 5, 3] } },
        attrs: { pads: [2, 0, 0, 1], strides: [3, 2], group: 4 },
      },
    ],
    ['Relu gradient as Where(mask, dY, 0)', { activationMask: 'where' }, 'Relu', { inputs: { x: { dims: [3, 4] } } }],
    [
      'Clip gradient as Where(mask, dY, 0)',
      { activationMask: 'where' },
      'Clip',
      {
        dtype: f32,
        inputs: { x: { dims: [3, 4] }, lo: { dims: [], values: [-0.5] }, hi: { dims: [], values: [0.55] } },
      },
    ],
    [
      'Conv weight gradient as one Gemm over the batch (1x1)',
      { convWeight: 'patches-gemm' },
      'Conv',
      { dtype: f32, inputs: { x: { dims: [2, 3, 4, 4] }, w: { dims: [5, 3, 1, 1] } } },
    ],
  ];
  test.for(cases)('%s', async ([, formulations, op, c], ctx) => {
    // NCHWc cases on a runtime without NCHWc kernels would only check the fallback they name as NCHWc.
    if ('nchwcBlock' in formulations && !formulations.nchwcBlock) ctx.skip('this onnxruntime has no NCHWc kernels');
    await check(op, { ...c, formulations });
  });
  test('the flipped-kernel input gradient is a Conv (no ConvTranspose) where it applies', async () => {
    const ops = async (group: number, strides: number[], choice: Partial<Formulations>, pads = [1, 1, 1, 1]) => {
      const g = new GraphBuilder();
      g.input('x', 'float32', [2, 4, 6, 6]);
      const w = g.initializer('w', 'float32', [4, 4 / group, 3, 3], new Array<number>((16 / group) * 9).fill(0.1));
      g.output(g.op('Conv', ['x', w], { group, strides, pads }));
      const gm = await buildGradientModel(makeModel(g.graph), ['x'], 0, choice);
      return gm.model.graph.nodes.map((n) => n.opType);
    };
    expect(await ops(4, [1, 1], {})).not.toContain('ConvTranspose');
    expect(await ops(4, [2, 2], {})).toContain('ConvTranspose');
    expect(await ops(4, [1, 1], { depthwiseInput: 'conv-transpose' })).toContain('ConvTranspose');
    expect(await ops(1, [1, 1], { convInput: 'flipped-conv' })).not.toContain('ConvTranspose');
    expect(await ops(1, [1, 1], { convInput: 'conv-transpose' })).toContain('ConvTranspose');
    // An unpadded conv (the seed CNN's) keeps ConvTranspose: its flipped Conv would pad by 2.
    expect(await ops(1, [1, 1], {}, [0, 0, 0, 0])).toContain('ConvTranspose');
    expect(await ops(1, [1, 1], {})).not.toContain('ConvTranspose');
  });
  test('nchwc-strided computes a strided conv weight gradient as an NCHWc Conv, nchwc-conv leaves it to the patches', async () => {
    const nchwcConvs = async (strides: number[], convWeight: Formulations['convWeight']) => {
      const g = new GraphBuilder();
      g.input('x', 'float32', [2, 4, 9, 9]);
      const w = g.initializer('w', 'float32', [8, 4, 3, 3], new Array<number>(288).fill(0.1));
      g.output(g.op('Conv', ['x', w], { strides, pads: [1, 1, 1, 1] }));
      const gm = await buildGradientModel(makeModel(g.graph), [w], 0, { convWeight, nchwcBlock: 16 });
      return gm.model.graph.nodes.filter((n) => n.opType === 'Conv' && n.domain === 'com.microsoft.nchwc').length;
    };
    expect(await nchwcConvs([2, 2], 'nchwc-strided')).toBe(1);
    expect(await nchwcConvs([2, 2], 'nchwc-conv')).toBe(0);
    expect(await nchwcConvs([1, 1], 'nchwc-conv')).toBe(1);
  });
  test("nchwc-deep leaves a first layer's weight gradient (patch rows < output positions) to the per-image patches", async () => {
    const nchwcConvs = async (channels: number, convWeight: Formulations['convWeight']) => {
      const g = new GraphBuilder();
      g.input('x', 'float32', [16, channels, 10, 10]);
      const w = g.initializer('w', 'float32', [8, channels, 3, 3], new Array<number>(72 * channels).fill(0.1));
      g.output(g.op('Conv', ['x', w], {}));
      const gm = await buildGradientModel(makeModel(g.graph), [w], 0, { convWeight, nchwcBlock: 16 });
      return gm.model.graph.nodes.filter((n) => n.opType === 'Conv' && n.domain === 'com.microsoft.nchwc').length;
    };
    // 9 patch rows < 64 output positions: patches; 9·8 = 72 ≥ 64: NCHWc.
    expect(await nchwcConvs(1, 'nchwc-deep')).toBe(0);
    expect(await nchwcConvs(1, 'nchwc-strided')).toBe(1);
    expect(await nchwcConvs(8, 'nchwc-deep')).toBe(1);
  });
  test('nchwc-deep-strided leaves a strided 3x3 first layer to the per-image patches, nchwc-deep keeps it NCHWc', async () => {
    const nchwcConvs = async (channels: number, k: number, convWeight: Formulations['convWeight']) => {
      const g = new GraphBuilder();
      g.input('x', 'float32', [16, channels, 40, 40]);
      const w = g.initializer('w', 'float32', [8, channels, k, k], new Array<number>(8 * channels * k * k).fill(0.1));
      g.output(g.op('Conv', ['x', w], { strides: [2, 2], pads: [1, 1, 1, 1] }));
      const gm = await buildGradientModel(makeModel(g.graph), [w], 0, { convWeight, nchwcBlock: 16 });
      return gm.model.graph.nodes.filter((n) => n.opType === 'Conv' && n.domain === 'com.microsoft.nchwc').length;
    };
    // 20×20 = 400 output positions: 27 patch rows (3 channels, 3×3) → patches; 9·64 = 576 ≥ 400 → NCHWc;
    // a 7×7 kernel (49 strided slices, 147 rows < 400) stays NCHWc.
    expect(await nchwcConvs(3, 3, 'nchwc-deep-strided')).toBe(0);
    expect(await nchwcConvs(3, 3, 'nchwc-deep')).toBe(1);
    expect(await nchwcConvs(64, 3, 'nchwc-deep-strided')).toBe(1);
    expect(await nchwcConvs(3, 7, 'nchwc-deep-strided')).toBe(1);
  });
  test('MaxPool slices: 2-D pools keep the plain forward (no Indices, no MaxUnpool/ScatterElements), others the Indices', async () => {
    const ops = async (kernel: number[], strides: number[], pads?: number[]) => {
      const g = new GraphBuilder();
      g.input('x', 'float32', kernel.length === 2 ? [2, 3, 6, 6] : [2, 3, 6]);
      g.output(g.op('MaxPool', ['x'], { kernel_shape: kernel, strides, ...(pads ? { pads } : {}) }));
      const gm = await buildGradientModel(makeModel(g.graph, { opset: 18 }), ['x'], 0, { maxPool: 'slices' });
      return gm.model.graph.nodes.map((n) => n.opType);
    };
    const indexFree = (o: string[]) => !o.includes('MaxUnpool') && !o.includes('ScatterElements');
    expect(await ops([2, 2], [2, 2])).toContain('DepthToSpace');
    expect(indexFree(await ops([2, 2], [2, 2]))).toBe(true);
    expect(indexFree(await ops([3, 3], [2, 2], [1, 1, 1, 1]))).toBe(true);
    expect(await ops([2, 1], [2, 1])).toContain('MaxUnpool');
    expect(await ops([2], [2])).toContain('MaxUnpool');
  });
  test('a conv with few output positions trains as batch-wide GEMMs (no Conv left), others keep their Conv', async () => {
    const ops = async (hw: number, choice: Partial<Formulations>) => {
      const g = new GraphBuilder();
      g.input('x', 'float32', [2, 4, hw, hw]);
      const w = g.initializer('w', 'float32', [4, 4, 3, 3], new Array<number>(144).fill(0.1));
      g.output(g.op('Conv', ['x', w], { pads: [1, 1, 1, 1] }));
      const gm = await buildGradientModel(makeModel(g.graph, { opset: 18 }), ['x', w], 0, choice);
      return gm.model.graph.nodes.map((n) => n.opType);
    };
    expect(await ops(4, {})).not.toContain('Conv');
    expect(await ops(4, {})).toContain('Col2Im');
    expect(await ops(5, {})).toContain('Conv');
    expect(await ops(4, { batchedConv: 'off' })).toContain('Conv');
  });
  // Values from {0, 1, 2}: most windows hold tied maxima, where finite differences say nothing.
  test.each([
    ['2x2 stride 2', [2, 2], 2, [0, 0, 0, 0], 0, ['mask', 'indices', 'slices', 'space-to-depth']],
    ['3x3 stride 2 pads 1', [3, 3], 2, [1, 1, 1, 1], 0, ['indices', 'slices']],
    ['3x3 stride 2 ceil_mode', [3, 3], 2, [0, 0, 0, 0], 1, ['indices', 'slices']],
  ] as [string, number[], number, number[], number, Formulations['maxPool'][]][])(
    'MaxPool %s with tied maxima: the FIRST maximum of each window (row-major) takes the gradient, as in PyTorch',
    async (_name, [kh, kw], st, pads, ceil, forms) => {
      const [n, ch, h, w] = [2, 3, 7, 6];
      const size = n * ch * h * w;
      const r = rng(5);
      const x = Float32Array.from({ length: size }, () => Math.floor(r() * 3));
      const out = (len: number, k: number, p0: number, p1: number) => {
        const o = (ceil ? Math.ceil : Math.floor)((len + p0 + p1 - k) / st) + 1;
        return ceil && (o - 1) * st >= len + p0 ? o - 1 : o;
      };
      const [ho, wo] = [out(h, kh!, pads[0]!, pads[2]!), out(w, kw!, pads[1]!, pads[3]!)];
      const dy = Float32Array.from({ length: n * ch * ho * wo }, (_, i) => 1 + i);
      // PyTorch's CPU max_pool2d: scan the window (clamped to the input) row by row, take a value when `val > maxval`.
      const want = new Float32Array(size);
      for (let p = 0; p < n * ch; p++)
        for (let i = 0; i < ho; i++)
          for (let j = 0; j < wo; j++) {
            let best = -1;
            for (let a = Math.max(0, i * st - pads[0]!); a < Math.min(h, i * st - pads[0]! + kh!); a++)
              for (let b = Math.max(0, j * st - pads[1]!); b < Math.min(w, j * st - pads[1]! + kw!); b++) {
                const at = p * h * w + a * w + b;
                if (best < 0 || x[at]! > x[best]!) best = at;
              }
            want[best] += dy[p * ho * wo + i * wo + j]!;
          }
      const { Session } = await import('../../runtime/session.ts');
      for (const maxPool of forms) {
        const g = new GraphBuilder();
        g.input('x', 'float32', [n, ch, h, w]);
        g.output(g.op('MaxPool', ['x'], { kernel_shape: [kh!, kw!], strides: [st, st], pads, ceil_mode: ceil }));
        const gm = await buildGradientModel(makeModel(g.graph, { opset: 18 }), ['x'], 0, { maxPool });
        const ops = gm.model.graph.nodes.map((node) => node.opType);
        expect(ops.includes('MaxUnpool') || ops.includes('ScatterElements'), maxPool).toBe(maxPool === 'indices');
        const s = await Session.create(gm.model);
        const [seed] = [...gm.seedInputs.values()];
        const res = await s.run({
          x: { dtype: 'float32', dims: [n, ch, h, w], data: x },
          [seed!.input]: { dtype: 'float32', dims: [n, ch, ho, wo], data: dy },
        });
        expect(Array.from(res[gm.gradOutputs.get('x')!]!.data as Float32Array), maxPool).toEqual(Array.from(want));
        await s.release();
      }
    },
  );
  test('an unknown formulation or choice is refused', async () => {
    const { resolveFormulations } = await import('./formulations.ts');
    expect(() => resolveFormulations({ convWeight: 'conv' } as never)).toThrow(/convWeight must be one of/);
    expect(() => resolveFormulations({ avgPool: 'indices' } as never)).toThrow(/unknown formulation 'avgPool'/);
  });
});

describe('slices of one value: autodiff joins their gradients', () => {
  /** x [3, 6] → one Slice per window along `axis`, each scaled differently, each an output. */
  function slicedModel(windows: [number, number][], axis: number) {
    const g = new GraphBuilder();
    const x = g.input('x', 'float64', [3, 6]);
    windows.forEach(([s, e], i) => {
      const part = g.op('Slice', [x, g.constInt64([s]), g.constInt64([e]), g.constInt64([axis])]);
      g.output(g.op('Mul', [part, g.constFloat([i + 1.5], [], 'k', 'float64')]));
    });
    return makeModel(g.graph, { opset: 18 });
  }
  const x: TensorValue = { dtype: 'float64', dims: [3, 6], data: Float64Array.from(fill(18, 'signed', 3)) };
  test.each([
    [
      'tiling the axis: one Concat',
      [
        [0, 2],
        [2, 5],
        [5, 6],
      ] as [number, number][],
      1,
      0,
    ],
    [
      'end to end, not covering: a Concat, padded once',
      [
        [1, 3],
        [3, 4],
      ] as [number, number][],
      1,
      1,
    ],
    [
      'with a gap: padded each',
      [
        [0, 2],
        [3, 6],
      ] as [number, number][],
      1,
      2,
    ],
    [
      'overlapping: padded each',
      [
        [0, 4],
        [2, 6],
      ] as [number, number][],
      1,
      2,
    ],
    [
      'along axis 0',
      [
        [0, 1],
        [1, 3],
      ] as [number, number][],
      0,
      0,
    ],
  ])('%s', async (_name, windows, axis, pads) => {
    const model = slicedModel(windows, axis);
    await assertGradients(model, { x }, ['x']);
    const { model: gm } = await buildGradientModel(model, ['x']);
    const ops = gm.graph.nodes.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Pad').length).toBe(pads);
    expect(ops.includes('Concat')).toBe(pads < 2);
  });
});

describe('sums of contributions', () => {
  test('x + z·(w − x): the −dY that Sub gives x is subtracted, no Neg node', async () => {
    const g = new GraphBuilder();
    const [x, z, w] = ['x', 'z', 'w'].map((n) => g.input(n, 'float64', [2, 3])) as [string, string, string];
    g.output(g.op('Add', [x, g.op('Mul', [z, g.op('Sub', [w, x])])]));
    const model = makeModel(g.graph, { opset: 18 });
    const feed = (seed: number): TensorValue => ({
      dtype: 'float64',
      dims: [2, 3],
      data: Float64Array.from(fill(6, 'signed', seed)),
    });
    await assertGradients(model, { x: feed(1), z: feed(2), w: feed(3) }, ['x', 'z', 'w']);
    const { model: gm } = await buildGradientModel(model, ['x', 'z', 'w']);
    expect(gm.graph.nodes.some((n) => n.opType === 'Neg')).toBe(false);
  });
});

describe("a weight read by several 2-D MatMuls (formulation sharedWeight 'stacked')", () => {
  test('its gradient is one Gemm over the stacked rows (an unrolled RNN step by step)', async () => {
    const g = new GraphBuilder();
    const w = g.input('w', 'float64', [3, 3]);
    let h = g.input('h0', 'float64', [2, 3]);
    for (let t = 0; t < 3; t++) h = g.op('Tanh', [g.op('MatMul', [h, w])]);
    g.output(h);
    const model = makeModel(g.graph, { opset: 18 });
    const feed = (dims: number[], seed: number): TensorValue => ({
      dtype: 'float64',
      dims,
      data: Float64Array.from(fill(dims[0]! * dims[1]!, 'signed', seed)),
    });
    const formulations = { sharedWeight: 'stacked' as const };
    await assertGradients(model, { w: feed([3, 3], 1), h0: feed([2, 3], 2) }, ['w', 'h0'], { formulations });
    const { model: gm } = await buildGradientModel(model, ['w', 'h0'], 0, formulations);
    expect(gm.graph.nodes.filter((n) => n.opType === 'Gemm' && n.attributes.transA).length).toBe(1);
    expect(gm.graph.nodes.some((n) => n.opType === 'Sum')).toBe(false);
  });
});

describe('training-mode rewrites', () => {
  test('Dropout: the gradient is the scaled keep-mask of the same step', async () => {
    const g = new GraphBuilder();
    g.input('x', 'float32', [4, 50]);
    const [y, mask] = g.node('Dropout', ['x', g.initializer('ratio', 'float32', [], [0.3])], {}, { outputs: 2 });
    g.output(y!);
    g.output(mask!);
    const gm = await buildGradientModel(makeModel(g.graph), ['x'], 7);
    const { Session } = await import('../../runtime/session.ts');
    const s = await Session.create(gm.model);
    const x = Float32Array.from({ length: 200 }, (_, i) => 1 + i / 200);
    const seedY = gm.seedInputs.get(y!)!;
    const seedM = gm.seedInputs.get(mask!)!;
    const out = await s.run({
      x: { dtype: 'float32', dims: [4, 50], data: x },
      [seedY.input]: { dtype: 'float32', dims: [4, 50], data: new Float32Array(200).fill(1) },
      [seedM.input]: { dtype: seedM.dtype, dims: [4, 50], data: new Uint8Array(200) },
    });
    const m = out[mask!]!.data as Uint8Array;
    const yv = out[y!]!.data as Float32Array;
    const dx = out[gm.gradOutputs.get('x')!]!.data as Float32Array;
    const kept = m.reduce((a, b) => a + b, 0);
    expect(kept).toBeGreaterThan(100);
    expect(kept).toBeLessThan(180);
    for (let i = 0; i < 200; i++) {
      expect(dx[i]).toBeCloseTo(m[i] ? 1 / 0.7 : 0, 5);
      expect(yv[i]).toBeCloseTo(m[i] ? x[i]! / 0.7 : 0, 5);
    }
    await s.release();
  });
});
