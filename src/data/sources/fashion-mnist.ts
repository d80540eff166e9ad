/**
 * Fashion-MNIST by name, resolved in DESIGN.md's order: $VERGE_DATA_DIR, then the Debian package
 * dataset-fashion-mnist, then the subset committed in this repository. The files are IDX (idx.ts).
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VergeError } from '../../errors.ts';
import type { Dataset } from '../dataset.ts';
import { idxFiles, loadIdxFolder } from './idx.ts';
import type { DataSource } from './source.ts';
import { sourceSummary } from './catalog.ts';
import { FASHION_MNIST_CLASSES } from '../fashion-mnist-classes.ts';

export { FASHION_MNIST_CLASSES };

export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
const SUBSET = join('data', 'fashion-mnist-subset');

/**
 * The package folder holding data/fashion-mnist-subset, found upwards from this module: src/data/sources
 * in a checkout, dist/data/sources in the compiled package, dist/cli in the bundled CLI.
 */
function subsetDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here, up = 0; up < 4; up++, dir = dirname(dir))
    if (existsSync(join(dir, SUBSET))) return join(dir, SUBSET);
  return resolve(here, '../../..', SUBSET);
}

/** The subset shipped in the repo (2,000 train / 500 test, first samples of the original files). */
export const REPO_SUBSET_DIR = subsetDir();

function listing(dir: string): string[] {
  try {
    return existsSync(dir) ? readdirSync(dir).sort() : [];
  } catch {
    return [];
  }
}

/** A folder holding the four Fashion-MNIST IDX files (train and t10k). */
function hasFashionMnist(dir: string): boolean {
  return idxFiles(listing(dir))?.test !== undefined;
}

/** Which folder Fashion-MNIST will be read from, and a label for reports. */
export function resolveFashionMnistDir(): { dir: string; label: string } {
  const env = process.env.VERGE_DATA_DIR;
  if (env) {
    for (const d of [join(env, 'fashion-mnist'), env]) if (hasFashionMnist(d)) return { dir: d, label: d };
  }
  if (hasFashionMnist(DEBIAN_FASHION_MNIST_DIR))
    return { dir: DEBIAN_FASHION_MNIST_DIR, label: DEBIAN_FASHION_MNIST_DIR };
  if (hasFashionMnist(REPO_SUBSET_DIR))
    return { dir: REPO_SUBSET_DIR, label: 'repo subset (data/fashion-mnist-subset)' };
  throw new VergeError(
    'E_DATA_NOT_FOUND',
    `Fashion-MNIST not found: set VERGE_DATA_DIR or install the Debian package dataset-fashion-mnist`,
  );
}

export interface LoadLimits {
  train?: number;
  test?: number;
}

/** Load Fashion-MNIST as float32 in [0, 1], shape [1, 28, 28], 10 classes. */
export function loadFashionMnist(limits: LoadLimits = {}): Dataset {
  const { dir, label } = resolveFashionMnistDir();
  const ds = loadIdxFolder(dir, listing(dir), limits, 'fashion-mnist', label);
  return {
    ...ds,
    classes: FASHION_MNIST_CLASSES.length,
    classNames: [...FASHION_MNIST_CLASSES],
    preprocessing: { kind: 'image', channels: 1, height: 28, width: 28 },
    report: { ...ds.report!, format: 'fashion-mnist' },
  };
}

export const fashionMnist: DataSource = {
  name: 'fashion-mnist',
  summary: sourceSummary('fashion-mnist'),
  names: ['fashion-mnist'],
  claims: () => false,
  load: async (_t, opts) => loadFashionMnist(opts.limits),
};
