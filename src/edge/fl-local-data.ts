/**
 * The federated client's local data on an agent: the operator's `--data`, the items the agent
 * collected through the edge data loop (`--fl-collected`), or both joined (same sample shape;
 * train with train, hold-out with hold-out). Read when the first FL task arrives; never uploaded.
 */
import { concatSplits, type Dataset } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import { collectedDataset, type CollectedDatasetOptions } from './collected-dataset.ts';
import type { CollectionStore } from './collection-store.ts';

export interface FlLocalDataSources {
  /** The device's own data (`verge agent --data`). */
  data?: () => Promise<Dataset>;
  /** Train on the collected items too (edge data loop), selected by these options. */
  collected?: CollectedDatasetOptions;
  store: CollectionStore;
}

export async function flLocalData(src: FlLocalDataSources): Promise<Dataset> {
  const given = src.data ? await src.data() : undefined;
  if (!src.collected) {
    if (!given) throw new VergeError('E_BAD_ARGUMENT', 'this agent has no local data for federated learning');
    return given;
  }
  const collected = collectedDataset(src.store, src.collected);
  if (!given) return collected;
  if (given.shape.join() !== collected.shape.join())
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `--data has samples [${given.shape.join(', ')}], the collected items [${collected.shape.join(', ')}]`,
    );
  return {
    ...given,
    name: `${given.name}+${collected.name}`,
    classes: Math.max(given.classes, collected.classes),
    // hold-out with hold-out; without a test split in --data the agent holds out a share of everything
    ...(given.test.count > 0
      ? { train: concatSplits(given.train, collected.train), test: concatSplits(given.test, collected.test) }
      : { train: concatSplits(concatSplits(given.train, collected.train), collected.test), test: given.test }),
    report: {
      format: given.report?.format ?? 'mixed',
      read: { ...given.report?.read, collected: collected.train.count + collected.test.count },
      skipped: given.report?.skipped ?? [],
      notes: [...(given.report?.notes ?? []), ...(collected.report?.notes ?? [])],
    },
  };
}
