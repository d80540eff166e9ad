/**
 * The quickstart's federated round trip: the three agents hold disjoint, non-IID shards of
 * Fashion-MNIST training images (their `localData`, never uploaded), including the one class the
 * central training run never saw (FL_NEW_CLASS), so what they teach the model is measurable on the
 * test images; a FedAvg job over the fleet
 * (retained MQTT tasks, signed HTTP uploads, int8 updates) fine-tunes the deployed model on them for
 * a few rounds; the control plane publishes the result as the next version with its lineage; the
 * quickstart makes its int8 and fp16 variants and rolls it out with the same canary as before.
 *
 * Bounded: a few rounds of a few hundred images per device, each round closing at a deadline even
 * if a device never answers (then with the others), the whole job under FL_JOB_TIMEOUT_MS.
 */
import { type Dataset, type Split, selectSamples } from '../data/browser.ts';
import type { EdgeAgent } from '../edge/index.ts';
import { VergeError } from '../errors.ts';
import { classCounts, partitionIndices } from '../fl/index.ts';
import { decodeModel } from '../onnx/browser.ts';
import { FL_PATHS, HTTP_PATHS, type FlJob, type ModelsResponse } from '../protocol/index.ts';
import { makeVariants, variantSummary, type Variant, type VariantSummary } from './model.ts';
import { QUICKSTART_TAGS, type QuickstartOperator } from './operator.ts';
import { round, type DemoReporter } from './reporter.ts';
import { canaryRollout, rolloutSummary, type RolloutSummary } from './rollout.ts';
import { localAccuracy, type LocalAccuracy } from './traffic.ts';

/** Training images shared out over the devices (the last ones of the loaded training split). */
export const FL_SAMPLES = 1_800;
/** With a small training split (the repo's subset), at most this share of it goes to the devices. */
const FL_MAX_SHARE = 0.3;
/** Dirichlet concentration of the devices' label mix: 0.5 gives each device a skewed class mix. */
export const FL_DIRICHLET_ALPHA = 0.5;
/** Seed of the partition (the shards are the same on every run with the same data). */
const FL_PARTITION_SEED = 9;
/**
 * The class only the devices hold: the central run trains without its images, as when a product
 * line appears in the field after the model shipped. Without it 1,800 device images on top of
 * 20,000 central ones moved the model by ±2 pt (noise); with it 3 rounds taught the class (0 → 80%
 * of its test images) and the model gained 4.6 pt (simulation, 1,000 test images, 2026-12-02).
 * 8 = 'Bag': a class no other one resembles, so its absence costs only its own images.
 */
export const FL_NEW_CLASS = 8;
/**
 * Client SGD step (momentum 0.9, the client default). At 0.01 the devices' skewed shards cost the
 * known classes 2–3 pt in 3 rounds (client drift); 0.002 learns the new class about as well
 * (80% vs 85% of its images) with less forgetting (measured as above).
 */
const FL_LR = 0.002;
/** A round waits at most this long for its devices (a silent device does not stall the job). */
const FL_ROUND_TIMEOUT_S = 60;
/** Every round, the final evaluation round and publishing must fit in this. */
const FL_JOB_TIMEOUT_MS = 300_000;
/** Poll period of the job's state: rounds take a second or more. */
const POLL_MS = 200;

/**
 * Split the loaded training images: the devices' local data (disjoint non-IID shards of the last
 * FL_SAMPLES or fewer, never seen by the central training run) and the rest, without any image of
 * FL_NEW_CLASS, for central use.
 */
export function deviceShards(data: Dataset, devices: number, central: number): { central: Dataset; shards: Dataset[] } {
  // what is left after the `central` samples wanted, but at least FL_MAX_SHARE of a small split
  const n = Math.min(FL_SAMPLES, Math.max(data.train.count - central, Math.floor(data.train.count * FL_MAX_SHARE)));
  const from = data.train.count - n;
  const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
  const pool = selectSamples(data.train, range(from, data.train.count));
  const parts = partitionIndices(pool.y, devices, { kind: 'dirichlet', alpha: FL_DIRICHLET_ALPHA }, FL_PARTITION_SEED);
  const empty: Split = { x: new Float32Array(0), y: new Int32Array(0), count: 0 };
  return {
    central: {
      ...data,
      train: selectSamples(
        data.train,
        range(0, from).filter((i) => data.train.y[i] !== FL_NEW_CLASS),
      ),
    },
    // no test split: each agent holds out a share of its shard for the federated evaluation
    shards: parts.map((idx) => ({ ...data, name: `${data.name} shard`, train: selectSamples(pool, idx), test: empty })),
  };
}

