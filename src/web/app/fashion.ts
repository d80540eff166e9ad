/** Fashion-MNIST fetched from the page's own server (the subset the web build copies next to it). */
import { type Dataset, FASHION_MNIST_CLASSES, idxPairToSplit, parseIdx } from '../../data/browser.ts';
import { VergeError } from '../../errors.ts';

const FILES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
};

async function fetchBytes(url: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new VergeError('E_NETWORK', `cannot fetch ${url}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new VergeError('E_DATA_NOT_FOUND', `${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** Fashion-MNIST from `base` (a URL prefix holding the four IDX files), pixels in [0, 1]. */
export async function fetchFashionMnist(
  base: string,
  limits: { train?: number; test?: number } = {},
): Promise<Dataset> {
  const [ti, tl, vi, vl] = await Promise.all(
    [FILES.trainImages, FILES.trainLabels, FILES.testImages, FILES.testLabels].map((f) => fetchBytes(base + f)),
  );
  const train = idxPairToSplit(
    parseIdx(ti!, FILES.trainImages),
    parseIdx(tl!, FILES.trainLabels),
    'train',
    limits.train,
  );
  const test = idxPairToSplit(parseIdx(vi!, FILES.testImages), parseIdx(vl!, FILES.testLabels), 'test', limits.test);
  return {
    name: 'fashion-mnist',
    source: base,
    shape: [1, train.dims[1]!, train.dims[2]!],
    classes: FASHION_MNIST_CLASSES.length,
    classNames: [...FASHION_MNIST_CLASSES],
    train: train.split,
    test: test.split,
  };
}
