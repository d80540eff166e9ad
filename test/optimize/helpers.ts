/** Shared by the optimize tests: run a model on inputs and compare outputs. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/onnx/io.ts';
import type { Model } from '../../src/onnx/ir.ts';
import { Session } from '../../src/runtime/session.ts';
import type { TensorValue } from '../../src/runtime/tensor.ts';
import { FIXTURE_MODELS_DIR } from '../fixtures/index.ts';

export function trainedFixturePath(name: 'seed_cnn_fmnist' | 'seed_cnn_bn_fmnist' | 'seed_cnn_view_fmnist'): string {
  return join(FIXTURE_MODELS_DIR, `${name}.onnx`);
}

export function trainedFixture(name: 'seed_cnn_fmnist' | 'seed_cnn_bn_fmnist' | 'seed_cnn_view_fmnist'): Model {
  const p = trainedFixturePath(name);
  if (!existsSync(p)) throw new Error(`${p} missing: run /usr/bin/python3 test/fixtures/make_trained_cnn.py`);
  return loadModel(p);
}

export async function runModel(model: Model, feeds: Record<string, TensorValue>): Promise<Record<string, TensorValue>> {
  const s = await Session.create(model, { threads: 1 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

/** Largest |a-b| / max(1, |a|) over two float outputs (NaN in both places counts as equal). */
export function maxRelDiff(a: TensorValue, b: TensorValue): number {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  if (x.length !== y.length) return Infinity;
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]!) && Number.isNaN(y[i]!)) continue;
    if (x[i] === y[i]) continue; // equal infinities
    const d = Math.abs(x[i]! - y[i]!) / Math.max(1, Math.abs(x[i]!));
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

/** Deterministic images in [0, 1], [n, 1, 28, 28]. */
export function sampleImages(n: number, seed = 7): TensorValue {
  const data = new Float32Array(n * 784);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s >>> 8) / 2 ** 24;
  }
  return { dtype: 'float32', dims: [n, 1, 28, 28], data };
}

export function opCount(model: Model, op: string): number {
  return model.graph.nodes.filter((n) => n.opType === op).length;
}
