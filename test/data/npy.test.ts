import { mkdtempSync, readFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy, readNpy, writeNpy, type NdArray } from '../../src/data/npy.ts';
import { encodeNpz, parseNpz, readNpz, writeNpz } from '../../src/data/npz.ts';
import { float16BitsToNumber } from '../../src/onnx/dtype.ts';

const FIX = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'verge-npy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const NUMPY_CODES = {
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
  i1: 'int8',
  u1: 'uint8',
  i2: 'int16',
  u2: 'uint16',
  i4: 'int32',
  u4: 'uint32',
  i8: 'int64',
  u8: 'uint64',
} as const;

function values(a: NdArray): number[] {
  return Array.from(a.data as ArrayLike<number | bigint>, (v) =>
    a.dtype === 'float16' ? float16BitsToNumber(v as number) : Number(v),
  );
}

function errorOf(f: () => unknown): { code?: string; message: string } {
  try {
    f();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected an error');
}

describe('.npy written by numpy', () => {
  for (const [code, dtype] of Object.entries(NUMPY_CODES)) {
    it(`reads ${code} as ${dtype} and writes the same bytes numpy wrote`, () => {
      const path = join(FIX, `arange_${code}.npy`);
      const a = readNpy(path);
      expect(a.dtype).toBe(dtype);
      expect(a.shape).toEqual([2, 3]);
      expect(values(a)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(Buffer.from(encodeNpy(a)).equals(readFileSync(path))).toBe(true);
    });
  }

  it('reads bool, big-endian, 0-d and empty arrays', () => {
    const b = readNpy(join(FIX, 'arange_b1.npy'));
    expect([b.dtype, Array.from(b.data as Uint8Array)]).toEqual(['bool', [0, 1, 0, 1, 0, 1]]);
    expect(Buffer.from(encodeNpy(b)).equals(readFileSync(join(FIX, 'arange_b1.npy')))).toBe(true);
    expect(values(readNpy(join(FIX, 'arange_be_f4.npy')))).toEqual([0, 1, 2, 3, 4, 5]);
    const be64 = readNpy(join(FIX, 'arange_be_i8.npy'));
    expect([be64.dtype, values(be64)]).toEqual(['int64', [0, 1, 2, 3, 4, 5]]);
    const s = readNpy(join(FIX, 'scalar_f8.npy'));
    expect([s.shape, values(s)]).toEqual([[], [2.5]]);
    const e = readNpy(join(FIX, 'empty_f4.npy'));
    expect([e.shape, e.data.length]).toEqual([[0, 3], 0]);
    expect(Buffer.from(encodeNpy(e)).equals(readFileSync(join(FIX, 'empty_f4.npy')))).toBe(true);
  });

  it('rejects Fortran order, strings, truncation and non-npy bytes with clear errors', () => {
    const f = errorOf(() => readNpy(join(FIX, 'fortran_f4.npy')));
    expect(f.code).toBe('E_UNSUPPORTED');
    expect(f.message).toMatch(/Fortran/);
    const u = errorOf(() => readNpy(join(FIX, 'strings_u3.npy')));
    expect(u.code).toBe('E_UNSUPPORTED');
    expect(u.message).toMatch(/'<U3'.*unicode/);
    const full = readFileSync(join(FIX, 'arange_f8.npy'));
    const t = errorOf(() => parseNpy(full.subarray(0, full.length - 5), 'cut.npy'));
    expect(t.code).toBe('E_DATA_INVALID');
    expect(t.message).toMatch(/cut\.npy: truncated: holds 43 of the 48 data bytes/);
    expect(errorOf(() => parseNpy(full.subarray(0, 40), 'h.npy')).message).toMatch(/truncated/);
    expect(errorOf(() => parseNpy(new TextEncoder().encode('hello, world: not numpy'), 'x.npy')).code).toBe(
      'E_DATA_INVALID',
    );
    expect(errorOf(() => readNpy(join(tmp, 'missing.npy'))).code).toBe('E_FILE_NOT_FOUND');
  });

  it('round-trips through writeNpy atomically (no temp file left)', () => {
    const a: NdArray = { dtype: 'int64', shape: [3], data: new BigInt64Array([-1n, 2n ** 40n, 7n]) };
    const p = join(tmp, 'a.npy');
    writeNpy(p, a);
    expect(readNpy(p)).toEqual(a);
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(errorOf(() => encodeNpy({ dtype: 'float32', shape: [2, 2], data: new Float32Array(3) })).code).toBe(
      'E_SHAPE_MISMATCH',
    );
    expect(errorOf(() => writeNpy(join(tmp, 'no-such-dir', 'x.npy'), a)).code).toBe('E_FILE_NOT_FOUND');
    expect(existsSync(join(tmp, 'no-such-dir'))).toBe(false);
  });
});

describe('.npz', () => {
  for (const name of ['pair.npz', 'pair_compressed.npz']) {
    it(`reads numpy's ${name} (savez forces ZIP64 members)`, () => {
      const z = readNpz(join(FIX, name));
      expect(Object.keys(z).sort()).toEqual(['a', 'b']);
      expect([z.a!.dtype, z.a!.shape, values(z.a!)]).toEqual(['float32', [2, 3], [0, 1, 2, 3, 4, 5]]);
      expect([z.b!.dtype, values(z.b!)]).toEqual(['int64', [0, 1, 2, 3]]);
    });
  }

  it('round-trips stored and deflated archives, and rejects damaged ones', () => {
    const arrays = {
      x: { dtype: 'float32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
      y: { dtype: 'uint8', shape: [2], data: new Uint8Array([0, 255]) },
    } satisfies Record<string, NdArray>;
    for (const compress of [false, true]) {
      const p = join(tmp, `r${compress}.npz`);
      writeNpz(p, arrays, compress);
      expect(readNpz(p)).toEqual(arrays);
    }
    const bytes = encodeNpz(arrays);
    expect(errorOf(() => parseNpz(bytes.subarray(0, bytes.length >> 1), 'half.npz')).code).toBe('E_DATA_INVALID');
    expect(errorOf(() => parseNpz(new Uint8Array(10), 'zeros.npz')).code).toBe('E_DATA_INVALID');
  });
});
