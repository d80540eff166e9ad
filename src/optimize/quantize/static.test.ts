import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFashionMnist } from '../../data/sources/fashion-mnist.ts';
import type { Dataset } from '../../data/dataset.ts';
import { encodeModel } from '../../onnx/codec.ts';
import { GraphBuilder, makeModel } from '../../onnx/builder.ts';
import { loadModel } from '../../onnx/io.ts';
import type { Model, Tensor } from '../../onnx/ir.ts';
import { FIXTURE_MODELS_DIR } from '../../../test/fixtures/index.ts';
import { writeNpy } from '../../data/npy.ts';
import { calibrationFromDataset, calibrationFromSplit, randomCalibration } from './calibration-data.ts';
import { executedOps } from './executed-ops.ts';
import { planForOnnxRuntime, planStatic, quantizeStatic, quantizeStaticCalibrated } from './static.ts';
import {
  accuracy,
  buildSeedCnn,
  cosineSimilarity,
  HOST_INT8_SATURATES,
  runAll,
} from '../../../test/optimize/quantize-models.ts';

/** DESIGN.md targets for static int8 on the seed CNN. */
const MAX_BYTES_RATIO = 0.27;
const MAX_ACCURACY_DROP = 0.005;
/** Closeness required of int8 outputs (issue 4: cosine similarity >= 0.99). */
const MIN_COSINE = 0.99;
const SHAPE = [1, 28, 28];
const TRAINED = join(FIXTURE_MODELS_DIR, 'seed_cnn_fmnist.onnx');

let ds: Dataset;
beforeAll(() => {
  ds = loadFashionMnist({ train: 256, test: 1000 });
});

function initializer(m: Model, name: string): Tensor {
  const t = m.graph.initializers.find((i) => i.name === name);
  if (!t) throw new Error(`no initializer ${name}`);
  return t;
}

