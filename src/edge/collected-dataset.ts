/**
 * The device's collected items as a local dataset (for federated learning on the agent:
 * `EdgeAgentOptions.localData = () => collectedDataset(agent.loop.store, {...})`). Labels are the
 * cloud model's answers where an item was offloaded, else the device model's own prediction
 * (pseudo-labels: say so when reporting accuracy on them). Train/test membership is a stable hash
 * of the item id, so a growing collection never moves an item from test into train.
 */
import { type Dataset, type Split, inTestSplit } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import type { CollectionStore } from './collection-store.ts';

export interface CollectedDatasetOptions {
  /** Items of this model only (default: every model; their sample shapes must agree). */
  model?: string;
  /** Class count (default: one more than the highest label seen). */
  classes?: number;
  /** Fraction held out as the test split (default 0.2). */
  testFraction?: number;
  /** Keep only items whose label came from the cloud model (no pseudo-labels). */
  cloudLabelsOnly?: boolean;
}

export function collectedDataset(store: CollectionStore, opts: CollectedDatasetOptions = {}): Dataset {
  const items = store.all(opts.model).filter((i) => !opts.cloudLabelsOnly || i.cloud_predicted !== null);
  if (items.length === 0)
    throw new VergeError(
      'E_DATA_INVALID',
      `no collected items${opts.model ? ` of model '${opts.model}'` : ''} on this device yet`,
    );
  const shape = items[0]!.dims;
  const per = items[0]!.data.length;
  const odd = items.find((i) => i.data.length !== per || i.dims.join() !== shape.join());
  if (odd)
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `collected items have different shapes ([${shape.join(', ')}] and [${odd.dims.join(', ')}]); pick one model`,
    );
  const label = (i: (typeof items)[number]) => i.cloud_predicted ?? i.predicted;
  const classes = opts.classes ?? Math.max(...items.map(label)) + 1;
  const fraction = opts.testFraction ?? 0.2;
  const split = (members: typeof items): Split => {
    const x = new Float32Array(members.length * per);
    const y = new Int32Array(members.length);
    members.forEach((m, k) => {
      x.set(m.data, k * per);
      y[k] = label(m);
    });
    return { x, y, count: members.length };
  };
  const test = items.filter((i) => inTestSplit(i.id, fraction));
  const train = items.filter((i) => !inTestSplit(i.id, fraction));
  return {
    name: `collected${opts.model ? `:${opts.model}` : ''}`,
    source: 'edge-loop collection (agent.db)',
    shape,
    classes,
    train: split(train),
    test: split(test),
    report: {
      format: 'edge-loop',
      read: { items: items.length, train: train.length, test: test.length },
      skipped: [],
      notes: [
        `labels: ${items.filter((i) => i.cloud_predicted !== null).length} from the cloud model, the rest are the device model's own predictions`,
      ],
    },
  };
}
