import { describe, expect, it } from 'vitest';
import { rng } from '../../src/data/dataset.ts';
import type { Model, Tensor } from '../../src/onnx/ir.ts';
import { Session } from '../../src/runtime/session.ts';
import type { TensorValue } from '../../src/runtime/tensor.ts';
import {
  Add,
  AvgPool,
  BatchNorm,
  Concat,
  Conv1d,
  Conv2d,
  Dense,
  Dropout,
  Embedding,
  EmbeddingBag,
  Flatten,
  GELU,
  GlobalAvgPool,
  GRU,
  LeakyReLU,
  LSTM,
  MaxPool,
  Network,
  ReLU,
  ReLU6,
  Reshape,
  Sequential,
  Sigmoid,
  Softmax,
  Standardize,
  Tanh,
  input,
  type Layer,
  type Shape,
} from '../../src/nn/index.ts';
import { conv2d, dense, gruLastState, lstmLastState, pool2d, sigmoid, type NdArray } from './reference.ts';

/** float32 forward passes vs float64-accumulating JS loops: agreement to ~1e-6 relative is expected. */
const TOLERANCE = 1e-4;

function randomData(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (2 * r() - 1) * scale);
}

async function run(model: Model, feeds: Record<string, TensorValue>): Promise<TensorValue> {
  const s = await Session.create(model, { threads: 1 });
  try {
    return (await s.run(feeds)).logits!;
  } finally {
    await s.release();
  }
}

function init(model: Model, name: string): Tensor {
  const t = model.graph.initializers.find((i) => i.name === name);
  if (!t) throw new Error(`no initializer ${name}; have ${model.graph.initializers.map((i) => i.name).join(', ')}`);
  return t;
}
const f32 = (t: Tensor): Float32Array => t.data as Float32Array;
const nd = (t: Tensor): NdArray => ({ dims: t.dims, data: f32(t) });

function expectClose(got: TensorValue, want: NdArray | { dims: number[]; data: Float32Array }): void {
  expect(got.dims).toEqual(want.dims);
  const a = got.data as Float32Array;
  let worst = 0;
  for (let i = 0; i < a.length; i++)
    worst = Math.max(worst, Math.abs(a[i]! - want.data[i]!) / Math.max(1, Math.abs(want.data[i]!)));
  expect(worst).toBeLessThan(TOLERANCE);
}

/** Build a one-layer network over `shape`, run it on onnxruntime with seeded input. */
async function single(
  layer: Layer,
  shape: Shape,
  batch = 2,
  seed = 1,
): Promise<{ model: Model; x: NdArray; y: TensorValue }> {
  const model = new Sequential(shape, [layer]).build({ seed });
  const dims = [batch, ...shape];
  const x = {
    dims,
    data: randomData(
      dims.reduce((a, b) => a * b, 1),
      seed + 10,
      2,
    ),
  };
  return { model, x, y: await run(model, { input: { dtype: 'float32', ...x } }) };
}

