/**
 * Round trips of every registered codec (lossless: bit-exact; lossy: within the bound it
 * reports), and the coverage check that fails when a codec has no case here. Bad frames are
 * refused with E_DATA_INVALID, never a crash or an unbounded allocation.
 */
import { deflateSync } from 'fflate';
import { describe, expect, test } from 'vitest';
import { encodeCodecFrame } from '../../protocol/codec-frame.ts';
import { rng } from '../dataset.ts';
import type { CodecContext, FloatTensor, LearnedCodecRunner } from './codec.ts';
import { CODECS, decodeTensor, encodeTensor, maxAbsError, psnr } from './index.ts';
import { roundOutward } from './learned.ts';

function image(n: number, seed = 1): FloatTensor {
  // Smooth images with noise, in [0, 1], like camera frames.
  const r = rng(seed);
  const data = new Float32Array(n * 28 * 28);
  for (let s = 0; s < n; s++)
    for (let i = 0; i < 28; i++)
      for (let j = 0; j < 28; j++)
        data[s * 784 + i * 28 + j] = Math.min(
          1,
          Math.max(0, 0.5 + 0.4 * Math.sin((i + s) / 5) * Math.cos(j / 7) + 0.05 * r()),
        );
  return { dims: [n, 1, 28, 28], data };
}

function series(n: number): FloatTensor {
  const data = new Float32Array(n * 128);
  for (let i = 0; i < data.length; i++) data[i] = 20 + 5 * Math.sin(i / 9) + (i % 7) * 0.01;
  return { dims: [n, 128], data };
}

/** A linear "autoencoder" in plain JS: 2×2 average pooling and nearest-neighbour upsampling. */
function poolRunner(): LearnedCodecRunner {
  return {
    ref: 'pool@1.0.0',
    sampleShape: [1, 28, 28],
    async encode(x) {
      const n = x.dims[0]!;
      const out = new Float32Array(n * 196);
      for (let s = 0; s < n; s++)
        for (let i = 0; i < 14; i++)
          for (let j = 0; j < 14; j++) {
            const at = (a: number, b: number) => x.data[s * 784 + a * 28 + b]!;
            out[s * 196 + i * 14 + j] =
              (at(2 * i, 2 * j) + at(2 * i + 1, 2 * j) + at(2 * i, 2 * j + 1) + at(2 * i + 1, 2 * j + 1)) / 4;
          }
      return { dims: [n, 196], data: out };
    },
    async decode(z) {
      const n = z.dims[0]!;
      const out = new Float32Array(n * 784);
      for (let s = 0; s < n; s++)
        for (let i = 0; i < 28; i++)
          for (let j = 0; j < 28; j++) out[s * 784 + i * 28 + j] = z.data[s * 196 + (i >> 1) * 14 + (j >> 1)]!;
      return { dims: [n, 1, 28, 28], data: out };
    },
  };
}

const ctx: CodecContext = { learned: async (ref) => (ref === 'pool@1.0.0' ? poolRunner() : undefined) };

interface Case {
  spec: string;
  input: FloatTensor;
  /** Check the decoded values against the input; `bound` is what the encoder reported. */
  check: (input: FloatTensor, decoded: Float32Array, bound: number | null) => Promise<void> | void;
}

