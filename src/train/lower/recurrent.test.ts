import { describe, expect, it } from 'vitest';
import { rng } from '../../data/dataset.ts';
import { GraphBuilder, makeModel } from '../../onnx/builder.ts';
import type { Model } from '../../onnx/ir.ts';
import { Session } from '../../runtime/session.ts';
import type { TensorValue } from '../../runtime/tensor.ts';
import { hasRecurrent, lowerRecurrent } from './recurrent.ts';
import { lowerRecurrentFor, transferParameters } from './parameters.ts';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../onnx/io.ts';
import { readNpy } from '../../data/npy.ts';

const FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/models');

/** Acceptance tolerance of the brief: lowered outputs equal onnxruntime's fused GRU/LSTM within 1e-5. */
const TOLERANCE = 1e-5;

interface Case {
  cell: 'GRU' | 'LSTM';
  direction: 'forward' | 'reverse' | 'bidirectional';
  lbr: 0 | 1;
  bias: boolean;
  initialH: boolean;
  initialC: boolean;
  peepholes: boolean;
  layout: 0 | 1;
  T: number;
  B: number;
  I: number;
  H: number;
  /** Model opset (default 14); 18 changes Split's signature, which the unrolled steps use. */
  opset?: number;
}

function randomArray(n: number, r: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (2 * r() - 1) * scale);
}

function recurrentModel(c: Case, seed: number): { model: Model; feeds: Record<string, TensorValue> } {
  const r = rng(seed);
  const g = new GraphBuilder();
  const nd = c.direction === 'bidirectional' ? 2 : 1;
  const G = c.cell === 'GRU' ? 3 : 4;
  const xDims = c.layout === 0 ? [c.T, c.B, c.I] : [c.B, c.T, c.I];
  const stateDims = c.layout === 0 ? [nd, c.B, c.H] : [c.B, nd, c.H];
  const feeds: Record<string, TensorValue> = {};
  const x = g.input('X', 'float32', xDims);
  feeds.X = { dtype: 'float32', dims: xDims, data: randomArray(xDims[0]! * xDims[1]! * xDims[2]!, r, 2) };
  const w = g.initializer('W', 'float32', [nd, G * c.H, c.I], randomArray(nd * G * c.H * c.I, r, 0.6));
  const rr = g.initializer('R', 'float32', [nd, G * c.H, c.H], randomArray(nd * G * c.H * c.H, r, 0.6));
  const inputs = [
    x,
    w,
    rr,
    c.bias ? g.initializer('B', 'float32', [nd, 2 * G * c.H], randomArray(nd * 2 * G * c.H, r, 0.5)) : '',
    '',
  ];
  const state = (name: string): string => {
    feeds[name] = { dtype: 'float32', dims: stateDims, data: randomArray(nd * c.B * c.H, r) };
    return g.input(name, 'float32', stateDims);
  };
  inputs.push(c.initialH ? state('initial_h') : '');
  if (c.cell === 'LSTM') {
    inputs.push(c.initialC ? state('initial_c') : '');
    inputs.push(c.peepholes ? g.initializer('P', 'float32', [nd, 3 * c.H], randomArray(nd * 3 * c.H, r, 0.5)) : '');
  }
  while (inputs[inputs.length - 1] === '') inputs.pop();
  const outputs = c.cell === 'GRU' ? ['Y', 'Y_h'] : ['Y', 'Y_h', 'Y_c'];
  const attrs: Record<string, number | string> = { hidden_size: c.H, direction: c.direction };
  if (c.cell === 'GRU') attrs.linear_before_reset = c.lbr;
  if (c.layout) attrs.layout = 1;
  g.node(c.cell, inputs, attrs, { outputs });
  for (const o of outputs) g.output(o, 'float32');
  return { model: makeModel(g.graph, { opset: c.opset ?? 14 }), feeds };
}

