/** Small, fast federated fixtures: Gaussian blobs and a two-layer MLP (tests must stay lean). */
import type { Dataset, Split } from '../../src/data/dataset.ts';
import { seededRandom } from '../../src/fl/random.ts';
import { Dense } from '../../src/nn/layers/dense.ts';
import { ReLU } from '../../src/nn/layers/activations.ts';
import { Sequential } from '../../src/nn/network.ts';
import type { Model } from '../../src/onnx/ir.ts';

export const BLOB_DIM = 8;
export const BLOB_CLASSES = 4;

function blobs(count: number, seed: number): Split {
  const r = seededRandom(seed);
  const centers = Array.from({ length: BLOB_CLASSES }, (_, c) =>
    Array.from({ length: BLOB_DIM }, (_, d) => (d % BLOB_CLASSES === c ? 2 : 0)),
  );
  const x = new Float32Array(count * BLOB_DIM);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % BLOB_CLASSES;
    y[i] = c;
    for (let d = 0; d < BLOB_DIM; d++) x[i * BLOB_DIM + d] = centers[c]![d]! + r.normal() * 0.8;
  }
  return { x, y, count };
}

export function blobDataset(train = 800, test = 400): Dataset {
  return {
    name: 'blobs',
    source: 'synthetic',
    shape: [BLOB_DIM],
    classes: BLOB_CLASSES,
    train: blobs(train, 1),
    test: blobs(test, 2),
  };
}

/**
 * At opset 17, what the Debian ONNX 1.12 checker validates (Gemm and Relu are older), but declaring
 * IR 10: the models federated learning writes from it must come down to IR 8.
 */
export function blobModel(seed = 0): Model {
  const m = new Sequential([BLOB_DIM], [new Dense(16), new ReLU(), new Dense(BLOB_CLASSES)]).build({ seed });
  return {
    ...m,
    irVersion: 10,
    opsetImports: m.opsetImports.map((o) => (o.domain === '' ? { ...o, version: 17 } : o)),
  };
}
