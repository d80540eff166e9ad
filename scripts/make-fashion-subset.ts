/**
 * Writes data/fashion-mnist-subset: the first 2,000 training and 500 test samples of the Debian
 * dataset-fashion-mnist files, gzip IDX, so verge works on machines without the package.
 * Run: npx tsx scripts/make-fashion-subset.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx, parseIdx } from '../src/data/idx.ts';
import { DEBIAN_FASHION_MNIST_DIR, REPO_SUBSET_DIR } from '../src/data/sources/fashion-mnist.ts';

const parts: [string, number][] = [
  ['train-images-idx3-ubyte', 2000],
  ['train-labels-idx1-ubyte', 2000],
  ['t10k-images-idx3-ubyte', 500],
  ['t10k-labels-idx1-ubyte', 500],
];
for (const [name, n] of parts) {
  const a = parseIdx(readFileSync(join(DEBIAN_FASHION_MNIST_DIR, `${name}.gz`)), name);
  const per = a.dims.slice(1).reduce((x, y) => x * y, 1);
  const out = encodeIdx([n, ...a.dims.slice(1)], a.data.subarray(0, n * per));
  writeFileSync(join(REPO_SUBSET_DIR, `${name}.gz`), gzipSync(out, { level: 9 }));
  console.log(`${name}: ${n} samples`);
}