const CASES: Record<string, Case[]> = {
  lossless: [
    { spec: 'lossless', input: image(3), check: (x, y, b) => (expect(b).toBe(0), expect(y).toEqual(x.data)) },
    {
      spec: 'lossless',
      input: { dims: [4], data: Float32Array.of(-0, 1e-45, 3.4e38, -1.5) },
      check: (x, y) =>
        expect(Array.from(y).map((v) => (Object.is(v, -0) ? 'neg0' : v))).toEqual(['neg0', x.data[1], x.data[2], -1.5]),
    },
  ],
  'quantize-delta': [
    ...[1, 4, 8, 12, 16].map((bits) => ({
      spec: `quantize-delta:${bits}`,
      input: image(2),
      check: (x: FloatTensor, y: Float32Array, b: number | null) => {
        const span = Math.max(...x.data) - Math.min(...x.data);
        expect(b).toBeCloseTo(span / (2 ** bits - 1) / 2, 6);
        expect(maxAbsError(x.data, y)).toBeLessThanOrEqual(b! * (1 + 1e-5) + 1e-7);
      },
    })),
    {
      spec: 'quantize-delta',
      input: series(3),
      check: (x, y, b) => {
        expect(b).toBeCloseTo(10 / 255 / 2, 2);
        expect(maxAbsError(x.data, y)).toBeLessThanOrEqual(b! * (1 + 1e-5) + 1e-5);
      },
    },
    {
      spec: 'quantize-delta:8',
      input: { dims: [5], data: new Float32Array(5).fill(0.25) },
      check: (x, y, b) => (expect(b).toBe(0), expect(y).toEqual(x.data)),
    },
  ],
  learned: [
    {
      spec: 'learned:pool@1.0.0',
      input: image(4),
      async check(x, y, b) {
        expect(b).toBeNull();
        // Decoded = decoder(dequantized latent): within the 8-bit latent step of decoder(latent).
        const r = poolRunner();
        const exact = (await r.decode!(await r.encode!(x))).data;
        expect(maxAbsError(exact, y)).toBeLessThanOrEqual(1 / 255 / 2 + 1e-6);
        expect(psnr(x.data, y)).toBeGreaterThan(20);
      },
    },
    {
      spec: 'learned:pool@1.0.0:4',
      input: image(4),
      async check(x, y) {
        // 4-bit latents: within half a 4-bit step (1/15 of the latent range, here ≤ 1) of decoder(latent)
        const r = poolRunner();
        const exact = (await r.decode!(await r.encode!(x))).data;
        expect(maxAbsError(exact, y)).toBeLessThanOrEqual(1 / 15 / 2 + 1e-6);
        expect(maxAbsError(exact, y)).toBeGreaterThan(1 / 255 / 2);
      },
    },
  ],
};

describe('codec registry', () => {
  test('every codec has a round-trip case', () => {
    const missing = Object.keys(CODECS).filter((n) => !CASES[n]?.length);
    expect(missing).toEqual([]);
  });

  for (const [name, cases] of Object.entries(CASES)) {
    for (const c of cases) {
      test(`${name}: ${c.spec} on [${c.input.dims.join(', ')}]`, async () => {
        const enc = await encodeTensor(c.spec, c.input, ctx);
        expect(enc.codec).toBe(name);
        const dec = await decodeTensor(enc.frame, ctx);
        expect(dec.dims).toEqual(c.input.dims);
        await c.check(c.input, dec.data, enc.errorBound);
      });
    }
  }

  test('lossy codecs are smaller than raw float32 on images', async () => {
    const x = image(8);
    const raw = x.data.length * 4;
    const qd = await encodeTensor('quantize-delta:6', x);
    const ln = await encodeTensor('learned:pool@1.0.0', x, ctx);
    expect(qd.frame.length).toBeLessThan(raw / 4);
    expect(ln.frame.length).toBeLessThan(raw / 4);
  });
});

test('learned frames carry the latent range as short decimals that still bound it', () => {
  const r = rng(5);
  for (let i = 0; i < 2000; i++) {
    const v = (r() - 0.5) * 10 ** (r() * 12 - 6);
    const lo = roundOutward(v, 6, -1);
    const hi = roundOutward(v, 6, 1);
    expect(lo).toBeLessThanOrEqual(v);
    expect(hi).toBeGreaterThanOrEqual(v);
    expect(Math.max(v - lo, hi - v)).toBeLessThanOrEqual(Math.abs(v) * 1e-5);
    expect(
      JSON.stringify(lo)
        .replace(/^-|e.*$|\./g, '')
        .replace(/^0+/, '').length,
    ).toBeLessThanOrEqual(6);
  }
  expect([roundOutward(-7.123456789, 6, -1), roundOutward(8.98765432, 6, 1), roundOutward(0, 6, 1)]).toEqual([
    -7.12346, 8.98766, 0,
  ]);
});

