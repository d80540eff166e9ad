/**
 * Retraining on what the fleet collected (docs/edge-loop.md, "Retraining"), over a RetrainBackend
 * (retrain-backend.ts: HTTP for `verge retrain`, the services for the control plane's scheduler):
 *
 *   - `retrainDue`: the drift policy — is a run due, and if not, why;
 *   - `retrainFromCollected`: download the version's fp32 artifact, pull the labelled collected
 *     items (fleet-dataset.ts), fine-tune (optionally replaying original data), compare before and
 *     after on the collected hold-out, publish the result as a new version whose parent is the
 *     starting one (unless it got worse there), store its drift reference, and optionally
 *   - `canaryAfterRetrain`: roll it out as a canary to the drifted deployment's target.
 *
 * Due when all hold:
 *   - the model's drift score over the window (the version most inputs came from, against its
 *     training reference) is above the threshold;
 *   - no version retrained from collected items (optimization `retrain:…`) was published within
 *     the cooldown;
 *   - the cloud holds at least `minLabelled` labelled collected items of the model.
 */
import semver from 'semver';
import { type Dataset, concatSplits, take } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import { decodeModel, encodeModel, type Model } from '../onnx/browser.ts';
import {
  addToDriftSummary,
  emptyDriftSummary,
  encryptArtifact,
  isEncryptedArtifact,
  type CreateDeploymentRequest,
  type Deployment,
  type DriftScore,
} from '../protocol/index.ts';
import { evaluate, fit, TrainingSession } from '../train/index.ts';
import { pullFleetDataset } from './fleet-dataset.ts';
import { measurePublishedMemory } from './models.ts';
import type { RetrainBackend } from './retrain-backend.ts';

export interface DriftTrigger {
  threshold: number;
  windowMs: number;
  cooldownMs: number;
  minLabelled: number;
}

export type TriggerDecision =
  | { due: true; version: string; drift: DriftScore; labelled: number }
  | { due: false; reason: string; drift: DriftScore | null; labelled: number | null };

export async function retrainDue(
  backend: RetrainBackend,
  name: string,
  t: DriftTrigger,
  now = Date.now(),
): Promise<TriggerDecision> {
  let drift: DriftScore;
  try {
    drift = await backend.drift(name, now - t.windowMs);
  } catch (e) {
    if ((e as { code?: string }).code !== 'E_NOT_FOUND') throw e;
    return { due: false, reason: `no drift score: ${(e as Error).message}`, drift: null, labelled: null };
  }
  const at = `${name}@${drift.version}`;
  if (drift.score === null || drift.score <= t.threshold)
    return {
      due: false,
      reason: `${at} is not drifted: score ${drift.score === null ? 'none' : drift.score.toFixed(3)} <= ${t.threshold} over ${drift.samples} inputs`,
      drift,
      labelled: null,
    };
  const recent = (await backend.versions(name))
    .filter((v) => v.optimization?.startsWith('retrain:') && now - v.created_at < t.cooldownMs)
    .sort((a, b) => b.created_at - a.created_at)[0];
  if (recent)
    return {
      due: false,
      reason: `cooldown: ${name}@${recent.version} was retrained ${Math.round((now - recent.created_at) / 60_000)} min ago (cooldown ${Math.round(t.cooldownMs / 60_000)} min)`,
      drift,
      labelled: null,
    };
  const total = await backend.labelledCount(name);
  if (total < t.minLabelled)
    return {
      due: false,
      reason: `${at} drifted (score ${drift.score.toFixed(3)}) but only ${total} collected items are labelled, ${t.minLabelled} needed (verge label list ${name} --unlabelled --hard)`,
      drift,
      labelled: total,
    };
  return { due: true, version: drift.version, drift, labelled: total };
}

/**
 * Roll `name@next` out as a canary to the target of the newest deployment of `name@from` that
 * succeeded or is rolling out, with that deployment's edge-loop policy (so collection and drift
 * go on).
 */
export async function canaryAfterRetrain(
  backend: RetrainBackend,
  name: string,
  from: string,
  next: string,
  percent: number,
): Promise<Deployment> {
  const active = (await backend.deployments(name))
    .filter((d) => d.version === from && ['succeeded', 'canary', 'rolling'].includes(d.state))
    .sort((a, b) => b.created_at - a.created_at)[0];
  if (!active)
    throw new VergeError(
      'E_NOT_FOUND',
      `${name}@${next} is published, but no deployment of ${name}@${from} (succeeded or rolling out) gives a target to roll it out to: verge deploy ${name}@${next} --strategy canary:${percent} …`,
    );
  const policy = await backend.policy(active.id);
  const dep = await backend.deploy({
    model: name,
    version: next,
    target: active.target as CreateDeploymentRequest['target'],
    strategy: 'canary',
    canary_percent: percent,
  });
  if (policy) await backend.setPolicy(dep.id, policy);
  return dep;
}

export interface RetrainOptions {
  name: string;
  /** The starting version. */
  version: string;
  /** The version to publish (default: the next minor). */
  next?: string;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  threads?: number;
  /** Original training data: replayed beside the collected items, and evaluated on before/after. */
  original?: Dataset;
  /** Original samples replayed (default: as many as collected training items). */
  replay?: number;
  /** Publish even when the hold-out accuracy got worse. */
  force?: boolean;
  /** Train and evaluate, publish nothing. */
  dryRun?: boolean;
  /** Canary percentage of a rollout to the drifted deployment's target (none when undefined). */
  rollout?: number;
  log?: (line: string) => void;
  /** Aborts the run after the current training step (the control plane closing); nothing is published. */
  signal?: AbortSignal;
}

