/**
 * `verge retrain <name@version> --with-collected …`: download the version's fp32 artifact (checked
 * against its sha256), pull the fleet's labelled collected items (src/cli/fleet-data.ts), fine-tune
 * on them (optionally replaying original data), evaluate before and after on the collected
 * hold-out (and the original test split with --data), and publish the result as a new version
 * whose parent is the starting one — unless it got worse on the hold-out (--force overrides).
 */
import semver from 'semver';
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { type Dataset, concatSplits, take } from '../../data/browser.ts';
import { loadDataset } from '../../data/index.ts';
import { VergeError } from '../../errors.ts';
import { decodeModel, encodeModel } from '../../onnx/browser.ts';
import { saveModel } from '../../onnx/index.ts';
import {
  EDGE_LOOP_PATHS,
  HTTP_PATHS,
  addToDriftSummary,
  emptyDriftSummary,
  type ArtifactUploadResponse,
  type ModelsResponse,
  type ModelVersion,
} from '../../protocol/index.ts';
import { evaluate, fit, TrainingSession } from '../../train/index.ts';
import { pullFleetDataset } from '../fleet-data.ts';
import { canaryAfterRetrain, retrainDue, type TriggerDecision } from '../retrain-trigger.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit, note, table } from '../output.ts';

interface RetrainFlags extends CloudCliOptions {
  withCollected: boolean;
  data?: string;
  replay?: number;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  version?: string;
  force?: boolean;
  dryRun?: boolean;
  out?: string;
  threads?: number;
  whenDrifted?: boolean;
  driftThreshold: number;
  driftWindowH: number;
  cooldownH: number;
  minLabelled: number;
  rollout?: number;
  json?: boolean;
}

/**
 * Long because: the steps of `verge retrain` in order (drift trigger, source version, fleet data,
 * accuracy before, fine-tuning, accuracy after, publish, rollout), each reading what the ones
 * before made; naming those steps as functions is still to do.
 */
