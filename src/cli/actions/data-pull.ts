/**
 * `verge data pull --from-fleet <model> --out <dir>`: the labelled items the fleet collected for
 * `model` (src/cloud/fleet-dataset.ts: the control plane's export, labels from an operator first, else
 * the cloud model) written as a NumPy data folder — x.npy/y.npy (train) and x_test.npy/y_test.npy
 * (the stable hold-out `verge retrain` compares on) — plus fleet.json (where it came from, item
 * ids per split). `verge data|train|retrain --data <dir>` read it like any npy folder.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  COLLECTED_HOLDOUT_FRACTION,
  CloudClient,
  httpRetrainBackend,
  pullFleetDataset,
  resolveCloud,
} from '../../cloud/index.ts';
import { writeNpy } from '../../data/index.ts';
import { VergeError } from '../../errors.ts';
import { writeFileAtomic } from '../../onnx/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit, note } from '../output.ts';

interface PullFlags extends CloudCliOptions {
  fromFleet: string;
  out: string;
  limit?: number;
  force?: boolean;
  json?: boolean;
}

/** The files a pull writes (and the only ones --force replaces). */
const PULLED_FILES = ['x.npy', 'y.npy', 'x_test.npy', 'y_test.npy', 'fleet.json'];

export default async function dataPull(f: PullFlags): Promise<void> {
  const out = resolve(f.out);
  if (existsSync(out) && !statSync(out).isDirectory())
    throw new VergeError('E_BAD_ARGUMENT', `--out ${out} is a file, not a folder`);
  if (existsSync(out) && !f.force) {
    const clash = readdirSync(out).filter((n) => PULLED_FILES.includes(n));
    if (clash.length)
      throw new VergeError('E_CONFLICT', `${out} holds ${clash.join(', ')} already; give another --out or --force`);
  }
  const client = new CloudClient(resolveCloud(f));
  const pulled = await pullFleetDataset(httpRetrainBackend(client), f.fromFleet, { limit: f.limit });
  const ds = pulled.dataset;
  note(
    `pulled ${pulled.labelled} labelled items of ${f.fromFleet} (${ds.train.count} train, ${ds.test.count} hold-out); ${pulled.unlabelled} without a label left out`,
  );
  mkdirSync(out, { recursive: true });
  const files: Record<string, number> = {};
  const write = (name: string, shape: number[], data: Float32Array | Int32Array) => {
    files[name] = writeNpy(join(out, name), {
      dtype: data instanceof Float32Array ? 'float32' : 'int32',
      shape,
      data,
    });
  };
  write('x.npy', [ds.train.count, ...ds.shape], ds.train.x);
  write('y.npy', [ds.train.count], ds.train.y);
  write('x_test.npy', [ds.test.count, ...ds.shape], ds.test.x);
  write('y_test.npy', [ds.test.count], ds.test.y);
  const manifest = {
    model: f.fromFleet,
    cloud: client.conn.url,
    pulled_at: new Date().toISOString(),
    shape: ds.shape,
    classes: ds.classes,
    labelled: pulled.labelled,
    unlabelled: pulled.unlabelled,
    holdout_fraction: COLLECTED_HOLDOUT_FRACTION,
    train: { count: ds.train.count, ids: pulled.ids.train },
    test: { count: ds.test.count, ids: pulled.ids.test },
  };
  const json = JSON.stringify(manifest, null, 1) + '\n';
  writeFileAtomic(join(out, 'fleet.json'), json);
  files['fleet.json'] = Buffer.byteLength(json);
  const report = {
    out,
    model: f.fromFleet,
    train: ds.train.count,
    test: ds.test.count,
    unlabelled: pulled.unlabelled,
    shape: ds.shape,
    classes: ds.classes,
    files,
  };
  emit(
    f,
    report,
    () =>
      `wrote ${out}: ${ds.train.count} train + ${ds.test.count} hold-out samples [${ds.shape.join(', ')}], ${ds.classes} classes (x.npy, y.npy, x_test.npy, y_test.npy, fleet.json)\n` +
      `read it like any data folder: verge data ${f.out}; verge train --data ${f.out} …`,
  );
}
