import { describe, expect, it } from 'vitest';
import { loadFashionMnist } from '../../data/sources/fashion-mnist.ts';
import { float16BitsToNumber, numberToFloat16Bits } from '../../onnx/dtype.ts';
import { Session } from '../../runtime/index.ts';
import { executedOps } from './executed-ops.ts';
import { convertToFloat16, ORT_CPU_FP16_OPS } from './fp16.ts';
import { GraphBuilder, makeModel } from '../../onnx/builder.ts';
import { buildSeedCnn, cosineSimilarity, runAll } from '../../../test/optimize/quantize-models.ts';

const SHAPE = [1, 28, 28];

describe('float16', () => {
  it('halves the bytes, keeps float32 I/O, and stays close (cpu and all)', async () => {
    const ds = loadFashionMnist({ train: 0, test: 32 });
    const m = buildSeedCnn(5);
    const ref = await runAll(m, ds.test.x, SHAPE);
    for (const compute of ['cpu', 'all'] as const) {
      const res = convertToFloat16(m, { compute });
      expect(res.report.bytes_out / res.report.bytes_in).toBeLessThan(0.51);
      expect(res.model.graph.inputs[0]!.type).toMatchObject({ dtype: 'float32' });
      expect(res.model.graph.outputs[0]!.type).toMatchObject({ dtype: 'float32' });
      expect(res.model.graph.initializers.filter((t) => t.dtype === 'float32')).toEqual([]);
      const out = await runAll(res.model, ds.test.x, SHAPE);
      let maxRel = 0;
      for (let i = 0; i < ref.length; i++)
        maxRel = Math.max(maxRel, Math.abs(out[i]! - ref[i]!) / (Math.abs(ref[i]!) + 1));
      expect(maxRel).toBeLessThan(1e-2);
      expect(cosineSimilarity(ref, out)).toBeGreaterThan(0.9999);
    }
    // 'cpu': arithmetic keeps float32 and says why
    const cpu = convertToFloat16(m).report;
    expect(cpu.float32_compute).toContainEqual(
      expect.objectContaining({ op: 'Conv', reason: expect.stringMatching(/no float16 Conv kernel/) }),
    );
    expect(cpu.quantized_ops).toEqual({ Conv: 2, Gemm: 2 });
    expect(convertToFloat16(m, { compute: 'all' }).report.quantized_ops).toMatchObject({
      Conv: 2,
      Gemm: 2,
      Relu: 3,
      MaxPool: 2,
    });
  });

  it('fp16Io makes the graph take and return float16', async () => {
    const res = convertToFloat16(buildSeedCnn(5), { compute: 'all', fp16Io: true });
    const s = await Session.create(res.model);
    const x = new Uint16Array(2 * 784).fill(numberToFloat16Bits(0.5));
    const out = await s.run({ input: { dtype: 'float16', dims: [2, 1, 28, 28], data: x } });
    const y = Object.values(out)[0]!;
    expect(y.dtype).toBe('float16');
    expect(Number.isFinite(float16BitsToNumber((y.data as Uint16Array)[0]!))).toBe(true);
  });

  it('the ORT CPU float16 op table is true: those ops run without Casts, and Conv gets Casts', async () => {
    // a chain of table ops on a float16 input: onnxruntime must not insert any Cast
    const b = new GraphBuilder();
    const x = b.input('x', 'float16', [2, 3, 4]);
    const t = b.op('Transpose', [x], { perm: [0, 2, 1] });
    const r = b.op('Reshape', [t, b.constInt64([2, 12])]);
    const c = b.op('Concat', [r, r], { axis: 1 });
    b.output(b.op('Flatten', [b.op('Unsqueeze', [c, b.constInt64([0])])]), 'float16');
    const k = await executedOps(makeModel(b.graph, { opset: 17 }));
    expect(k.ops.Cast ?? 0).toBe(0);
    expect(ORT_CPU_FP16_OPS).toEqual(
      expect.arrayContaining(['Transpose', 'Reshape', 'Concat', 'Flatten', 'Unsqueeze']),
    );
    // and a float16 Conv is computed in float32 by onnxruntime (it inserts Casts), so verge keeps it float32
    const g = new GraphBuilder();
    const xi = g.input('x', 'float16', [1, 1, 4, 4]);
    g.output(
      g.op('Conv', [
        xi,
        g.initializer('w', 'float16', [1, 1, 3, 3], new Uint16Array(9).fill(numberToFloat16Bits(0.1))),
      ]),
      'float16',
    );
    expect((await executedOps(makeModel(g.graph, { opset: 17 }))).ops.Cast).toBeGreaterThan(0);
    expect(ORT_CPU_FP16_OPS).not.toContain('Conv');
  });
});
