/**
 * Test support (lives in test/, never in src): small models and measurements the quantization tests
 * share — the seed CNN of DESIGN.md with seeded random weights, cosine similarity, and
 * classification accuracy.
 */
import { rng } from '../../src/data/dataset.ts';
import type { Split } from '../../src/data/dataset.ts';
import { GraphBuilder, makeModel } from '../../src/onnx/builder.ts';
import type { Model } from '../../src/onnx/ir.ts';
import { Session } from '../../src/runtime/index.ts';
import { top1Accuracy } from '../../src/train/metrics.ts';
import { hostCpuFlags } from '../host-cpu.ts';

/** He-uniform random weights (fan-in scaled), so activations keep a sensible range through ReLUs. */
function heUniform(next: () => number, n: number, fanIn: number): Float32Array {
  const a = Math.sqrt(6 / fanIn);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = (next() * 2 - 1) * a;
  return w;
}

/**
 * DESIGN.md's seed CNN (conv 32×3×3 ReLU, maxpool 2, conv 64×3×3 ReLU, maxpool 2, flatten,
 * dense 64 ReLU, dense 10) on [batch, 1, 28, 28], random weights. `transB` chooses the dense
 * layers' weight layout (1: [out, in] as PyTorch exports; 0: [in, out]).
 */
export function buildSeedCnn(seed = 1, opts: { transB?: 0 | 1 } = {}): Model {
  const transB = opts.transB ?? 1;
  const next = rng(seed);
  const b = new GraphBuilder();
  const x = b.input('input', 'float32', ['batch', 1, 28, 28]);
  const conv = (inp: string, cin: number, cout: number) => {
    const w = b.initializer('conv_w', 'float32', [cout, cin, 3, 3], heUniform(next, cout * cin * 9, cin * 9));
    const bias = b.initializer(
      'conv_b',
      'float32',
      [cout],
      heUniform(next, cout, cin * 9).map((v) => v * 0.1),
    );
    return b.op('Relu', [b.op('Conv', [inp, w, bias], { kernel_shape: [3, 3] })]);
  };
  const pool = (inp: string) => b.op('MaxPool', [inp], { kernel_shape: [2, 2], strides: [2, 2] });
  const dense = (inp: string, nin: number, nout: number) => {
    const w = b.initializer('dense_w', 'float32', transB ? [nout, nin] : [nin, nout], heUniform(next, nin * nout, nin));
    const bias = b.initializer(
      'dense_b',
      'float32',
      [nout],
      heUniform(next, nout, nin).map((v) => v * 0.1),
    );
    return b.op('Gemm', [inp, w, bias], { transB });
  };
  let h = pool(conv(x, 1, 32));
  h = pool(conv(h, 32, 64));
  h = b.op('Flatten', [h], { axis: 1 });
  h = b.op('Relu', [dense(h, 64 * 5 * 5, 64)]);
  b.output(dense(h, 64, 10), 'float32', ['batch', 10]);
  return makeModel(b.graph, { opset: 13 });
}

export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

/** Run a single-input, single-output model over `x` ([n, ...sampleShape]) in batches; concatenated outputs. */
export async function runAll(model: Model, x: Float32Array, sampleShape: number[], batch = 250): Promise<Float32Array> {
  const s = await Session.create(model, { threads: 1 });
  try {
    const per = sampleShape.reduce((a, c) => a * c, 1);
    const n = x.length / per;
    const parts: Float32Array[] = [];
    for (let start = 0; start < n; start += batch) {
      const count = Math.min(batch, n - start);
      const out = await s.run({
        [s.inputNames[0]!]: {
          dtype: 'float32',
          dims: [count, ...sampleShape],
          data: x.slice(start * per, (start + count) * per),
        },
      });
      parts.push(out[s.outputNames[0]!]!.data as Float32Array);
    }
    const total = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      total.set(p, o);
      o += p.length;
    }
    return total;
  } finally {
    await s.release();
  }
}

/** Top-1 accuracy of a classifier on a split. */
export async function accuracy(model: Model, split: Split, sampleShape: number[]): Promise<number> {
  const logits = await runAll(model, split.x, sampleShape);
  return top1Accuracy(logits, split.y, split.count);
}

/**
 * Whether onnxruntime's fused int8 kernels saturate on this host: x86 without VNNI (AVX2 only, or
 * AVX-512 without VNNI) adds u8 × s8 product pairs in int16. Tests that measure int8 accuracy quantize
 * with `reduceRange` (7-bit weights) there, as a user deploying to such a CPU should.
 */
export const HOST_INT8_SATURATES: boolean = (() => {
  if (process.arch !== 'x64') return false;
  const flags = hostCpuFlags();
  // no flags read (not Linux): assume VNNI, as before
  return flags.length > 0 && !flags.some((f) => f === 'avx512_vnni' || f === 'avx_vnni' || f === 'amx_int8');
})();
