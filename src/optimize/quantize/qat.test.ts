import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFashionMnist } from '../../data/sources/fashion-mnist.ts';
import { GraphBuilder, makeModel } from '../../onnx/builder.ts';
import { loadModel } from '../../onnx/io.ts';
import { Session } from '../../runtime/index.ts';
import { buildGradientModel } from '../../train/index.ts';
import { FIXTURE_MODELS_DIR } from '../../../test/fixtures/index.ts';
import { calibrate } from './calibrate.ts';
import { calibrationFromSplit } from './calibration-data.ts';
import { executedOps } from './executed-ops.ts';
import { roundHalfEven } from './common.ts';
import { insertFakeQuant, quantizeAwareTraining } from './qat.ts';
import { calibrationTensors, planForOnnxRuntime, planStatic, quantizeStaticCalibrated } from './static.ts';
import { accuracy, cosineSimilarity, runAll } from '../../../test/optimize/quantize-models.ts';

const TRAINED = join(FIXTURE_MODELS_DIR, 'seed_cnn_fmnist.onnx');
const SHAPE = [1, 28, 28];

describe('quantization-aware training', () => {
  it('fake quantization has the straight-through gradient: identity inside the range, zero outside', async () => {
    // y = MatMul(x, w) with the output fake-quantized; ranges chosen so some outputs saturate
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [4, 3]);
    const w = b.initializer('w', 'float32', [3, 2], [0.5, -1, 1.5, 0.25, -0.75, 2]);
    b.output(b.op('MatMul', [x, w]), 'float32', [4, 2]);
    const m = makeModel(b.graph, { opset: 17 });
    const plan = planStatic(m, { perChannel: false });
    const out = m.graph.outputs[0]!.name;
    const ranges = { x: { min: -2, max: 2 }, [out]: { min: -1, max: 1 } };
    const fq = insertFakeQuant(m, plan, ranges, { perChannel: false });
    const gm = await buildGradientModel(fq.model, ['x']);
    const s = await Session.create(gm.model);
    const xv = Float32Array.from([0.1, 0.2, -0.3, 1, 1, 1, -0.2, 0.05, 0.1, 0.3, -0.4, 0.2]);
    const dy = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const feeds = {
      x: { dtype: 'float32' as const, dims: [4, 3], data: xv },
      [gm.seedInputs.get(out)!.input]: { dtype: 'float32' as const, dims: [4, 2], data: dy },
    };
    const res = await s.run(feeds);
    const dx = res[gm.gradOutputs.get('x')!]!.data as Float32Array;
    const y = res[out]!.data as Float32Array;
    // expected: dy masked where the (fake-quantized) output left [-1, 1], times the fake-quantized w^T
    // ONNX Round and QuantizeLinear round half to even
    const fqv = (v: number, sc: number, z: number, lo: number, hi: number) =>
      (Math.min(hi, Math.max(lo, roundHalfEven(v / sc) + z)) - z) * sc;
    const wv = [0.5, -1, 1.5, 0.25, -0.75, 2];
    const ws = 2 / 127; // per-tensor symmetric: max|w| / 127
    const wq = wv.map((v) => fqv(v, ws, 0, -127, 127));
    const xs = 4 / 255;
    const xz = Math.round(2 / xs); // affine uint8 over [-2, 2]
    for (let i = 0; i < 4; i++) {
      const xq = [0, 1, 2].map((k) => fqv(xv[i * 3 + k]!, xs, xz, 0, 255));
      const pre = [0, 1].map((j) => [0, 1, 2].reduce((a, k) => a + xq[k]! * wq[k * 2 + j]!, 0));
      const g = pre.map((p, j) => (p >= -1 && p <= 1 ? dy[i * 2 + j]! : 0));
      for (let k = 0; k < 3; k++) expect(dx[i * 3 + k]).toBeCloseTo(g[0]! * wq[k * 2]! + g[1]! * wq[k * 2 + 1]!, 4);
      // forward: outputs are on the quantization grid of [-1, 1]
      for (let j = 0; j < 2; j++) expect(Math.abs(y[i * 2 + j]!)).toBeLessThanOrEqual(1 + 1e-6);
    }
    // some outputs saturate, so the mask is really exercised
    expect(dx.some((v) => v === 0) || Array.from(y).some((v) => Math.abs(v) > 0.99)).toBe(true);
    expect(fq.constants.length).toBeGreaterThan(0);
  });

  it('the fake-quantized forward matches the exported int8 model', async () => {
    const ds = loadFashionMnist({ train: 128, test: 32 });
    const m = loadModel(TRAINED);
    const calib = calibrationFromSplit(m, ds.train, SHAPE, 128, 'fmnist');
    const { model: arranged, plan } = planForOnnxRuntime(m);
    const cal = await calibrate(arranged, calibrationTensors(plan), calib, { method: 'minmax' });
    const fq = insertFakeQuant(arranged, plan, cal.ranges);
    const int8 = await quantizeStaticCalibrated(m, calib, { method: 'minmax' });
    const cos = cosineSimilarity(await runAll(fq.model, ds.test.x, SHAPE), await runAll(int8.model, ds.test.x, SHAPE));
    expect(cos).toBeGreaterThan(0.9999);
  });
});

describe.skipIf(!existsSync(TRAINED))('QAT on the trained seed CNN', () => {
  it('fine-tunes with fake quantization and exports an int8 model that keeps accuracy', async () => {
    const ds = loadFashionMnist({ train: 2048, test: 1000 });
    const m = loadModel(TRAINED);
    const calib = calibrationFromSplit(m, ds.train, SHAPE, 256, 'fmnist');
    const res = await quantizeAwareTraining(m, calib, {
      method: 'minmax',
      train: ds.train,
      sampleShape: SHAPE,
      steps: 30,
      threads: 1,
    });
    const fp32 = await accuracy(m, ds.test, SHAPE);
    const qat = await accuracy(res.model, ds.test, SHAPE);
    console.log(`QAT (30 steps): float ${fp32} -> qat int8 ${qat}; ${JSON.stringify(res.report.qat)}`);
    expect(res.report.mode).toBe('qat');
    // at most 5 of the 1,000 test images lost (compared in images: 0.005 is not exact in floating point)
    expect(Math.round((fp32 - qat) * ds.test.count)).toBeLessThanOrEqual(5);
    // the 1-channel first conv stays float (minReductionDepth), the second runs int8
    expect((await executedOps(res.model)).ops.QLinearConv).toBe(1);
    // the weights really changed: the int8 weights differ from those of static quantization
    const st = await quantizeStaticCalibrated(m, calib, { method: 'minmax' });
    const q = (model: typeof m) =>
      model.graph.initializers.find((t) => t.name === 'net.7.weight_quantized')!.data as Int8Array;
    let changed = 0;
    const a = q(res.model);
    const b = q(st.model);
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) changed++;
    expect(changed).toBeGreaterThan(0);
  });
});