describe('static int8 (QDQ) on the seed CNN', () => {
  it('random-weight seed CNN: outputs stay close (cosine >= 0.99), for both Gemm weight layouts', async () => {
    for (const transB of [1, 0] as const) {
      const m = buildSeedCnn(7, { transB });
      const before = encodeModel(m);
      const res = await quantizeStaticCalibrated(m, calibrationFromSplit(m, ds.train, SHAPE, 128, 'fmnist'), {
        method: 'minmax',
      });
      // pure: input untouched (byte for byte; toEqual would walk the ~490 kB one element at a time)
      expect(Buffer.compare(encodeModel(m), before)).toBe(0);
      const x = ds.test.x.subarray(0, 64 * 784);
      const cos = cosineSimilarity(await runAll(m, x, SHAPE), await runAll(res.model, x, SHAPE));
      expect(cos).toBeGreaterThanOrEqual(MIN_COSINE);
      // per-channel scales along the output axis: one per output unit whatever the layout
      const gemmScales = res.model.graph.initializers.filter((t) => /^dense_w.*_scale$/.test(t.name));
      expect(gemmScales.map((t) => t.dims)).toEqual([[64], [10]]);
    }
  });

  it('biases are int32 with scale = input scale × per-channel weight scale', async () => {
    const m = buildSeedCnn(3);
    // every Conv quantized (the first, 1-channel one would otherwise stay float: see minReductionDepth)
    const res = await quantizeStaticCalibrated(m, randomCalibration(m, 8), {
      method: 'minmax',
      prepare: false,
      minReductionDepth: 0,
    });
    const q = res.model;
    const dqOfBias = q.graph.nodes.find((n) => n.opType === 'DequantizeLinear' && n.inputs[0] === 'conv_b_quantized')!;
    const conv = q.graph.nodes.find((n) => n.opType === 'Conv' && n.inputs[2] === dqOfBias.outputs[0])!;
    expect(initializer(q, 'conv_b_quantized').dtype).toBe('int32');
    const bscale = initializer(q, dqOfBias.inputs[1]!).data as Float32Array;
    const wdq = q.graph.nodes.find((n) => n.outputs[0] === conv.inputs[1])!;
    const wscale = initializer(q, wdq.inputs[1]!).data as Float32Array;
    const xdq = q.graph.nodes.find((n) => n.outputs[0] === conv.inputs[0])!;
    const xscale = (initializer(q, xdq.inputs[1]!).data as Float32Array)[0]!;
    expect(wscale.length).toBe(32);
    for (let c = 0; c < 32; c++) expect(bscale[c]).toBeCloseTo(xscale * wscale[c]!, 9);
    expect(wdq.attributes.axis).toMatchObject({ value: 0 });
  });

  it('ops onnxruntime cannot run in int8 stay float and are reported with a reason', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [8, 16]);
    const w = b.initializer(
      'w',
      'float32',
      [16, 8],
      Array.from({ length: 128 }, (_, i) => Math.sin(i)),
    );
    const h = b.op('Sigmoid', [b.op('MatMul', [x, w])]);
    const y = b.op('Softmax', [
      b.op(
        'Gemm',
        [
          h,
          b.initializer(
            'w2',
            'float32',
            [8, 4],
            Array.from({ length: 32 }, (_, i) => Math.cos(i)),
          ),
        ],
        { transA: 1 },
      ),
    ]);
    b.output(y, 'float32');
    const m = makeModel(b.graph, { opset: 17 });
    const res = await quantizeStaticCalibrated(m, randomCalibration(m, 8), { method: 'minmax' });
    const reasons = Object.fromEntries(res.report.skipped.map((s) => [s.op, s.reason]));
    expect(reasons.Sigmoid).toMatch(/no int8 QDQ kernel/);
    expect(reasons.Softmax).toMatch(/no int8 QDQ kernel/);
    expect(reasons.Gemm).toMatch(/transA/);
    expect(res.report.quantized_ops).toEqual({ MatMul: 1 });
    // still loads and runs
    const out = await runAll(res.model, new Float32Array(8 * 16).fill(0.5), [16], 8);
    expect(out.length).toBe(32);
  });

  it('int8 activations and a folder of x.npy as calibration data work too', async () => {
    const m = buildSeedCnn(9);
    const dir = mkdtempSync(join(tmpdir(), 'verge-calib-'));
    try {
      const n = 64;
      writeNpy(join(dir, 'x.npy'), { dtype: 'float32', shape: [n, 1, 28, 28], data: ds.train.x.slice(0, n * 784) });
      writeNpy(join(dir, 'y.npy'), {
        dtype: 'int64',
        shape: [n],
        data: BigInt64Array.from(ds.train.y.subarray(0, n), (v) => BigInt(v)),
      });
      const data = await calibrationFromDataset(m, dir, n);
      expect(data.samples).toBeLessThanOrEqual(n);
      const res = await quantizeStaticCalibrated(m, data, {
        method: 'percentile',
        activationType: 'int8',
        minReductionDepth: 0,
        reduceRange: HOST_INT8_SATURATES,
      });
      expect(res.model.graph.initializers.find((t) => t.name === 'input_zero_point')?.dtype).toBe('int8');
      const x = ds.test.x.subarray(0, 32 * 784);
      expect(cosineSimilarity(await runAll(m, x, SHAPE), await runAll(res.model, x, SHAPE))).toBeGreaterThanOrEqual(
        MIN_COSINE,
      );
      expect((await executedOps(res.model)).ops.QLinearConv).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('moves a Relu behind the MaxPool after a float Conv without changing any output', async () => {
    const m = buildSeedCnn(5);
    const { model: arranged, plan } = planForOnnxRuntime(m);
    expect(arranged).not.toBe(m);
    const ops = (g: Model) => g.graph.nodes.map((n) => n.opType);
    expect(ops(m).slice(0, 3)).toEqual(['Conv', 'Relu', 'MaxPool']);
    expect(ops(arranged).slice(0, 3)).toEqual(['Conv', 'MaxPool', 'Relu']);
    expect(plan.notes.some((n) => n.includes('moved behind MaxPool'))).toBe(true);
    // the pooled tensor keeps its name, so calibrated ranges and consumers still match
    expect(arranged.graph.nodes[2]!.outputs[0]).toBe(m.graph.nodes[2]!.outputs[0]);
    const x = ds.test.x.subarray(0, 16 * 784);
    const a = await runAll(m, x, SHAPE);
    const b = await runAll(arranged, x, SHAPE);
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 5);
    // nothing to move when every Conv is quantized (the Relu folds into the first QLinearConv)
    expect(planForOnnxRuntime(m, { minReductionDepth: 0 }).model).toBe(m);
  });

  it('reduceRange quantizes weights to 7 bits (±63) and says so in the report', async () => {
    const m = buildSeedCnn(3);
    const calib = calibrationFromSplit(m, ds.train, SHAPE, 64, 'fmnist');
    const full = await quantizeStaticCalibrated(m, calib, { method: 'minmax', minReductionDepth: 0 });
    const reduced = await quantizeStaticCalibrated(m, calib, {
      method: 'minmax',
      minReductionDepth: 0,
      reduceRange: true,
    });
    const weightRange = (r: typeof full) =>
      Math.max(
        ...r.model.graph.initializers
          .filter((t) => t.dtype === 'int8' && t.name.endsWith('_quantized'))
          .flatMap((t) => Array.from(t.data as Int8Array, Math.abs)),
      );
    expect(weightRange(full)).toBe(127);
    expect(weightRange(reduced)).toBe(63);
    expect(full.report.weight_range).toBe('±127');
    expect(reduced.report.weight_range).toBe('±63');
    const x = ds.test.x.subarray(0, 32 * 784);
    expect(cosineSimilarity(await runAll(m, x, SHAPE), await runAll(reduced.model, x, SHAPE))).toBeGreaterThanOrEqual(
      MIN_COSINE,
    );
  });

  it('a negative minimum reduction depth is refused', () => {
    expect(() => planStatic(buildSeedCnn(1), { minReductionDepth: -1 })).toThrow(/reduction depth must be >= 0/);
  });

  it('a missing calibrated range is a clear error', () => {
    const m = buildSeedCnn(1);
    expect(() => quantizeStatic(m, {})).toThrow(/no calibrated range for tensor '/);
    expect(planStatic(m).tensors.size).toBeGreaterThan(0);
  });
});

describe.skipIf(!existsSync(TRAINED))('static int8 on the trained seed CNN fixture (Fashion-MNIST)', () => {
  it('≤ 0.27× bytes, ≤ 0.5 pt accuracy drop on 1,000 test images, and onnxruntime runs int8 kernels', async () => {
    const m = loadModel(TRAINED);
    const fp32 = await accuracy(m, ds.test, SHAPE);
    const res = await quantizeStaticCalibrated(m, calibrationFromSplit(m, ds.train, SHAPE, 256, 'fmnist'), {
      method: 'minmax',
    });
    const int8 = await accuracy(res.model, ds.test, SHAPE);
    const ratio = res.report.bytes_out / res.report.bytes_in;
    console.log(`static int8 seed CNN: accuracy ${fp32} -> ${int8} (1,000 test), bytes ratio ${ratio.toFixed(4)}`);
    expect(fp32).toBeGreaterThan(0.85);
    expect(fp32 - int8).toBeLessThanOrEqual(MAX_ACCURACY_DROP);
    expect(ratio).toBeLessThanOrEqual(MAX_BYTES_RATIO);
    // the 1-channel 3×3 first layer (reduction depth 9) stays float, everything after it is int8
    expect(res.report.skipped.filter((s) => s.op === 'Conv')).toEqual([
      expect.objectContaining({ node: '/net/net.0/Conv', reason: expect.stringMatching(/reduction depth 9/) }),
    ]);
    expect(res.report.quantized_ops).toMatchObject({ Conv: 1, Gemm: 2, MaxPool: 1 });
    const k = await executedOps(res.model);
    expect(k.ops.QLinearConv).toBe(1);
    expect(k.ops.QGemm).toBe(2);
    expect(k.float_compute_kernels).toBe(1);
    // with the Relu moved behind the first pool, onnxruntime quantizes once, after that pool
    expect((res.report.notes as string[]).join('\n')).toMatch(/moved behind MaxPool/);
    expect(k.ops.QuantizeLinear).toBe(1);

    // minReductionDepth 0: every Conv in int8 (kept for users who want the smallest numerics change);
    // 7-bit weights where onnxruntime's int8 kernels saturate (the 1-channel first layer's uint8 input
    // with 8-bit weights lost 1.2 pt on the AVX2-only session-10 machine)
    const all = await quantizeStaticCalibrated(m, calibrationFromSplit(m, ds.train, SHAPE, 256, 'fmnist'), {
      method: 'minmax',
      minReductionDepth: 0,
      reduceRange: HOST_INT8_SATURATES,
    });
    expect(all.report.skipped).toEqual([]);
    const ka = await executedOps(all.model);
    expect(ka.ops.QLinearConv).toBe(2);
    expect(ka.float_compute_kernels).toBe(0);
    expect(fp32 - (await accuracy(all.model, ds.test, SHAPE))).toBeLessThanOrEqual(MAX_ACCURACY_DROP);
  });

  it('percentile and entropy calibration also stay within 1 pt', async () => {
    const m = loadModel(TRAINED);
    const fp32 = await accuracy(m, ds.test, SHAPE);
    for (const method of ['percentile', 'entropy'] as const) {
      const res = await quantizeStaticCalibrated(m, calibrationFromSplit(m, ds.train, SHAPE, 256, 'fmnist'), {
        method,
      });
      const acc = await accuracy(res.model, ds.test, SHAPE);
      console.log(`static int8 ${method}: accuracy ${fp32} -> ${acc}`);
      expect(fp32 - acc).toBeLessThanOrEqual(0.01);
      expect(res.report.calibration).toMatchObject({ method, samples: 256 });
    }
  });
});
