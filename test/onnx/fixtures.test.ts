/**
 * The PyTorch-exported fixtures load, round-trip losslessly and reproduce PyTorch's outputs on
 * onnxruntime; the torchvision ones are made on demand (skipped with a reason without torch).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { decodeModel, encodeModel } from '../../src/onnx/codec.ts';
import { Session } from '../../src/runtime/session.ts';
import {
  SMALL_FIXTURES,
  TORCHVISION_FIXTURES,
  ensureTorchvisionFixture,
  fixtureMeta,
  fixturePath,
  fixtureSkipReason,
  readNpy,
} from '../fixtures/index.ts';

/** PyTorch vs onnxruntime float32 agreement (same order as the ONNX backend runner's tolerance). */
const RTOL = 1e-3;
const ATOL = 1e-5;

function expectClose(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const excess = Math.abs(actual[i]! - expected[i]!) - (ATOL + RTOL * Math.abs(expected[i]!));
    worst = Math.max(worst, excess);
  }
  expect(worst).toBeLessThanOrEqual(0);
}

async function checkAgainstPytorch(name: string): Promise<void> {
  const bytes = new Uint8Array(readFileSync(fixturePath(name)));
  const model = decodeModel(bytes, name);
  expect(Buffer.compare(Buffer.from(encodeModel(model)), Buffer.from(bytes))).toBe(0);
  const meta = fixtureMeta(name);
  const x = readNpy(fixturePath(`${name}.input.npy`));
  const y = readNpy(fixturePath(`${name}.output.npy`));
  const session = await Session.create(model, { threads: 1 });
  try {
    const out = await session.run({
      [meta.inputs[0]!.name]: { dtype: 'float32', dims: x.shape, data: x.data as Float32Array },
    });
    const got = out[meta.outputs[0]!.name]!;
    expect(got.dims).toEqual(y.shape);
    expectClose(got.data as Float32Array, y.data as Float32Array);
  } finally {
    await session.release();
  }
}

describe('PyTorch fixtures', () => {
  for (const name of SMALL_FIXTURES) {
    it(`${name}: onnxruntime reproduces PyTorch's output`, () => checkAgainstPytorch(name));
  }

  const skip = fixtureSkipReason();
  for (const name of TORCHVISION_FIXTURES) {
    it.skipIf(!!skip && process.env.CI !== 'true')(
      `torchvision ${name}${skip ? ` (skipped: ${skip})` : ''}`,
      async () => {
        const path = await ensureTorchvisionFixture(name);
        expect(path, skip).toBeDefined();
        await checkAgainstPytorch(name);
      },
    );
  }
});