export default async function retrain(spec: string, f: RetrainFlags): Promise<void> {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,127})(?:@(\S+))?$/.exec(spec);
  if (!m || (m[2] !== undefined && !semver.valid(m[2])) || (m[2] === undefined && !f.whenDrifted))
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `give the starting model as <name>@<semver>, e.g. clf@1.0.0 (or <name> with --when-drifted); got '${spec}'`,
    );
  if (f.rollout !== undefined && f.dryRun)
    throw new VergeError('E_BAD_ARGUMENT', '--rollout deploys what is published; --dry-run publishes nothing');
  if (f.version !== undefined && !semver.valid(f.version))
    throw new VergeError('E_BAD_ARGUMENT', `--version '${f.version}' is not semver`);
  const name = m[1]!;
  const client = new CloudClient(resolveCloud(f));
  let trigger: TriggerDecision | undefined;
  if (f.whenDrifted) {
    trigger = await retrainDue(client, name, {
      threshold: f.driftThreshold,
      windowMs: f.driftWindowH * 3600_000,
      cooldownMs: f.cooldownH * 3600_000,
      minLabelled: f.minLabelled,
    });
    if (!trigger.due) {
      const { reason, drift } = trigger;
      emit(f, { from: null, published: null, triggered: false, reason, drift }, () => `not retraining: ${reason}`);
      return;
    }
    note(
      `retraining: ${name}@${trigger.version} drifted (score ${trigger.drift.score!.toFixed(3)} > ${f.driftThreshold} over ${trigger.drift.samples} inputs), ${trigger.labelled} labelled items`,
    );
  }
  const version = m[2] ?? (trigger?.due ? trigger.version : '');
  const ref = `${name}@${version}`;
  const next = f.version ?? semver.inc(version, 'minor')!;
  const listed = await client.get<ModelsResponse>(HTTP_PATHS.model(name));
  const mv = listed.models[0]?.versions.find((v) => v.version === version);
  if (!mv) throw new VergeError('E_NOT_FOUND', `no version ${version} of '${name}' in the registry`);
  if (!f.dryRun && listed.models[0]!.versions.some((v) => v.version === next))
    throw new VergeError('E_CONFLICT', `${name}@${next} exists already; pick another --version`);
  const variant = mv.variants.find((v) => v.precision === 'fp32') ?? mv.variants[0];
  if (!variant) throw new VergeError('E_NOT_FOUND', `${ref} has no variant`);
  const start = decodeModel(await client.download(variant.sha256, 300_000), ref);

  const pulled = await pullFleetDataset(client, name);
  const collected = pulled.dataset;
  note(
    `collected: ${pulled.labelled} labelled items of ${name} (${collected.train.count} train, ${collected.test.count} hold-out), ${pulled.unlabelled} without a label left out`,
  );
  if (collected.test.count === 0)
    throw new VergeError('E_DATA_INVALID', `only ${pulled.labelled} labelled items: too few for a hold-out`);
  let original: Dataset | undefined;
  let train = collected.train;
  if (f.data) {
    original = await loadDataset(f.data);
    if (original.shape.join() !== collected.shape.join())
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `--data has samples [${original.shape.join(', ')}], the collected items [${collected.shape.join(', ')}]`,
      );
    train = concatSplits(
      train,
      take(original.train, Math.min(f.replay ?? collected.train.count, original.train.count)),
    );
  }
  const classes = Math.max(collected.classes, original?.classes ?? 0);
  const trainSet: Dataset = { ...collected, classes, train };

  const before = await evaluate(start, trainSet, collected.test);
  const beforeOriginal = original ? await evaluate(start, original, original.test) : undefined;
  const session = await TrainingSession.create(start, {
    loss: 'cross-entropy',
    optimizer: { kind: 'adam' },
    threads: f.threads,
  });
  let tuned;
  try {
    await fit(session, trainSet, {
      epochs: f.epochs,
      batchSize: f.batch,
      lr: f.lr,
      seed: f.seed,
      onEpochEnd: (r) => note(`epoch ${r.epoch}/${f.epochs}: loss ${r.loss.toFixed(4)}`),
    });
    tuned = session.exportModel();
  } finally {
    await session.release();
  }
  const after = await evaluate(tuned, trainSet, collected.test);
  const afterOriginal = original ? await evaluate(tuned, original, original.test) : undefined;
  if (f.out) saveModel(tuned, f.out);

  const worse = after.accuracy < before.accuracy;
  let published: { name: string; version: string } | null = null;
  let deployment: { id: string; state: string; devices: number } | null = null;
  if (!f.dryRun) {
    if (worse && !f.force)
      throw new VergeError(
        'E_CONFLICT',
        `the retrained model is worse on the collected hold-out (${(100 * after.accuracy).toFixed(2)}% vs ${(100 * before.accuracy).toFixed(2)}%); nothing published (--force publishes anyway)`,
      );
    const art = await client.upload<ArtifactUploadResponse>(HTTP_PATHS.artifacts, encodeModel(tuned));
    const metrics: Record<string, number> = {
      holdout_accuracy: after.accuracy,
      holdout_accuracy_before: before.accuracy,
      collected_train: collected.train.count,
      collected_holdout: collected.test.count,
      ...(afterOriginal ? { test_accuracy: afterOriginal.accuracy } : {}),
    };
    const pub = await client.post<ModelVersion>(HTTP_PATHS.models, {
      name,
      version: next,
      sha256: art.sha256,
      parent: ref,
      optimization: `retrain:collected(${collected.train.count}${original ? `+replay ${train.count - collected.train.count}` : ''})`,
      metrics,
    });
    published = { name: pub.name, version: pub.version };
    // the training reference drift is measured against (GET /v1/edge-loop/drift)
    const reference = emptyDriftSummary();
    addToDriftSummary(reference, train.x, train.count, train.y);
    await client.request('PUT', EDGE_LOOP_PATHS.reference(`${name}@${next}`), reference);
    if (f.rollout === undefined)
      note(
        `published ${name}@${next} (parent ${ref}); roll it out with: verge deploy ${name}@${next} --strategy canary:10`,
      );
    else {
      const dep = await canaryAfterRetrain(client, name, version, next, f.rollout);
      deployment = { id: dep.id, state: dep.state, devices: dep.devices.length };
      note(
        `published ${name}@${next} (parent ${ref}); canary deployment ${dep.id} (${f.rollout}% of ${dep.devices.length} device(s)); watch it with: verge deployments`,
      );
    }
  }
  const result = {
    from: ref,
    published,
    ...(trigger ? { triggered: true, drift: trigger.drift } : {}),
    ...(f.rollout !== undefined ? { deployment } : {}),
    samples: {
      train: train.count,
      collected_train: collected.train.count,
      holdout: collected.test.count,
      unlabelled: pulled.unlabelled,
    },
    holdout: { before: before.accuracy, after: after.accuracy },
    ...(original && beforeOriginal && afterOriginal
      ? { original: { source: original.source, before: beforeOriginal.accuracy, after: afterOriginal.accuracy } }
      : {}),
  };
  emit(f, result, () =>
    table(
      ['evaluated on', `${ref}`, published ? `${name}@${next}` : 'retrained'],
      [
        [
          `collected hold-out (${collected.test.count})`,
          `${(100 * before.accuracy).toFixed(2)}%`,
          `${(100 * after.accuracy).toFixed(2)}%`,
        ],
        ...(beforeOriginal && afterOriginal
          ? [
              [
                `original test (${original!.test.count})`,
                `${(100 * beforeOriginal.accuracy).toFixed(2)}%`,
                `${(100 * afterOriginal.accuracy).toFixed(2)}%`,
              ],
            ]
          : []),
      ],
    ),
  );
}
