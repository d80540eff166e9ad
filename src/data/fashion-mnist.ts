/**
 * Fashion-MNIST, resolved in DESIGN.md's order: $VERGE_DATA_DIR, then the Debian package
 * dataset-fashion-mnist, then the subset committed in this repository.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VergeError } from '../errors.ts';
import type { Dataset, Split } from './dataset.ts';
import { parseIdx } from './idx.ts';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
/** The subset shipped in the repo (2,000 train / 500 test, first samples of the original files). */
export const REPO_SUBSET_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../data/fashion-mnist-subset');

const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};

function findFile(dir: string, base: string): string | undefined {
  for (const name of [`${base}.gz`, base]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function hasFashionMnist(dir: string): boolean {
  return Object.values(FILES).every((f) => findFile(dir, f) !== undefined);
}

/** Which folder Fashion-MNIST will be read from, and a label for reports. */
export function resolveFashionMnistDir(): { dir: string; label: string } {
  const env = process.env.VERGE_DATA_DIR;
  if (env) {
    for (const d of [join(env, 'fashion-mnist'), env]) if (hasFashionMnist(d)) return { dir: d, label: d };
  }
  if (hasFashionMnist(DEBIAN_FASHION_MNIST_DIR)) return { dir: DEBIAN_FASHION_MNIST_DIR, label: DEBIAN_FASHION_MNIST_DIR };
  if (hasFashionMnist(REPO_SUBSET_DIR)) return { dir: REPO_SUBSET_DIR, label: 'repo subset (data/fashion-mnist-subset)' };
  throw new VergeError(
    'E_DATA_NOT_FOUND',
    `Fashion-MNIST not found: set VERGE_DATA_DIR or install the Debian package dataset-fashion-mnist`,
  );
}

function readSplit(dir: string, images: string, labels: string, limit?: number): Split {
  const imgPath = findFile(dir, images)!;
  const lblPath = findFile(dir, labels)!;
  const img = parseIdx(readFileSync(imgPath), imgPath);
  const lbl = parseIdx(readFileSync(lblPath), lblPath);
  if (img.dims.length !== 3 || lbl.dims.length !== 1 || img.dims[0] !== lbl.dims[0]) {
    throw new VergeError('E_DATA_INVALID', `${imgPath} and ${lblPath} do not match (dims ${img.dims} vs ${lbl.dims})`);
  }
  const count = Math.min(img.dims[0]!, limit ?? Infinity);
  const per = img.dims[1]! * img.dims[2]!;
  const x = new Float32Array(count * per);
  for (let i = 0; i < x.length; i++) x[i] = img.data[i]! / 255;
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) y[i] = lbl.data[i]!;
  return { x, y, count };
}

export interface LoadLimits {
  train?: number;
  test?: number;
}

/** Load Fashion-MNIST as float32 in [0, 1], shape [1, 28, 28], 10 classes. */
export function loadFashionMnist(limits: LoadLimits = {}): Dataset {
  const { dir, label } = resolveFashionMnistDir();
  return {
    name: 'fashion-mnist',
    source: label,
    shape: [1, 28, 28],
    classes: 10,
    train: readSplit(dir, FILES.trainImages, FILES.trainLabels, limits.train),
    test: readSplit(dir, FILES.testImages, FILES.testLabels, limits.test),
  };
}
