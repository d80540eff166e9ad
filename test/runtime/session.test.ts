import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../../src/data/npy.ts';
import { encodeModel } from '../../src/onnx/codec.ts';
import {
  ORT_DTYPES,
  Session,
  concreteDims,
  float32,
  runBatched,
  tensor,
  previewValues,
  castTensor,
  toOrt,
  type TensorValue,
} from '../../src/runtime/index.ts';
import { fixturePath } from '../fixtures/index.ts';
import { identityModel, seedCnn, twoInputModel, unknownOpModel } from './models.ts';

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return (e as { code?: string }).code ?? `not a VergeError: ${String(e)}`;
  }
  return undefined;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** PyTorch and onnxruntime float32 kernels agree to this (sums of ~1,600 products). */
const PYTORCH_TOLERANCE = 1e-4;

describe('Session on PyTorch-exported fixtures', () => {
  for (const name of ['seed_cnn', 'residual_block', 'gru_classifier']) {
    it(`${name}: matches PyTorch's output`, async () => {
      const session = await Session.create(fixturePath(name), { threads: 1 });
      const input = readNpy(fixturePath(`${name}.input.npy`));
      const expected = readNpy(fixturePath(`${name}.output.npy`));
      const out = await session.run({
        [session.inputNames[0]!]: { dtype: input.dtype, dims: input.shape, data: input.data },
      });
      const y = out[session.outputNames[0]!]!;
      expect(y.dims).toEqual(expected.shape);
      expect(maxAbsDiff(y.data as Float32Array, expected.data as Float32Array)).toBeLessThan(PYTORCH_TOLERANCE);
      await session.release();
    });
  }
});

describe('input validation before onnxruntime', () => {
  it('names the input, the expected and the given shape or dtype', async () => {
    const s = await Session.create(seedCnn(), { threads: 1 });
    expect(s.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: ['batch', 1, 28, 28] }]);
    const rank = s.run({ x: float32([1, 28, 28]) });
    await expect(rank).rejects.toMatchObject({ code: 'E_SHAPE_MISMATCH' });
    await expect(rank).rejects.toThrow("seed_cnn: input 'x' expects shape [batch, 1, 28, 28], got [1, 28, 28]");
    await expect(s.run({ x: float32([2, 3, 28, 28]) })).rejects.toThrow(
      /expects shape \[batch, 1, 28, 28\], got \[2, 3, 28, 28\]/,
    );
    const dt = s.run({ x: tensor('float64', [1, 1, 28, 28]) });
    await expect(dt).rejects.toMatchObject({ code: 'E_DTYPE_MISMATCH' });
    await expect(dt).rejects.toThrow(/expects float32 \[batch, 1, 28, 28\], got float64 \[1, 1, 28, 28\]/);
    await expect(s.run({ y: float32([1]) })).rejects.toMatchObject({
      code: 'E_INPUT_MISSING',
      message: expect.stringMatching(/needs input 'x'.*given: 'y'/),
    });
    // data that does not fill the dims
    await expect(
      s.run({ x: { dtype: 'float32', dims: [1, 1, 28, 28], data: new Float32Array(5) } }),
    ).rejects.toMatchObject({ code: 'E_SHAPE_MISMATCH' });
    // symbolic batch accepts any size
    expect((await s.run({ x: float32([3, 1, 28, 28]) })).logits!.dims).toEqual([3, 10]);
  });

  it('works from bytes and from a path, and classifies bad models', async () => {
    const bytes = encodeModel(seedCnn());
    const s = await Session.create(bytes);
    expect(s.inputNames).toEqual(['x']);
    expect(await codeOf(Session.create(bytes.subarray(0, bytes.length >> 1)))).toBe('E_MODEL_TRUNCATED');
    expect(await codeOf(Session.create(new TextEncoder().encode('just some text, not a model\n')))).toBe('E_NOT_ONNX');
    expect(await codeOf(Session.create('/no/such/model.onnx'))).toBe('E_FILE_NOT_FOUND');
    expect(await codeOf(Session.create(unknownOpModel()))).toBe('E_UNKNOWN_OP');
    const fromPath = await Session.create(fixturePath('seed_cnn'));
    expect(fromPath.source).toBe('seed_cnn.onnx');
    expect(readFileSync(fixturePath('seed_cnn')).length).toBeGreaterThan(0);
  });
});