describe('codec bad input', () => {
  test('unknown codec names are refused on both sides', async () => {
    await expect(encodeTensor('zstd', image(1))).rejects.toThrow(/E_BAD_ARGUMENT|unknown codec 'zstd'/);
    const frame = encodeCodecFrame({ codec: 'zstd', params: {}, dims: [1], payload: new Uint8Array(4) });
    await expect(decodeTensor(frame)).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' });
  });

  test('bad options and non-finite values', async () => {
    await expect(encodeTensor('quantize-delta:0', image(1))).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' });
    await expect(encodeTensor('quantize-delta:17', image(1))).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' });
    await expect(encodeTensor('quantize-delta', { dims: [2], data: Float32Array.of(1, NaN) })).rejects.toMatchObject({
      code: 'E_DATA_INVALID',
    });
    await expect(encodeTensor('learned:nope', image(1), ctx)).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' });
    await expect(encodeTensor('learned:other@1.0.0', image(1), ctx)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(encodeTensor('learned:pool@1.0.0:9', image(1), ctx)).rejects.toThrow(/latent bits must be 1-8/);
    // fewer latent bits: fewer bytes; a frame whose levels exceed its bits is refused
    const [b8, b4] = [
      await encodeTensor('learned:pool@1.0.0', image(1), ctx),
      await encodeTensor('learned:pool@1.0.0:4', image(1), ctx),
    ];
    expect(b4.frame.length).toBeLessThan(b8.frame.length);
    const over = encodeCodecFrame({
      codec: 'learned',
      params: { ref: 'pool@1.0.0', bits: 4, min: 0, max: 1, latent: '196' },
      dims: [1, 1, 28, 28],
      payload: deflateSync(new Uint8Array(196).fill(16)),
    });
    await expect(decodeTensor(over, ctx)).rejects.toThrow(/level 16 exceeds 4-bit latents/);
    await expect(
      encodeTensor('learned:pool@1.0.0', { dims: [1, 3, 28, 28], data: new Float32Array(3 * 784) }, ctx),
    ).rejects.toMatchObject({
      code: 'E_SHAPE_MISMATCH',
    });
    await expect(encodeTensor('lossless', { dims: [2, 2], data: new Float32Array(3) })).rejects.toMatchObject({
      code: 'E_SHAPE_MISMATCH',
    });
  });

  test('truncated, oversized and bomb frames are refused', async () => {
    const enc = await encodeTensor('lossless', image(2));
    for (const cut of [0, 3, 6, 12, enc.frame.length - 5]) {
      await expect(decodeTensor(enc.frame.subarray(0, cut))).rejects.toMatchObject({ code: 'E_DATA_INVALID' });
    }
    // dims promising more elements than the frame limit
    const huge = encodeCodecFrame({ codec: 'lossless', params: {}, dims: [1], payload: new Uint8Array(0) });
    huge.set([0xff, 0xff, 0xff, 0x7f], huge.length - 4);
    await expect(decodeTensor(huge)).rejects.toMatchObject({ code: 'E_DATA_INVALID' });
    // a payload that inflates to far more than its dims hold (decompression bomb)
    const bomb = encodeCodecFrame({
      codec: 'lossless',
      params: {},
      dims: [4],
      payload: deflateSync(new Uint8Array(5_000_000)),
    });
    await expect(decodeTensor(bomb)).rejects.toThrow(/inflates to more than 16 bytes/);
    // quantize-delta levels that leave the declared range
    const qd = encodeCodecFrame({
      codec: 'quantize-delta',
      params: { bits: 2, min: 0, max: 1 },
      dims: [2],
      payload: deflateSync(Uint8Array.of(6, 6)),
    });
    await expect(decodeTensor(qd)).rejects.toMatchObject({ code: 'E_DATA_INVALID' });
  });
});
