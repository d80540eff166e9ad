import { describe, expect, it } from 'vitest';
import { rng } from '../../data/dataset.ts';
import { loadFashionMnist } from '../../data/sources/fashion-mnist.ts';
import { GraphBuilder, makeModel } from '../../onnx/builder.ts';
import { decodeModel, encodeModel } from '../../onnx/codec.ts';
import { Session } from '../../runtime/index.ts';
import { packBits, quantizeWeightBits, quantizeWeightCodes, unpackBits } from './weight-bits.ts';
import { buildSeedCnn, cosineSimilarity, runAll } from '../../../test/optimize/quantize-models.ts';

describe('bit packing', () => {
  it('packBits/unpackBits round-trip every width 2..8 (odd counts too)', () => {
    const next = rng(9);
    for (let bits = 2; bits <= 8; bits++) {
      const codes = Uint8Array.from({ length: 37 }, () => Math.floor(next() * 2 ** bits));
      const packed = packBits(codes, bits);
      expect(packed.length).toBe(Math.ceil(37 / 8) * bits);
      expect(unpackBits(packed, bits, 37)).toEqual(codes);
    }
  });

  it('fixed-point scheme is round(w·2^b)/2^b with clipping to the b-bit range', () => {
    const q = quantizeWeightCodes(Float32Array.of(0.1, -0.3, 0.49, 0.9), [4], 4, 'fixed-point', undefined);
    const deq = Array.from(q.codes, (c) => (c - q.zero[0]!) * q.scale[0]!);
    expect(deq.slice(0, 3)).toEqual([Math.round(0.1 * 16) / 16, Math.round(-0.3 * 16) / 16, 7 / 16]);
    expect(deq[3]).toBe(7 / 16); // 0.9 clipped to the top code
    expect(q.clipped).toBe(2);
  });
});

describe('weight-only n-bit quantization', () => {
  it('onnxruntime unpacks the stored weights exactly, for every width and both schemes', async () => {
    // y = I · W_dequantized reveals the weights onnxruntime reconstructs from the packed storage
    const K = 6;
    const N = 7;
    const next = rng(4);
    const w = Float32Array.from({ length: K * N }, () => next() * 2 - 1);
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [K, K]);
    b.output(b.op('MatMul', [x, b.initializer('w', 'float32', [K, N], w)]), 'float32');
    const m = makeModel(b.graph, { opset: 13 });
    const eye = new Float32Array(K * K);
    for (let i = 0; i < K; i++) eye[i * K + i] = 1;
    for (const scheme of ['affine', 'fixed-point'] as const) {
      for (let bits = 2; bits <= 8; bits++) {
        const res = quantizeWeightBits(m, { bits, scheme });
        const s = await Session.create(decodeModel(encodeModel(res.model)));
        const y = Object.values(await s.run({ x: { dtype: 'float32', dims: [K, K], data: eye } }))[0]!
          .data as Float32Array;
        const q = quantizeWeightCodes(w, [K, N], bits, scheme, scheme === 'affine' ? 1 : undefined);
        const expected = Array.from(
          q.codes,
          (c, i) => (c - q.zero[scheme === 'affine' ? i % N : 0]!) * q.scale[scheme === 'affine' ? i % N : 0]!,
        );
        for (let i = 0; i < y.length; i++) expect(y[i]).toBeCloseTo(expected[i]!, 6);
        if (scheme === 'affine') {
          const maxErr = Math.max(...Array.from(w, (v, i) => Math.abs(v - y[i]!)));
          expect(maxErr).toBeLessThanOrEqual((Math.max(...q.scale) / 2) * 1.0001);
        }
      }
    }
  });

  it('the file shrinks with the width (≈ bits/32 of the weights) and the seed CNN stays close', async () => {
    const ds = loadFashionMnist({ train: 0, test: 32 });
    const m = buildSeedCnn(8);
    const ref = await runAll(m, ds.test.x, [1, 28, 28]);
    let prev = 0;
    for (const bits of [2, 3, 4, 5, 6, 7, 8]) {
      const res = quantizeWeightBits(m, { bits });
      const ratio = res.report.bytes_out / res.report.bytes_in;
      expect(ratio).toBeLessThan(bits / 32 + 0.02);
      expect(ratio).toBeGreaterThan(prev);
      prev = ratio;
      const cos = cosineSimilarity(ref, await runAll(res.model, ds.test.x, [1, 28, 28]));
      if (bits >= 4) expect(cos).toBeGreaterThan(0.98);
    }
  });

  it('uses ONNX UINT4 storage for 4 bits when the opset has it, and still runs', async () => {
    const m = buildSeedCnn(8);
    m.opsetImports[0]!.version = 21;
    const res = quantizeWeightBits(m, { bits: 4 });
    expect(res.report.storage).toBe('uint4');
    expect(res.model.graph.initializers.some((t) => t.dtype === 'uint4')).toBe(true);
    const out = await runAll(res.model, new Float32Array(784).fill(0.3), [1, 28, 28]);
    expect(out.length).toBe(10);
  });

  it('rejects widths outside 2..8', () => {
    expect(() => quantizeWeightBits(buildSeedCnn(1), { bits: 1 })).toThrow(/--bits must be an integer from 2 to 8/);
    expect(() => quantizeWeightBits(buildSeedCnn(1), { bits: 9 })).toThrow(/from 2 to 8/);
  });
});