describe('session options', () => {
  it('rejects bad thread counts and unknown providers; cuda/webgpu absent → E_PROVIDER_UNAVAILABLE', async () => {
    const m = twoInputModel();
    expect(await codeOf(Session.create(m, { threads: -1 }))).toBe('E_BAD_ARGUMENT');
    expect(await codeOf(Session.create(m, { executionProvider: 'tpu' as 'cpu' }))).toBe('E_BAD_ARGUMENT');
    const s = await Session.create(m, {
      threads: 1,
      interOpThreads: 1,
      executionMode: 'parallel',
      executionProvider: 'cpu',
    });
    expect(s.executionProvider).toBe('cpu');
    // Without onnxruntime-node's CUDA provider libraries, a CUDA session must fail with the provider code.
    const bin = join(
      dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')),
      'bin',
      'napi-v6',
      process.platform,
      process.arch,
    );
    const hasCuda = existsSync(bin) && readdirSync(bin).some((f) => f.includes('onnxruntime_providers_cuda'));
    const cuda = await codeOf(Session.create(m, { executionProvider: 'cuda' }));
    if (!hasCuda) expect(cuda).toBe('E_PROVIDER_UNAVAILABLE');
    else expect([undefined, 'E_PROVIDER_UNAVAILABLE']).toContain(cuda); // libraries present but maybe no GPU
    // WebGPU on Linux needs GPU device nodes; without them verge refuses before onnxruntime tries.
    if (process.platform === 'linux' && !existsSync('/dev/dri')) {
      expect(await codeOf(Session.create(m, { executionProvider: 'webgpu' }))).toBe('E_PROVIDER_UNAVAILABLE');
    }
  });
});

describe('warm-up and synthesized inputs', () => {
  it('synthesizes symbolic batch dims as batch (others 1), and warms up n times', async () => {
    const s = await Session.create(seedCnn(), { threads: 1 });
    expect(concreteDims(s.inputs[0]!)).toEqual([1, 1, 28, 28]);
    expect(concreteDims({ name: 'seq', dtype: 'float32', shape: ['seq', 'batch_size', 8] }, 4)).toEqual([4, 4, 8]);
    expect(concreteDims({ name: 'seq', dtype: 'float32', shape: [5, 'len', 8] }, 4)).toEqual([5, 1, 8]);
    const feeds = s.synthesizeInputs({ batch: 3, seed: 7 });
    expect(feeds.x!.dims).toEqual([3, 1, 28, 28]);
    expect(s.synthesizeInputs({ batch: 3, seed: 7 })).toEqual(feeds); // seeded
    const times = await s.warmup(3);
    expect(times).toHaveLength(3);
    expect(times.every((t) => t > 0)).toBe(true);
    expect(await codeOf(() => concreteDims({ name: 'u', dtype: 'float32' }))).toBe('E_UNSUPPORTED');
  });
});

describe('tensor conversion for every dtype onnxruntime-node supports', () => {
  it('round-trips values of every dtype through an Identity model', async () => {
    const dtypes = ORT_DTYPES;
    const s = await Session.create(identityModel(dtypes));
    const inputs: Record<string, TensorValue> = {
      in_float32: tensor('float32', [2, 3], [0.5, -1, 2, 3, 4, 5]),
      in_float64: tensor('float64', [2, 3], [1e-300, 2, 3, 4, 5, 6]),
      in_float16: tensor('float16', [2, 3], [0.5, -2, 65504, 0.099975586, 1, 0]),
      in_int8: tensor('int8', [2, 3], [-128, 127, 0, 1, 2, 3]),
      in_uint8: tensor('uint8', [2, 3], [0, 255, 1, 2, 3, 4]),
      in_int16: tensor('int16', [2, 3], [-32768, 32767, 0, 1, 2, 3]),
      in_uint16: tensor('uint16', [2, 3], [65535, 0, 1, 2, 3, 4]),
      in_int32: tensor('int32', [2, 3], [-(2 ** 31), 2 ** 31 - 1, 0, 1, 2, 3]),
      in_uint32: tensor('uint32', [2, 3], [2 ** 32 - 1, 0, 1, 2, 3, 4]),
      in_int64: tensor('int64', [2, 3], [-(2n ** 63n), 2n ** 63n - 1n, 0n, 1n, 2n, 3n]),
      in_uint64: tensor('uint64', [2, 3], [2n ** 64n - 1n, 0n, 1n, 2n, 3n, 4n]),
      in_bool: tensor('bool', [2, 3], [true, false, true, true, false, false]),
      in_string: tensor('string', [2, 3], ['a', 'béta', '', 'd', 'e', 'f']),
    };
    const out = await s.run(inputs);
    for (const d of dtypes) {
      const o = out[`out_${d}`]!;
      expect(o.dtype).toBe(d);
      expect(o.dims).toEqual([2, 3]);
      expect(o.data).toEqual(inputs[`in_${d}`]!.data);
    }
    expect(out.out_float16!.data).toBeInstanceOf(Uint16Array);
    expect(previewValues(out.out_float16!, 2)).toEqual([0.5, -2]);
    expect(previewValues(out.out_string!, 2)).toEqual(['a', 'béta']);
    expect(out.out_int64!.data).toBeInstanceOf(BigInt64Array);
  });

  it('rejects storage that does not match the dtype, and dtypes onnxruntime-node cannot take', async () => {
    const s = await Session.create(identityModel(['float32']));
    await expect(
      s.run({ in_float32: { dtype: 'bfloat16', dims: [1, 3], data: new Uint16Array(3) } }),
    ).rejects.toMatchObject({ code: 'E_DTYPE_MISMATCH' });
    expect(await codeOf(() => toOrt({ dtype: 'int4', dims: [2], data: new Uint8Array(1) }))).toBe('E_UNSUPPORTED');
    await expect(
      s.run({ in_float32: { dtype: 'float32', dims: [1, 3], data: new Float64Array(3) } }),
    ).rejects.toMatchObject({ code: 'E_DTYPE_MISMATCH' });
  });
});

