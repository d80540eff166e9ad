import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFashionMnist } from '../../data/sources/fashion-mnist.ts';
import { float, GraphBuilder, makeModel } from '../../onnx/builder.ts';
import { encodeModel } from '../../onnx/codec.ts';
import { loadModel } from '../../onnx/io.ts';
import { FIXTURE_MODELS_DIR } from '../../../test/fixtures/index.ts';
import { float32Data } from './common.ts';
import { quantizeDynamic } from './dynamic.ts';
import { executedOps } from './executed-ops.ts';
import { accuracy, buildSeedCnn, cosineSimilarity, runAll } from '../../../test/optimize/quantize-models.ts';

const MIN_COSINE = 0.99;
const SHAPE = [1, 28, 28];
const TRAINED = join(FIXTURE_MODELS_DIR, 'seed_cnn_fmnist.onnx');

describe('dynamic int8', () => {
  it('seed CNN (both Gemm layouts, per-channel and per-tensor) stays close to float', async () => {
    const ds = loadFashionMnist({ train: 0, test: 64 });
    for (const transB of [1, 0] as const) {
      const m = buildSeedCnn(11, { transB });
      const before = encodeModel(m);
      const ref = await runAll(m, ds.test.x, SHAPE);
      for (const perChannel of [true, false]) {
        const res = quantizeDynamic(m, { perChannel });
        expect(res.report.quantized_ops).toEqual({ Conv: 2, Gemm: 2 });
        expect(cosineSimilarity(ref, await runAll(res.model, ds.test.x, SHAPE))).toBeGreaterThanOrEqual(MIN_COSINE);
      }
      // input untouched, byte for byte (toEqual would walk the ~490 kB one element at a time)
      expect(Buffer.compare(encodeModel(m), before)).toBe(0);
    }
  });

  it('onnxruntime runs integer kernels (ConvInteger, fused DynamicQuantizeMatMul)', async () => {
    const res = quantizeDynamic(buildSeedCnn(2));
    const k = await executedOps(res.model);
    expect(k.ops.ConvInteger).toBe(2);
    expect(k.ops.DynamicQuantizeMatMul).toBe(2);
    expect(k.float_compute_kernels).toBe(0);
    expect(res.report.bytes_out / res.report.bytes_in).toBeLessThan(0.27);
  });

  it('Gemm alpha/beta and a MatMul are folded in correctly', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 12]);
    const w = b.initializer(
      'w',
      'float32',
      [12, 6],
      Array.from({ length: 72 }, (_, i) => Math.sin(i * 0.7)),
    );
    const c = b.initializer('c', 'float32', [6], [0.1, -0.2, 0.3, 0.4, -0.5, 0.6]);
    const h = b.op('Gemm', [x, w, c], { alpha: 0.5, beta: float(2) });
    const w2 = b.initializer(
      'w2',
      'float32',
      [6, 3],
      Array.from({ length: 18 }, (_, i) => Math.cos(i)),
    );
    b.output(b.op('MatMul', [h, w2]), 'float32');
    const m = makeModel(b.graph, { opset: 17 });
    const x0 = Float32Array.from({ length: 5 * 12 }, (_, i) => Math.sin(i * 1.3));
    const res = quantizeDynamic(m);
    expect(res.report.quantized_ops).toEqual({ Gemm: 1, MatMul: 1 });
    expect(cosineSimilarity(await runAll(m, x0, [12]), await runAll(res.model, x0, [12]))).toBeGreaterThanOrEqual(
      MIN_COSINE,
    );
  });

  it('per channel, one scale per output unit of the weight the integer op reads (onnx/weights.ts)', () => {
    // y [., N=3] from x [., K=5]: Gemm with transB stores B [N, K] and is rewritten to MatMulInteger
    // over B transposed to [K, N]; MatMul stores B [K, N]; Conv W is [M, C, k, k]. Each scale is
    // the max |w| of its unit / 127 — a scale per K row (the wrong axis) would differ in count and value.
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 5]);
    const rows = [
      [1, -2, 0.5, 0, 0.25],
      [0.1, 0.2, -0.3, 0.4, 0.05],
      [6, 0, 0, 0, -1],
    ]; // [N, K]
    const wNK = b.initializer('w_nk', 'float32', [3, 5], rows.flat());
    const wKN = b.initializer(
      'w_kn',
      'float32',
      [5, 3],
      [0, 1, 2, 3, 4].flatMap((k) => rows.map((r) => r[k]!)),
    );
    b.output(b.op('Gemm', [x, wNK], { transB: 1 }), 'float32');
    b.output(b.op('MatMul', [x, wKN]), 'float32');
    const img = b.input('img', 'float32', ['batch', 2, 4, 4]);
    const wc = b.initializer('wc', 'float32', [3, 2, 1, 1], [1, -4, 0.5, 0.5, 2, 3]);
    b.output(b.op('Conv', [img, wc]), 'float32');
    const res = quantizeDynamic(makeModel(b.graph, { opset: 17 }), { perChannel: true });
    expect(res.report.quantized_ops).toEqual({ Gemm: 1, MatMul: 1, Conv: 1 });
    const scale = (name: string) => {
      const t = res.model.graph.initializers.find((i) => i.name === `${name}_scale`)!;
      return { dims: t.dims, data: [...float32Data(t)!] };
    };
    const perUnit = [2, 0.4, 6].map((m) => Math.fround(m / 127));
    for (const w of ['w_nk', 'w_kn']) {
      expect(scale(w).dims).toEqual([3]);
      expect(scale(w).data).toEqual(perUnit.map((v) => expect.closeTo(v, 9)));
    }
    expect(scale('wc').dims).toEqual([1, 3, 1, 1]);
    expect(scale('wc').data).toEqual([4, 0.5, 3].map((m) => expect.closeTo(m / 127, 9)));
  });

  it('reports what it cannot quantize', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [4, 4]);
    const y = b.input('y', 'float32', [4, 4]);
    b.output(b.op('MatMul', [x, y]), 'float32');
    const res = quantizeDynamic(makeModel(b.graph, { opset: 17 }));
    expect(res.report.quantized_nodes).toBe(0);
    expect(res.report.skipped[0]).toMatchObject({ op: 'MatMul', reason: expect.stringMatching(/not a constant/) });
  });
});

describe.skipIf(!existsSync(TRAINED))('dynamic int8 on the trained seed CNN', () => {
  it('accuracy drop on 1,000 Fashion-MNIST test images stays within 0.5 pt', async () => {
    const ds = loadFashionMnist({ train: 0, test: 1000 });
    const m = loadModel(TRAINED);
    const fp32 = await accuracy(m, ds.test, SHAPE);
    const int8 = await accuracy(quantizeDynamic(m).model, ds.test, SHAPE);
    console.log(`dynamic int8 seed CNN: accuracy ${fp32} -> ${int8}`);
    expect(fp32 - int8).toBeLessThanOrEqual(0.005);
  });
});