export interface FederatedSummary {
  job: string;
  strategy: string;
  rounds: number;
  partition: string;
  devices: { name: string; samples: number; classes: number[] }[];
  /** Federated evaluation on the devices' hold-outs: the starting model, then after each round. */
  holdout_accuracy: (number | null)[];
  uplink_bytes: number;
  published: { name: string; version: string; parent: string | null; optimization: string | null };
  test_accuracy_local_before: number;
  test_accuracy_local: number;
  /** The class only the devices held: its images among theirs, and its share of test images right. */
  new_class: {
    index: number;
    name: string | null;
    device_samples: number;
    test_accuracy_before: number | null;
    test_accuracy: number | null;
  };
  variants: VariantSummary[];
  deployment: RolloutSummary;
  job_seconds: number;
  seconds: number;
}

async function waitForJob(op: QuickstartOperator, id: string, report: DemoReporter): Promise<FlJob> {
  const until = Date.now() + FL_JOB_TIMEOUT_MS;
  let shown = 0;
  for (;;) {
    const job = await op.client.get<FlJob>(FL_PATHS.job(id));
    const closed = job.history.filter((h) => h.state !== 'open');
    for (const h of closed.slice(shown))
      report.note(
        `  round ${h.round} (${h.task}): ${h.accepted}/${h.selected} devices answered` +
          (h.accuracy !== null
            ? `, devices' hold-out accuracy of the round's global model ${(h.accuracy * 100).toFixed(1)}%`
            : '') +
          (h.uplink_bytes ? `, ${h.uplink_bytes} update bytes up` : '') +
          (h.state === 'failed' ? ' — failed, retried' : ''),
      );
    shown = closed.length;
    if (job.state === 'completed') return job;
    if (job.state !== 'running')
      throw new VergeError('E_RUNTIME', `FL job ${id} ${job.state}${job.error ? `: ${job.error}` : ''}`);
    if (Date.now() > until)
      throw new VergeError('E_NETWORK', `FL job ${id} did not complete in ${FL_JOB_TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** The published version's fp32 model (the control plane wrote it) and its registry record. */
async function fetchPublished(op: QuickstartOperator, name: string, version: string) {
  const listed = await op.client.get<ModelsResponse>(HTTP_PATHS.model(name));
  const mv = listed.models[0]?.versions.find((v) => v.version === version);
  const fp32 = mv?.variants.find((v) => v.variant === 'fp32');
  if (!mv || !fp32) throw new VergeError('E_NOT_FOUND', `${name}@${version} was not published`);
  const model = decodeModel(await op.client.download(fp32.sha256), `${name}@${version}`);
  return { mv, model, bytes: fp32.size };
}

async function publishDerived(
  op: QuickstartOperator,
  ref: { name: string; version: string; parent: string | null },
  variants: Variant[],
  report: DemoReporter,
): Promise<void> {
  for (const v of variants.filter((x) => x.variant !== 'fp32')) {
    await op.publish(ref.name, ref.version, v, {
      parent: ref.parent,
      optimization: `quantize:${v.variant}`,
      metrics: {},
    });
    report.note(
      `  published ${ref.name}@${ref.version} ${v.variant.padEnd(5)} ${String(v.bytes.length).padStart(8)} bytes`,
    );
  }
}

/**
 * Run the round trip over the running fleet (whose agents were started with `deviceShards`), then
 * roll the federated version out. `start` is the deployed version the job starts from.
 */
export async function federatedRoundTrip(
  op: QuickstartOperator,
  agents: EdgeAgent[],
  shards: Dataset[],
  data: Dataset,
  start: { name: string; version: string; accuracy: LocalAccuracy },
  opts: { rounds: number; calibrationSamples: number },
  report: DemoReporter,
  announce: (text: string) => void,
): Promise<FederatedSummary> {
  const t0 = performance.now();
  const partition = `dirichlet:${FL_DIRICHLET_ALPHA}`;
  announce(
    `federated learning: ${opts.rounds} FedAvg rounds over the three agents' own images (${partition}), then publish and roll out`,
  );
  const devices = agents.map((a, k) => ({
    name: a.name,
    samples: shards[k]!.train.count,
    classes: classCounts(shards[k]!.train.y, Array.from(shards[k]!.train.y.keys()), data.classes),
  }));
  for (const d of devices)
    report.note(`  ${d.name.padEnd(10)} ${String(d.samples).padStart(4)} images, per class [${d.classes.join(' ')}]`);
  const newClass = data.classNames?.[FL_NEW_CLASS] ?? null;
  const newSamples = devices.reduce((a, d) => a + (d.classes[FL_NEW_CLASS] ?? 0), 0);
  report.note(
    `  class ${FL_NEW_CLASS}${newClass ? ` '${newClass}'` : ''}: ${newSamples} images on the devices, none in the central run`,
  );
  const created = await op.client.post<FlJob>(FL_PATHS.jobs, {
    model: { name: start.name, version: start.version },
    target: { tags: QUICKSTART_TAGS },
    rounds: opts.rounds,
    strategy: 'fedavg',
    min_fit_clients: 2,
    round_timeout_s: FL_ROUND_TIMEOUT_S,
    local_epochs: 1,
    batch_size: 32,
    lr: FL_LR,
    compress: 'int8',
  });
  report.note(`  job ${created.id}: ${created.strategy}, int8 updates, signed uploads; raw images stay on the devices`);
  const job = await waitForJob(op, created.id, report);
  const jobSeconds = (performance.now() - t0) / 1000;
  const published = job.published!;
  const { mv, model } = await fetchPublished(op, published.name, published.version);
  report.note(`  published ${published.name}@${published.version} fp32 (${mv.optimization}, parent ${mv.parent})`);
  const after = await localAccuracy(model, data, data.test.count);
  const pct = (x: number | null | undefined) => (x == null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
  const [newBefore, newAfter] = [start.accuracy.perClass[FL_NEW_CLASS], after.perClass[FL_NEW_CLASS]];
  report.note(
    `  local test accuracy on ${data.test.count} images: ${pct(start.accuracy.accuracy)} → ${pct(after.accuracy)}` +
      `; on its class-${FL_NEW_CLASS} images ${pct(newBefore)} → ${pct(newAfter)}`,
  );
  const variants = await makeVariants(model, data, opts.calibrationSamples);
  await publishDerived(op, { ...published, parent: mv.parent }, variants, report);
  const rollout = await canaryRollout(
    op,
    agents,
    data,
    { model: published.name, version: published.version },
    report,
    (text) => report.note(`  ${text}`),
  );
  return {
    job: job.id,
    strategy: job.strategy,
    rounds: job.rounds_completed,
    partition,
    devices,
    holdout_accuracy: [
      ...job.history.filter((h) => h.task === 'fit' && h.state === 'closed').map((h) => h.accuracy),
      job.final?.accuracy ?? null,
    ],
    uplink_bytes: job.history.reduce((s, h) => s + h.uplink_bytes, 0),
    published: { ...published, parent: mv.parent, optimization: mv.optimization },
    test_accuracy_local_before: round(start.accuracy.accuracy, 4),
    test_accuracy_local: round(after.accuracy, 4),
    new_class: {
      index: FL_NEW_CLASS,
      name: newClass,
      device_samples: newSamples,
      test_accuracy_before: newBefore == null ? null : round(newBefore, 4),
      test_accuracy: newAfter == null ? null : round(newAfter, 4),
    },
    variants: variants.map(variantSummary),
    deployment: rolloutSummary(rollout),
    job_seconds: round(jobSeconds, 1),
    seconds: round((performance.now() - t0) / 1000, 1),
  };
}