describe('castTensor', () => {
  it('converts like numpy astype', () => {
    const f = tensor('float64', [5], [1.7, -2.5, 0, 300, 65504]);
    expect(Array.from(castTensor(f, 'int32').data as Int32Array)).toEqual([1, -2, 0, 300, 65504]);
    expect(Array.from(castTensor(f, 'uint8').data as Uint8Array)).toEqual([1, 254, 0, 44, 224]);
    expect(Array.from(castTensor(f, 'int64').data as BigInt64Array)).toEqual([1n, -2n, 0n, 300n, 65504n]);
    expect(Array.from(castTensor(f, 'bool').data as Uint8Array)).toEqual([1, 1, 0, 1, 1]);
    expect(previewValues(castTensor(f, 'float16'), 5)).toEqual([1.7001953125, -2.5, 0, 300, 65504]);
    expect(castTensor(f, 'float64')).toBe(f);
    expect(() => castTensor(tensor('string', [1], ['a']), 'float32')).toThrow(/cannot cast string/);
  });
});

describe('runInto (preallocated outputs)', () => {
  it("fills the caller's output buffer and matches run()", async () => {
    const s = await Session.create(seedCnn(), { threads: 1 });
    const feeds = s.synthesizeInputs({ batch: 2, seed: 4 });
    const expected = (await s.run(feeds)).logits!;
    const logits = tensor('float32', [2, 10]);
    const buffer = logits.data;
    const out = await s.runInto(feeds, { logits });
    expect(out.logits!.data).toBe(buffer);
    expect(Array.from(buffer as Float32Array)).toEqual(Array.from(expected.data as Float32Array));
    expect(await codeOf(s.runInto(feeds, { nope: tensor('float32', [2, 10]) }))).toBe('E_BAD_ARGUMENT');
    expect(await codeOf(s.runInto(feeds, { logits: tensor('float32', [3, 10]) }))).toMatch(/^E_/);
  });
});

describe('runBatched', () => {
  it('splits along dim 0 and concatenates outputs equal to one big run', async () => {
    const s = await Session.create(seedCnn(), { threads: 1 });
    const x = s.synthesizeInputs({ batch: 70, seed: 3 }).x!;
    const whole = (await s.run({ x })).logits!;
    const batched = (await runBatched(s, x, 32)).logits!;
    expect(batched.dims).toEqual([70, 10]);
    expect(maxAbsDiff(batched.data as Float32Array, whole.data as Float32Array)).toBeLessThan(1e-5);
    expect(await codeOf(runBatched(s, x, 0))).toBe('E_BAD_ARGUMENT');
  });

  it('handles named feeds, and refuses outputs that are not batched', async () => {
    const s = await Session.create(twoInputModel(true));
    const a = tensor(
      'float32',
      [5, 4],
      Array.from({ length: 20 }, (_, i) => i),
    );
    const b = tensor(
      'float32',
      [5, 4],
      Array.from({ length: 20 }, () => 1),
    );
    const y = (await runBatched(s, { a, b }, 2, ['y'])).y!;
    expect(Array.from(y.data as Float32Array)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await codeOf(runBatched(s, { a, b }, 2))).toBe('E_UNSUPPORTED'); // 's' is a scalar
    expect(await codeOf(runBatched(s, a, 2))).toBe('E_BAD_ARGUMENT'); // two inputs: feeds by name
    expect(await codeOf(runBatched(s, { a, b: tensor('float32', [4, 4]) }, 2))).toBe('E_SHAPE_MISMATCH');
  });
});
