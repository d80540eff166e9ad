/**
 * `verge retrain <name@version> --with-collected …`: fine-tune a version on the fleet's labelled
 * collected items over the control plane's HTTP API (src/cloud/retrain.ts: download, pull,
 * fine-tune, compare on the collected hold-out and the original test split with --data, publish
 * with lineage unless it got worse there — --force overrides). `--when-drifted` runs only when the
 * drift policy says a run is due (for cron; the control plane's own scheduler applies the same
 * policy, `verge cloud --auto-retrain`).
 */
import semver from 'semver';
import {
  CloudClient,
  httpRetrainBackend,
  resolveCloud,
  retrainDue,
  retrainFromCollected,
  type TriggerDecision,
} from '../../cloud/index.ts';
import { loadDataset } from '../../data/index.ts';
import { VergeError } from '../../errors.ts';
import { saveModel } from '../../onnx/index.ts';
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
  const backend = httpRetrainBackend(new CloudClient(resolveCloud(f)));
  let trigger: TriggerDecision | undefined;
  if (f.whenDrifted) {
    trigger = await retrainDue(backend, name, {
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
  const original = f.data ? await loadDataset(f.data) : undefined;
  const r = await retrainFromCollected(backend, {
    name,
    version,
    next: f.version,
    epochs: f.epochs,
    batch: f.batch,
    lr: f.lr,
    seed: f.seed,
    threads: f.threads,
    original,
    replay: f.replay,
    force: f.force,
    dryRun: f.dryRun,
    rollout: f.rollout,
    log: note,
  });
  if (f.out) saveModel(r.tuned, f.out);
  if (r.published && !r.deployment)
    note(
      `published ${name}@${r.next} (parent ${r.from}); roll it out with: verge deploy ${name}@${r.next} --strategy canary:10`,
    );
  if (r.published && r.deployment)
    note(
      `published ${name}@${r.next} (parent ${r.from}); canary deployment ${r.deployment.id} (${f.rollout}% of ${r.deployment.devices} device(s)); watch it with: verge deployments`,
    );
  const result = {
    from: r.from,
    published: r.published,
    ...(trigger ? { triggered: true, drift: trigger.drift } : {}),
    ...(f.rollout !== undefined ? { deployment: r.deployment } : {}),
    samples: r.samples,
    holdout: r.holdout,
    ...(r.original ? { original: r.original } : {}),
  };
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  emit(f, result, () =>
    table(
      ['evaluated on', r.from, r.published ? `${name}@${r.next}` : 'retrained'],
      [
        [`collected hold-out (${r.samples.holdout})`, pct(r.holdout.before), pct(r.holdout.after)],
        ...(r.original
          ? [[`original test (${original!.test.count})`, pct(r.original.before), pct(r.original.after)]]
          : []),
      ],
    ),
  );
}