async function runAll(model: Model, feeds: Record<string, TensorValue>): Promise<Record<string, TensorValue>> {
  const s = await Session.create(model, { threads: 1 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

function maxDiff(a: TensorValue, b: TensorValue): number {
  expect(a.dims).toEqual(b.dims);
  let m = 0;
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

/** A configuration with every option off and small fixed sizes, plus `o`. */
function config(cell: Case['cell'], o: Partial<Omit<Case, 'cell'>> = {}): Case {
  return {
    cell,
    direction: 'forward',
    lbr: 0,
    bias: false,
    initialH: false,
    initialC: false,
    peepholes: false,
    layout: 0,
    T: 4,
    B: 2,
    I: 3,
    H: 5,
    ...o,
  };
}

/** Both settings of each optional input occur at least once per cell. */
const EXPLICIT_CASES: Case[] = [
  config('GRU', { initialH: true }),
  config('GRU', { lbr: 1, bias: true }),
  config('LSTM', { direction: 'bidirectional', bias: true, initialH: true, initialC: true, peepholes: true }),
  config('LSTM'),
  config('GRU', { direction: 'bidirectional', bias: true, opset: 18 }),
];

/** Random configurations (every direction × cell × lbr across the seeds), then EXPLICIT_CASES. */
function cases(): Case[] {
  const out: Case[] = [];
  const r = rng(2024);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  for (const cell of ['GRU', 'LSTM'] as const) {
    for (const direction of ['forward', 'reverse', 'bidirectional'] as const) {
      for (const lbr of cell === 'GRU' ? ([0, 1] as const) : ([0] as const)) {
        // property order is draw order: keep it
        out.push({
          cell,
          direction,
          lbr,
          bias: r() < 0.75,
          initialH: r() < 0.5,
          initialC: r() < 0.5,
          peepholes: r() < 0.5,
          layout: 0,
          T: pick([1, 3, 5]),
          B: pick([1, 2, 3]),
          I: pick([2, 4, 5]),
          H: pick([3, 4, 6]),
        });
      }
    }
  }
  return [...out, ...EXPLICIT_CASES];
}

/** [T, B, rest] ↔ [B, T, rest] for a float tensor (dims d0, d1 first). */
function swap01(v: TensorValue): TensorValue {
  const [d0, d1, ...more] = v.dims as [number, number, ...number[]];
  const rest = more.reduce((a, b) => a * b, 1);
  const src = v.data as Float32Array;
  const dst = new Float32Array(src.length);
  for (let a = 0; a < d0; a++)
    for (let b = 0; b < d1; b++)
      dst.set(src.subarray((a * d1 + b) * rest, (a * d1 + b + 1) * rest), (b * d0 + a) * rest);
  return { dtype: 'float32', dims: [d1, d0, ...more], data: dst };
}

describe('lowerRecurrent', () => {
  it.each(
    cases().map(
      (c, i) =>
        [
          `#${i} ${c.cell} ${c.direction} lbr=${c.lbr} bias=${c.bias} h0=${c.initialH} c0=${c.initialC} P=${c.peepholes} T=${c.T} B=${c.B} I=${c.I} H=${c.H}`,
          c,
          i,
        ] as const,
    ),
  )('%s equals onnxruntime within 1e-5', async (_label, c, i) => {
    const { model, feeds } = recurrentModel(c, 100 + i);
    const lowered = lowerRecurrent(model);
    expect(hasRecurrent(lowered)).toBe(false);
    expect(lowered.graph.nodes.every((n) => !['GRU', 'LSTM', 'Loop', 'Scan'].includes(n.opType))).toBe(true);
    expect(hasRecurrent(model)).toBe(true); // pure: the input model is untouched
    const [want, got] = await Promise.all([runAll(model, feeds), runAll(lowered, feeds)]);
    for (const name of Object.keys(want)) expect(maxDiff(got[name]!, want[name]!)).toBeLessThan(TOLERANCE);
  });

  it.each(['GRU', 'LSTM'] as const)(
    '%s: layout=1 (batch first) equals the layout-0 node on transposed data',
    async (cell) => {
      const base = config(cell, {
        direction: 'bidirectional',
        lbr: 1,
        bias: true,
        initialH: true,
        initialC: true,
        T: 3,
        B: 2,
        I: 4,
        H: 3,
      });
      const { T, B, H } = base;
      const ref = recurrentModel(base, 7);
      const batchFirst = recurrentModel({ ...base, layout: 1 }, 7);
      // Same parameters; feed batch-first data that is the transpose of the reference's.
      batchFirst.model.graph.initializers = ref.model.graph.initializers;
      const feeds: Record<string, TensorValue> = { X: swap01(ref.feeds.X!), initial_h: swap01(ref.feeds.initial_h!) };
      if (cell === 'LSTM') feeds.initial_c = swap01(ref.feeds.initial_c!);
      const want = await runAll(ref.model, ref.feeds);
      const got = await runAll(lowerRecurrent(batchFirst.model), feeds);
      // Y: [T, dirs, B, H] vs [B, T, dirs, H]; compare element by element.
      const y = want.Y!.data as Float32Array;
      const yb = got.Y!.data as Float32Array;
      expect(got.Y!.dims).toEqual([B, T, 2, H]);
      for (let t = 0; t < T; t++)
        for (let d = 0; d < 2; d++)
          for (let b = 0; b < B; b++)
            for (let h = 0; h < H; h++)
              expect(Math.abs(yb[((b * T + t) * 2 + d) * H + h]! - y[((t * 2 + d) * B + b) * H + h]!)).toBeLessThan(
                TOLERANCE,
              );
      expect(maxDiff(got.Y_h!, swap01(want.Y_h!))).toBeLessThan(TOLERANCE);
      if (cell === 'LSTM') expect(maxDiff(got.Y_c!, swap01(want.Y_c!))).toBeLessThan(TOLERANCE);
    },
  );

  it('keeps parameter names, so trained weights transfer back into the fused model', () => {
    const { model } = recurrentModel(config('GRU', { lbr: 1, bias: true, T: 2, B: 1, I: 2, H: 2 }), 1);
    const lowered = lowerRecurrent(model);
    (lowered.graph.initializers.find((t) => t.name === 'W')!.data as Float32Array).fill(0.25);
    const { model: back, copied } = transferParameters(model, lowered);
    expect(copied).toBe(3);
    expect(
      Array.from(back.graph.initializers.find((t) => t.name === 'W')!.data as Float32Array).every((v) => v === 0.25),
    ).toBe(true);
  });

  it('refuses what it cannot lower, with a clear error', () => {
    const { model } = recurrentModel(config('GRU', { bias: true, T: 2, B: 1, I: 2, H: 2 }), 1);
    const withLens = structuredClone(model);
    withLens.graph.nodes[0]!.inputs[4] = 'X';
    expect(() => lowerRecurrent(withLens)).toThrow(/sequence_lens/);
    const dynamic = structuredClone(model);
    dynamic.graph.inputs[0]!.type = { kind: 'tensor', dtype: 'float32', shape: ['seq', 'batch', 2] };
    expect(() => lowerRecurrent(dynamic)).toThrow(/E_UNSUPPORTED|fixed sequence length/);
    expect(lowerRecurrent(dynamic, { sequenceLength: 2 }).graph.nodes.some((n) => n.opType === 'GRU')).toBe(false);
  });
});

describe('lowerRecurrent for training (formulations given)', () => {
  const gruOps = (m: Model) => m.graph.nodes.filter((n) => n.opType === 'GRU').length;
  it("gru 'fused' keeps PyTorch's GRU, lowers what it does not cover; the default lowers everything", () => {
    const fused = { formulations: { gru: 'fused' as const } };
    const torchForm = recurrentModel(config('GRU', { lbr: 1, bias: true, T: 3, B: 2, I: 2, H: 2 }), 1).model;
    expect(lowerRecurrent(torchForm, fused)).toBe(torchForm);
    expect(gruOps(lowerRecurrent(torchForm, { formulations: {} }))).toBe(0);
    expect(gruOps(lowerRecurrent(torchForm))).toBe(0); // no formulations: the plain lowering pass
    const resetFirst = recurrentModel(config('GRU', { lbr: 0, bias: true, T: 3, B: 2, I: 2, H: 2 }), 1).model;
    expect(gruOps(lowerRecurrent(resetFirst, fused))).toBe(0);
    const lstm = recurrentModel(config('LSTM', { bias: true, T: 3, B: 2, I: 2, H: 2 }), 1).model;
    expect(hasRecurrent(lowerRecurrent(lstm, fused))).toBe(false);
    // A sequence length the graph does not fix (the probe's shapes fix it for the unrolling only).
    const dynamic = structuredClone(torchForm);
    dynamic.graph.inputs[0]!.type = { kind: 'tensor', dtype: 'float32', shape: ['seq', 'batch', 2] };
    expect(gruOps(lowerRecurrent(dynamic, { ...fused, sequenceLength: 3 }))).toBe(0);
  });
});

describe('lowerRecurrent on the PyTorch-exported GRU fixture', () => {
  const path = join(FIXTURE_DIR, 'gru_classifier.onnx');
  it.skipIf(!existsSync(path))('lowered model reproduces PyTorch output within 1e-5', async () => {
    const model = loadModel(path);
    const x = readNpy(join(FIXTURE_DIR, 'gru_classifier.input.npy'));
    const want = readNpy(join(FIXTURE_DIR, 'gru_classifier.output.npy'));
    const feeds = { input: { dtype: 'float32' as const, dims: x.shape, data: x.data as Float32Array } };
    const lowered = await lowerRecurrentFor(model, feeds);
    expect(hasRecurrent(lowered)).toBe(false);
    const got = (await runAll(lowered, feeds)).output!;
    expect(got.dims).toEqual(want.shape);
    const w = want.data as Float32Array;
    const g = got.data as Float32Array;
    for (let i = 0; i < w.length; i++) expect(Math.abs(g[i]! - w[i]!)).toBeLessThan(TOLERANCE);
  });
});