export interface RetrainResult {
  from: string;
  next: string;
  tuned: Model;
  published: { name: string; version: string } | null;
  deployment: { id: string; state: string; devices: number } | null;
  samples: { train: number; collected_train: number; holdout: number; unlabelled: number };
  holdout: { before: number; after: number };
  original?: { source: string; before: number; after: number };
}

/** The fine-tuning run of `verge retrain --with-collected` and of the control plane's scheduler. */
export async function retrainFromCollected(backend: RetrainBackend, o: RetrainOptions): Promise<RetrainResult> {
  const log = o.log ?? (() => undefined);
  const { name, version } = o;
  const ref = `${name}@${version}`;
  const next = o.next ?? semver.inc(version, 'minor')!;
  const versions = await backend.versions(name);
  const mv = versions.find((v) => v.version === version);
  if (!mv) throw new VergeError('E_NOT_FOUND', `no version ${version} of '${name}' in the registry`);
  if (!o.dryRun && versions.some((v) => v.version === next))
    throw new VergeError('E_CONFLICT', `${name}@${next} exists already; pick another --version`);
  const variant = mv.variants.find((v) => v.precision === 'fp32') ?? mv.variants[0];
  if (!variant) throw new VergeError('E_NOT_FOUND', `${ref} has no variant`);
  const startBytes = await backend.download(variant.sha256);
  if (isEncryptedArtifact(startBytes))
    throw new VergeError(
      'E_UNSUPPORTED',
      `${ref} is confidential: an operator key downloads only its ciphertext; the control plane's own retrain scheduler (verge cloud --auto-retrain) can retrain it`,
    );
  const start = decodeModel(startBytes, ref);

  const pulled = await pullFleetDataset(backend, name);
  const collected = pulled.dataset;
  log(
    `collected: ${pulled.labelled} labelled items of ${name} (${collected.train.count} train, ${collected.test.count} hold-out), ${pulled.unlabelled} without a label left out`,
  );
  if (collected.test.count === 0)
    throw new VergeError('E_DATA_INVALID', `only ${pulled.labelled} labelled items: too few for a hold-out`);
  const original = o.original;
  let train = collected.train;
  if (original) {
    if (original.shape.join() !== collected.shape.join())
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `--data has samples [${original.shape.join(', ')}], the collected items [${collected.shape.join(', ')}]`,
      );
    train = concatSplits(
      train,
      take(original.train, Math.min(o.replay ?? collected.train.count, original.train.count)),
    );
  }
  const trainSet: Dataset = { ...collected, classes: Math.max(collected.classes, original?.classes ?? 0), train };

  const before = await evaluate(start, trainSet, collected.test);
  const beforeOriginal = original ? await evaluate(start, original, original.test) : undefined;
  const tuned = await fineTune(start, trainSet, o, log);
  const after = await evaluate(tuned, trainSet, collected.test);
  const afterOriginal = original ? await evaluate(tuned, original, original.test) : undefined;

  let published: RetrainResult['published'] = null;
  let deployment: RetrainResult['deployment'] = null;
  if (!o.dryRun) {
    if (after.accuracy < before.accuracy && !o.force)
      throw new VergeError(
        'E_CONFLICT',
        `the retrained model is worse on the collected hold-out (${(100 * after.accuracy).toFixed(2)}% vs ${(100 * before.accuracy).toFixed(2)}%); nothing published (--force publishes anyway)`,
      );
    // a confidential model's retrained version stays confidential (under a new content key)
    const plain = encodeModel(tuned);
    const sealed = variant.encryption ? encryptArtifact(plain) : null;
    const sha256 = await backend.uploadArtifact(sealed?.bytes ?? plain);
    const loaded = await measurePublishedMemory(plain, log);
    const pub = await backend.publish({
      name,
      version: next,
      sha256,
      ...(loaded ? { loaded_memory: loaded } : {}),
      ...(sealed ? { encryption_key: sealed.key.toString('base64') } : {}),
      parent: ref,
      optimization: `retrain:collected(${collected.train.count}${original ? `+replay ${train.count - collected.train.count}` : ''})`,
      metrics: {
        holdout_accuracy: after.accuracy,
        holdout_accuracy_before: before.accuracy,
        collected_train: collected.train.count,
        collected_holdout: collected.test.count,
        ...(afterOriginal ? { test_accuracy: afterOriginal.accuracy } : {}),
      },
    });
    published = { name: pub.name, version: pub.version };
    // the training reference drift is measured against (GET /v1/edge-loop/drift)
    const reference = emptyDriftSummary();
    addToDriftSummary(reference, train.x, train.count, train.y);
    await backend.setReference(`${name}@${next}`, reference);
    if (o.rollout !== undefined) {
      const dep = await canaryAfterRetrain(backend, name, version, next, o.rollout);
      deployment = { id: dep.id, state: dep.state, devices: dep.devices.length };
    }
  }
  return {
    from: ref,
    next,
    tuned,
    published,
    deployment,
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
}

async function fineTune(start: Model, data: Dataset, o: RetrainOptions, log: (line: string) => void): Promise<Model> {
  const session = await TrainingSession.create(start, {
    loss: 'cross-entropy',
    optimizer: { kind: 'adam' },
    threads: o.threads,
  });
  try {
    await fit(session, data, {
      epochs: o.epochs,
      batchSize: o.batch,
      lr: o.lr,
      seed: o.seed,
      onEpochEnd: (r) => log(`epoch ${r.epoch}/${o.epochs}: loss ${r.loss.toFixed(4)}`),
      callbacks: [{ onBatchBegin: (_b, ctx) => void (o.signal?.aborted && ctx.stop('aborted')) }],
    });
    if (o.signal?.aborted)
      throw new VergeError('E_TIMEOUT', 'the retraining run was aborted (the control plane is closing)');
    return session.exportModel();
  } finally {
    await session.release();
  }
}
