import { deflateSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodeUpdate, encodeUpdate, fp32UpdateBytes } from '../../protocol/fl-update.ts';
import { seededRandom } from '../random.ts';
import { decompress, parseCompression, UpdateCompressor } from './index.ts';
import { dequantizeInt8, quantizeInt8 } from './int8.ts';
import { ErrorFeedback, topK } from './topk.ts';

const ramp = (n: number, seed = 1) => {
  const r = seededRandom(seed);
  return Float32Array.from({ length: n }, () => r.normal() * 0.01);
};

describe('update compression', () => {
  it('int8 stochastic rounding is unbiased and within one step of each value', () => {
    const v = Float32Array.from([1, 0.3, -0.55, 0.001, 0]); // scale = 1/127
    const r = seededRandom(3);
    const mean = new Float64Array(v.length);
    const trials = 4000;
    for (let t = 0; t < trials; t++) {
      const d = dequantizeInt8(quantizeInt8(v, r));
      d.forEach((x, i) => {
        expect(Math.abs(x - v[i]!)).toBeLessThanOrEqual(1 / 127 + 1e-7);
        mean[i]! += x / trials;
      });
    }
    // the mean over many draws approaches the value (σ of the mean ≤ 0.5/127/√4000 ≈ 6e-5)
    mean.forEach((m, i) => expect(Math.abs(m - v[i]!)).toBeLessThan(4e-4));
    expect(dequantizeInt8(quantizeInt8(v, r))[0]).toBeCloseTo(1, 6); // the max is exact
  });

  it('int8 uploads are about a quarter of fp32', () => {
    const v = ramp(100_000);
    const bytes = new UpdateCompressor(parseCompression('int8'), seededRandom(1)).compress(v);
    expect(bytes.length / fp32UpdateBytes(v.length)).toBeLessThan(0.26);
    const back = decompress(bytes, v.length);
    expect(back).toHaveLength(v.length);
  });

  it('top-k keeps the k largest magnitudes; error feedback eventually sends everything', () => {
    const v = Float32Array.from([0.1, -5, 3, 0.2, -0.05, 4]);
    const t = topK(v, 3);
    expect([...t.indices]).toEqual([1, 2, 5]);
    expect([...t.values]).toEqual([-5, 3, 4]);
    // with a fixed update repeated, sent + residual always equals the sum of updates
    const u = Float32Array.from([1, 2, 3]);
    const ef = new ErrorFeedback();
    const sent = new Float64Array(u.length);
    for (let round = 1; round <= 4; round++) {
      const s = ef.compress(u, 0.3); // one value per round: 3, then 4 (2+2), then 6 (3+3), then 4 (1·4)
      s.indices.forEach((i, j) => (sent[i]! += s.values[j]!));
      const total = [...u].reduce((a, x) => a + Math.abs(x) * round, 0);
      const got = [...sent].reduce((a, x) => a + Math.abs(x), 0);
      expect(got + ef.pending).toBeCloseTo(total, 4);
    }
    // the small coordinates were sent too, by accumulation
    expect(sent[0]).toBeGreaterThan(0);
  });

  it('deflate round-trips every codec', () => {
    const v = ramp(5000);
    for (const spec of ['none+deflate', 'int8+deflate', 'topk:0.1+deflate']) {
      const c = new UpdateCompressor(parseCompression(spec), seededRandom(2));
      const back = decompress(c.compress(v), v.length);
      expect(back).toHaveLength(v.length);
      if (spec.startsWith('none')) expect([...back]).toEqual([...v]);
    }
  });

  it('rejects malformed uploads with one clear error', () => {
    const v = ramp(100);
    const good = encodeUpdate({ codec: 'fp32', length: 100, values: v });
    expect(() => decodeUpdate(good, 101)).toThrow(/has 100 values; the model has 101/);
    expect(() => decodeUpdate(good.subarray(0, 50), 100)).toThrow(/fp32 body is 38 bytes, expected 400/);
    const magic = good.slice();
    magic[0] = 0;
    expect(() => decodeUpdate(magic, 100)).toThrow(/bad magic/);
    const codec = good.slice();
    codec[5] = 9;
    expect(() => decodeUpdate(codec, 100)).toThrow(/unknown codec 9/);
    const disorder = encodeUpdate({
      codec: 'topk',
      length: 100,
      indices: Uint32Array.from([5, 3]),
      values: Float32Array.from([1, 2]),
    });
    expect(() => decodeUpdate(disorder, 100)).toThrow(/out of order/);
    const outside = encodeUpdate({
      codec: 'topk',
      length: 100,
      indices: Uint32Array.from([100]),
      values: Float32Array.of(1),
    });
    expect(() => decodeUpdate(outside, 100)).toThrow(/out of range/);
    // a deflate bomb: a tiny body that inflates far beyond any valid update of this length
    const bomb = new Uint8Array(12 + 0);
    bomb.set(good.subarray(0, 12));
    bomb[6] = 1;
    const body = deflateSync(new Uint8Array(1_000_000));
    const withBomb = new Uint8Array(12 + body.length);
    withBomb.set(bomb);
    withBomb.set(body, 12);
    expect(() => decodeUpdate(withBomb, 100)).toThrow(/larger than any valid update/);
  });

  it('parses compression specs and rejects bad ones', () => {
    expect(parseCompression('topk:0.1')).toEqual({ kind: 'topk', fraction: 0.1, deflate: false });
    expect(parseCompression('int8+deflate')).toEqual({ kind: 'int8', deflate: true });
    expect(() => parseCompression('topk:2')).toThrow(/F in \(0, 1\]/);
    expect(() => parseCompression('zip')).toThrow(/none, int8 or topk:F/);
  });
});