describe('nn layers on onnxruntime vs JS references', () => {
  it('Dense on vectors (Gemm) and on sequences (MatMul + Add)', async () => {
    const { model, x, y } = await single(new Dense(5), [7]);
    expectClose(y, dense(x, nd(init(model, 'dense_1.weight')), f32(init(model, 'dense_1.bias'))));
    const seq = await single(new Dense({ units: 3, useBias: false }), [4, 6]);
    const w = nd(init(seq.model, 'dense_1.weight'));
    const flat = dense({ dims: [8, 6], data: seq.x.data }, w);
    expectClose(seq.y, { dims: [2, 4, 3], data: flat.data });
  });

  const convCases: {
    label: string;
    opts: ConstructorParameters<typeof Conv2d>[0];
    shape: Shape;
    pads: [number, number, number, number];
  }[] = [
    { label: 'valid', opts: { filters: 4, kernel: 3 }, shape: [3, 7, 6], pads: [0, 0, 0, 0] },
    {
      label: 'same, stride 2',
      opts: { filters: 4, kernel: 3, stride: 2, padding: 'same' },
      shape: [2, 8, 7],
      pads: [0, 1, 1, 1],
    },
    {
      label: 'same, even kernel (extra pad at the end)',
      opts: { filters: 2, kernel: 2, padding: 'same' },
      shape: [2, 5, 5],
      pads: [0, 0, 1, 1],
    },
    {
      label: 'explicit pads, dilation 2',
      opts: { filters: 3, kernel: [3, 2], padding: [2, 1, 0, 1], dilation: 2 },
      shape: [2, 9, 8],
      pads: [2, 1, 0, 1],
    },
    { label: 'groups 2', opts: { filters: 4, kernel: 3, groups: 2, padding: 1 }, shape: [4, 6, 6], pads: [1, 1, 1, 1] },
    {
      label: 'depthwise',
      opts: { filters: 3, kernel: 3, groups: 3, padding: 'same', useBias: false },
      shape: [3, 5, 5],
      pads: [1, 1, 1, 1],
    },
  ];
  it.each(convCases)('Conv2d $label', async ({ opts, shape, pads }) => {
    const layer = new Conv2d(opts);
    const { model, x, y } = await single(layer, shape);
    const w = init(model, 'conv2d_1.weight');
    const b = opts.useBias === false ? undefined : f32(init(model, 'conv2d_1.bias'));
    const s = typeof opts.stride === 'number' ? opts.stride : 1;
    const d = typeof opts.dilation === 'number' ? opts.dilation : 1;
    expectClose(y, conv2d(x, nd(w), b, { stride: [s, s], pads, dilation: [d, d], groups: opts.groups ?? 1 }));
    expect(layer.paramCount([shape])).toBe(w.data.length + (b?.length ?? 0));
  });

  it('Conv1d equals a Conv2d over a height-1 image', async () => {
    const { model, x, y } = await single(new Conv1d({ filters: 3, kernel: 3, stride: 2, padding: 'same' }), [2, 9]);
    const w = init(model, 'conv1d_1.weight');
    const want = conv2d(
      { dims: [2, 2, 1, 9], data: x.data },
      { dims: [3, 2, 1, 3], data: f32(w) },
      f32(init(model, 'conv1d_1.bias')),
      {
        stride: [1, 2],
        pads: [0, 1, 0, 1],
        dilation: [1, 1],
        groups: 1,
      },
    );
    expectClose(y, { dims: [2, 3, 5], data: want.data });
  });

  it('MaxPool, AvgPool (same padding excludes pad cells), GlobalAvgPool', async () => {
    const mp = await single(new MaxPool(2), [2, 5, 6]);
    expectClose(mp.y, pool2d(mp.x, [2, 2], [2, 2], [0, 0, 0, 0], 'max'));
    const ap = await single(new AvgPool({ kernel: 3, stride: 2, padding: 'same' }), [2, 5, 6]);
    expectClose(ap.y, pool2d(ap.x, [3, 3], [2, 2], [1, 0, 1, 1], 'avg'));
    const gp = await single(new GlobalAvgPool(), [3, 4, 4]);
    const full = pool2d(gp.x, [4, 4], [1, 1], [0, 0, 0, 0], 'avg');
    expectClose(gp.y, { dims: [2, 3], data: full.data });
  });

  it('activations', async () => {
    const cases: [Layer, (v: number) => number][] = [
      [new ReLU(), (v) => Math.max(0, v)],
      [new ReLU6(), (v) => Math.min(6, Math.max(0, v))],
      [new LeakyReLU(0.2), (v) => (v > 0 ? v : 0.2 * v)],
      [new Sigmoid(), sigmoid],
      [new Tanh(), Math.tanh],
      [new GELU('tanh'), (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))],
      // exact GELU, with erf from Abramowitz–Stegun 7.1.26 (accurate to 1.5e-7, enough here)
      [new GELU('erf'), (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))],
    ];
    for (const [layer, fn] of cases) {
      const { x, y } = await single(layer, [13], 2, 3);
      expectClose(y, { dims: x.dims, data: x.data.map(fn) });
    }
    const sm = await single(new Softmax(), [3, 5]);
    const want = new Float32Array(sm.x.data.length);
    for (let r = 0; r < 6; r++) {
      const row = sm.x.data.subarray(r * 5, r * 5 + 5);
      const m = Math.max(...row);
      const e = Array.from(row, (v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      e.forEach((v, i) => (want[r * 5 + i] = v / s));
    }
    expectClose(sm.y, { dims: sm.x.dims, data: want });
  });

  it('BatchNorm (inference: running statistics) and Dropout (identity at inference)', async () => {
    const model = new Sequential([3, 2, 2], [new BatchNorm({ epsilon: 1e-3 }), new Dropout(0.5)]).build({ seed: 1 });
    // Non-trivial statistics so the test sees them used.
    const set = (name: string, v: number[]) => f32(init(model, name)).set(v);
    set('batchnorm_1.weight', [1, 2, 0.5]);
    set('batchnorm_1.bias', [0, 1, -1]);
    set('batchnorm_1.running_mean', [0.5, -0.5, 2]);
    set('batchnorm_1.running_var', [1, 4, 0.25]);
    const x = randomData(24, 4);
    const y = await run(model, { input: { dtype: 'float32', dims: [2, 3, 2, 2], data: x } });
    const gamma = [1, 2, 0.5];
    const beta = [0, 1, -1];
    const mean = [0.5, -0.5, 2];
    const variance = [1, 4, 0.25];
    const want = x.map((v, i) => {
      const c = Math.floor(i / 4) % 3;
      return gamma[c]! * ((v - mean[c]!) / Math.sqrt(variance[c]! + 1e-3)) + beta[c]!;
    });
    expectClose(y, { dims: [2, 3, 2, 2], data: want });
    expect(new BatchNorm().paramCount([[3, 2, 2]])).toBe(12);
  });

  it('BatchNorm and Dropout emit training forms in training builds', () => {
    const model = new Sequential([3, 2, 2], [new BatchNorm(), new Dropout(0.5)]).build({ seed: 1, training: true });
    const bn = model.graph.nodes.find((n) => n.opType === 'BatchNormalization')!;
    expect(bn.attributes.training_mode).toEqual({ type: 'int', value: 1 });
    expect(bn.attributes.momentum).toEqual({ type: 'float', value: expect.closeTo(0.9, 6) });
    expect(model.graph.nodes.find((n) => n.opType === 'Dropout')!.inputs).toHaveLength(3);
  });

  it('Standardize with scalar and per-channel statistics', async () => {
    const one = await single(new Standardize({ mean: 0.25, std: 0.5 }), [3, 2]);
    expectClose(one.y, { dims: one.x.dims, data: one.x.data.map((v) => (v - 0.25) / 0.5) });
    const per = await single(new Standardize({ mean: [1, -1], std: [2, 4] }), [2, 3]);
    expectClose(per.y, {
      dims: per.x.dims,
      data: per.x.data.map((v, i) => {
        const c = Math.floor(i / 3) % 2;
        return (v - [1, -1][c]!) / [2, 4][c]!;
      }),
    });
  });

  it('Flatten, Reshape, Embedding', async () => {
    const fl = await single(new Flatten(), [2, 3, 4]);
    expectClose(fl.y, { dims: [2, 24], data: fl.x.data });
    const rs = await single(new Reshape([4, -1]), [2, 3, 4]);
    expectClose(rs.y, { dims: [2, 4, 6], data: rs.x.data });
    const ids = input([3], { dtype: 'int64' });
    const emb = new Embedding({ vocab: 10, dim: 4 });
    const model = new Network({ inputs: ids, outputs: emb.apply(ids) }).build({ seed: 2 });
    const y = await run(model, {
      input: { dtype: 'int64', dims: [2, 3], data: BigInt64Array.from([0n, 9n, 3n, 3n, 1n, 0n]) },
    });
    const table = f32(init(model, 'embedding_1.weight'));
    const want = new Float32Array(24);
    [0, 9, 3, 3, 1, 0].forEach((id, i) => want.set(table.subarray(id * 4, id * 4 + 4), i * 4));
    expectClose(y, { dims: [2, 3, 4], data: want });
  });

  /**
   * An EmbeddingBag (vocab 10, dim 3) over three texts of 4 ids — [9, 3], [5, 5, 5, 2] and only
   * padding — and what it should give: Σ w·row / Σ w of each text's ids (w = 1 unweighted), zeros.
   */
  async function bagOfThreeTexts(weights?: number[]) {
    const ids = input([4], { dtype: 'int64' });
    const bag = new EmbeddingBag({ vocab: 10, dim: 3, ...(weights ? { weights } : {}) });
    const model = new Network({ inputs: ids, outputs: bag.apply(ids) }).build({ seed: 2 });
    const y = await run(model, {
      input: {
        dtype: 'int64',
        dims: [3, 4],
        data: BigInt64Array.from([0n, 0n, 9n, 3n, 5n, 5n, 5n, 2n, 0n, 0n, 0n, 0n]),
      },
    });
    const table = f32(init(model, 'embeddingbag_1.weight'));
    const row = (id: number) => Array.from(table.subarray(id * 3, id * 3 + 3));
    const w = (id: number) => weights?.[id] ?? 1;
    const weighted = (idsIn: number[]) => {
      const total = idsIn.reduce((a, id) => a + w(id), 0);
      return [0, 1, 2].map((k) => idsIn.reduce((a, id) => a + w(id) * row(id)[k]!, 0) / total);
    };
    const want = [...weighted([9, 3]), ...weighted([5, 5, 5, 2]), 0, 0, 0];
    return { model, y, want: { dims: [3, 3], data: Float32Array.from(want) } };
  }

  it('EmbeddingBag: the mean of the non-padding rows (zeros for an all-padding text)', async () => {
    const { y, want } = await bagOfThreeTexts();
    expectClose(y, want);
  });

  it('EmbeddingBag with token weights: the weighted mean Σ w·row / Σ w (weights fixed, not parameters)', async () => {
    const { model, y, want } = await bagOfThreeTexts([0, 1, 2, 0.5, 1, 3, 1, 1, 1, 4]);
    expect(model.graph.initializers.filter((t) => t.dtype === 'float32').map((t) => t.name)).toEqual([
      'embeddingbag_1.weight',
    ]);
    expectClose(y, want);
    expect(() => new EmbeddingBag({ vocab: 10, dim: 3, weights: [1, 2] })).toThrow(
      /token weights must be 10 finite non-negative numbers, got 2/,
    );
  });

  it('functional networks: two inputs, residual Add, Concat', async () => {
    const a = input([4], { name: 'a' });
    const b = input([4], { name: 'b' });
    const d1 = new Dense({ units: 4, name: 'proj' });
    const h = new Add().apply([d1.apply(a), b]); // residual-style sum
    const out = new Concat().apply([h, a]);
    const net = new Network({ inputs: [a, b], outputs: out });
    const model = net.build({ seed: 5 });
    expect(model.graph.inputs.map((i) => i.name)).toEqual(['a', 'b']);
    const xa = randomData(8, 1);
    const xb = randomData(8, 2);
    const s = await Session.create(model);
    const y = (
      await s.run({ a: { dtype: 'float32', dims: [2, 4], data: xa }, b: { dtype: 'float32', dims: [2, 4], data: xb } })
    ).logits!;
    await s.release();
    const p = dense({ dims: [2, 4], data: xa }, nd(init(model, 'proj.weight')), f32(init(model, 'proj.bias')));
    const want = new Float32Array(16);
    for (let n = 0; n < 2; n++)
      for (let j = 0; j < 4; j++) {
        want[n * 8 + j] = p.data[n * 4 + j]! + xb[n * 4 + j]!;
        want[n * 8 + 4 + j] = xa[n * 4 + j]!;
      }
    expectClose(y, { dims: [2, 8], data: want });
    expect(net.paramCount()).toBe(20);
  });

  it('GRU and LSTM (unrolled primitives and fused nodes) match a JS reference', async () => {
    for (const [Cell, ref, gates] of [
      [GRU, gruLastState, 3],
      [LSTM, lstmLastState, 4],
    ] as const) {
      for (const fused of [false, true]) {
        const layer = new Cell({ units: 5, fused });
        const { model, x, y } = await single(layer, [6, 3], 3, 8);
        const prefix = Cell === GRU ? 'gru_1' : 'lstm_1';
        const want = ref(
          x,
          f32(init(model, `${prefix}.W`)),
          f32(init(model, `${prefix}.R`)),
          f32(init(model, `${prefix}.B`)),
          5,
        );
        expectClose(y, { dims: [3, 5], data: want });
        expect(model.graph.nodes.some((n) => n.opType === 'GRU' || n.opType === 'LSTM')).toBe(fused);
        expect(layer.paramCount([[6, 3]])).toBe(gates * 5 * (3 + 5 + 2));
      }
    }
  });

  it('bidirectional GRU with returnSequences: unrolled equals fused', async () => {
    const net = (fused: boolean) =>
      new Sequential([4, 3], [new GRU({ units: 2, bidirectional: true, returnSequences: true, fused })]);
    const x = { dtype: 'float32' as const, dims: [2, 4, 3], data: randomData(24, 9) };
    const a = await run(net(false).build({ seed: 3 }), { input: x });
    const b = await run(net(true).build({ seed: 3 }), { input: x });
    expect(a.dims).toEqual([2, 4, 4]);
    expectClose(a, { dims: b.dims, data: b.data as Float32Array });
  });
});

