/**
 * What the fleet collected, as a dataset (on the operator's machine or in the control plane): pages
 * of the control plane's export (GET /v1/edge-loop/export, lossless frames of the decoded inputs,
 * the label in `cloud_predicted`: an operator's label first, else the cloud model's answer) turned
 * into a Dataset whose test split is a stable hash of the item id (the hold-out `verge retrain`
 * compares versions on). Shared by `verge retrain --with-collected`, `verge data pull --from-fleet`, the
 * control plane's retrain scheduler and the edge-loop bench.
 */
import { decodeTensor, type Dataset, type Split, inTestSplit } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import { decodeUploadBatch } from '../protocol/index.ts';
import type { RetrainBackend } from './retrain-backend.ts';

/** Items held out to compare the retrained model with the current one. */
export const COLLECTED_HOLDOUT_FRACTION = 0.2;
/** Stop after this many items (a bound on memory: 100k Fashion-MNIST items are 314 MB as float32). */
export const MAX_PULLED_ITEMS = 100_000;

export interface FleetPull {
  dataset: Dataset;
  /** Items fetched with a label / skipped for having none. */
  labelled: number;
  unlabelled: number;
  /** The collected item ids of each split, in sample order. */
  ids: { train: string[]; test: string[] };
}

export async function pullFleetDataset(
  backend: RetrainBackend,
  model: string,
  opts: { classes?: number; limit?: number } = {},
): Promise<FleetPull> {
  const limit = Math.min(opts.limit ?? MAX_PULLED_ITEMS, MAX_PULLED_ITEMS);
  const xs: Float32Array[] = [];
  const ys: number[] = [];
  const ids: string[] = [];
  let shape: number[] | undefined;
  let unlabelled = 0;
  for (let offset = 0; ids.length + unlabelled < limit;) {
    const { items } = decodeUploadBatch(await backend.exportPage(model, offset));
    if (items.length === 0) break;
    offset += items.length;
    for (const it of items) {
      if ('error' in it) continue;
      if (it.meta.cloud_predicted === null) {
        unlabelled++;
        continue;
      }
      const t = await decodeTensor(it.frame);
      const sample = t.dims.slice(1);
      shape ??= sample;
      if (sample.join() !== shape.join())
        throw new VergeError(
          'E_SHAPE_MISMATCH',
          `collected items of '${model}' have samples [${shape.join(', ')}] and [${sample.join(', ')}]`,
        );
      xs.push(t.data);
      ys.push(it.meta.cloud_predicted);
      ids.push(it.meta.id);
    }
  }
  if (!shape || ids.length === 0)
    throw new VergeError(
      'E_DATA_INVALID',
      `the fleet has no labelled collected items of '${model}' (${unlabelled} without a label: label them with 'verge label set', or offload to a cloud model)`,
    );
  const per = shape.reduce((a, b) => a * b, 1);
  const split = (idx: number[]): Split => {
    const x = new Float32Array(idx.length * per);
    const y = new Int32Array(idx.length);
    idx.forEach((i, k) => {
      x.set(xs[i]!, k * per);
      y[k] = ys[i]!;
    });
    return { x, y, count: idx.length };
  };
  const all = ids.map((_, i) => i);
  const test = all.filter((i) => inTestSplit(ids[i]!, COLLECTED_HOLDOUT_FRACTION));
  const train = all.filter((i) => !inTestSplit(ids[i]!, COLLECTED_HOLDOUT_FRACTION));
  return {
    dataset: {
      name: `fleet:${model}`,
      source: `${backend.where} (collected items of ${model})`,
      shape,
      classes: opts.classes ?? Math.max(...ys) + 1,
      train: split(train),
      test: split(test),
    },
    labelled: ids.length,
    unlabelled,
    ids: { train: train.map((i) => ids[i]!), test: test.map((i) => ids[i]!) },
  };
}