describe('nn networks', () => {
  it('same seed, same weights; different seed, different weights', () => {
    const net = new Sequential([1, 8, 8], [new Conv2d({ filters: 2, kernel: 3 }), new Flatten(), new Dense(3)]);
    const w = (seed: number) => Array.from(f32(init(net.build({ seed }), 'conv2d_1.weight')));
    expect(w(7)).toEqual(w(7));
    expect(w(7)).not.toEqual(w(8));
  });

  it('He and Glorot initializers have their documented spread', () => {
    const std = (name: 'he-normal' | 'glorot-uniform') => {
      const m = new Sequential([400], [new Dense({ units: 300, kernelInit: name })]).build({ seed: 1 });
      const v = f32(init(m, 'dense_1.weight'));
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      return Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
    };
    expect(std('he-normal')).toBeCloseTo(Math.sqrt(2 / 400), 3);
    // U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) has std a / sqrt(3)
    expect(std('glorot-uniform')).toBeCloseTo(Math.sqrt(6 / 700) / Math.sqrt(3), 3);
  });

  it('float initializers are the parameters (plus the dropout ratio, which training rewrites away); fixed constants are Constant nodes', () => {
    const net = new Sequential(
      [2, 6, 6],
      [
        new Standardize({ mean: [0.5, 0.1], std: [0.2, 0.3] }),
        new Conv2d({ filters: 2, kernel: 3 }),
        new BatchNorm(),
        new ReLU6(),
        new GELU(),
        new GELU('erf'),
        new Dropout(0.1),
        new Reshape([2, 16]),
        new GRU({ units: 3 }),
        new Dense(2),
      ],
    );
    const floats = net
      .build({ seed: 1 })
      .graph.initializers.filter((t) => t.dtype === 'float32')
      .map((t) => t.name);
    expect(
      floats.every((n) => /\.(weight|bias|running_mean|running_var|W|R|B)$/.test(n) || n.startsWith('dropout_ratio')),
      floats.join(', '),
    ).toBe(true);
    // + 1: the dropout ratio scalar
    expect(net.paramCount() + 1).toBe(
      net
        .build({ seed: 1 })
        .graph.initializers.filter((t) => t.dtype === 'float32')
        .reduce((a, t) => a + t.data.length, 0),
    );
  });

  it('shape errors name the layer and the shapes', () => {
    expect(() => new Sequential([1, 4, 4], [new Conv2d({ filters: 2, kernel: 5 })])).toThrow(/conv2d.*does not fit/);
    expect(() => new Sequential([8], [new Conv2d({ filters: 2, kernel: 3 })])).toThrow(/E_SHAPE|expects \[channels/);
    expect(() => new Add().apply([input([3], { name: 'p' }), input([4], { name: 'q' })])).toThrow(/differ in shape/);
  });

  it('summary lists output shapes and parameter counts', () => {
    const net = new Sequential(
      [1, 28, 28],
      [new Conv2d({ filters: 8, kernel: 3, name: 'stem' }), new ReLU(), new Flatten(), new Dense(10)],
    );
    const text = net.summary();
    expect(text).toMatch(/stem\s+conv2d\s+\[batch, 8, 26, 26\]\s+80/);
    expect(text).toMatch(/dense_1\s+dense\s+\[batch, 10\]\s+54,090/);
    expect(text).toMatch(/total parameters: 54,170/);
  });
});

/** erf by Abramowitz & Stegun 7.1.26 (max error 1.5e-7). */
function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}
