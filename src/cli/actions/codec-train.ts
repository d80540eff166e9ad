/**
 * `verge codec train --data D --latent K --out-dir DIR [--classifier M [--adapt-classifier]]
 * [--publish name@version]`: train the learned codec's autoencoder (src/cli/codec-train.ts), write
 * encoder.onnx, decoder.onnx and report.json, measure it through the real codec path on test
 * samples, optionally fine-tune the classifier on decoded inputs (src/cli/codec-adapt.ts; written
 * as classifier.onnx), and optionally publish the halves (and the adapted classifier) to the
 * registry (the cloud signs them; deploy the encoder to agents like any model).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { CloudClient, measurePublishedMemory, resolveCloud } from '../../cloud/index.ts';
import { type Dataset, describeDataset, loadDataset } from '../../data/index.ts';
import { type CodecContext, LATENT_BITS, learnedCodecModels } from '../../data/browser.ts';
import { VergeError } from '../../errors.ts';
import { encodeModel, type Model } from '../../onnx/browser.ts';
import { loadModel, saveModel, writeFileAtomic } from '../../onnx/index.ts';
import { HTTP_PATHS, type ArtifactUploadResponse, type ModelsResponse } from '../../protocol/index.ts';
import { Session } from '../../runtime/index.ts';
import { adaptClassifier, measureAdapted, type AdaptedReport } from '../codec-adapt.ts';
import { CODEC_RECIPE } from '../codec-recipe.ts';
import { measureCodec, sessionCodecContext, trainAutoencoder, type CodecReport } from '../codec-train.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit, note, table } from '../output.ts';

interface CodecTrainFlags extends CloudCliOptions {
  data: string;
  latent: number;
  latentBits: number;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  limit?: number;
  evalSamples: number;
  classifier?: string;
  taskWeight?: number;
  taskTemperature: number;
  width: number;
  adaptClassifier?: boolean;
  adaptEpochs: number;
  adaptLr: number;
  adaptData: 'both' | 'decoded';
  threads?: number;
  outDir: string;
  publish?: string;
  json?: boolean;
}

const REF = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,110})@(\S+)$/;

/** The codec's registry reference (`--publish`, else a local placeholder). */
function codecRef(f: CodecTrainFlags): string {
  if (f.publish === undefined) return 'codec@0.0.0';
  const m = REF.exec(f.publish);
  if (!m || !semver.valid(m[2]!))
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `--publish must be <name>@<semver>, e.g. fmnist-ae@1.0.0; got '${f.publish}'`,
    );
  return f.publish;
}

/**
 * The registry version the --classifier file is (a variant with its sha256): the adapted
 * classifier's parent, the model whose offloaded frames the cloud answers with it. The newest
 * when the same bytes were published more than once.
 */
async function registryModelOf(client: CloudClient, file: string): Promise<string> {
  const sha = createHash('sha256').update(readFileSync(file)).digest('hex');
  const res = await client.get<ModelsResponse>(HTTP_PATHS.models);
  const found = res.models
    .flatMap((m) => m.versions.map((v) => ({ ref: `${m.name}@${v.version}`, v })))
    .filter(({ v }) => v.variants.some((x) => x.sha256 === sha))
    .sort((a, b) => b.v.created_at - a.v.created_at);
  if (!found.length)
    throw new VergeError(
      'E_NOT_FOUND',
      `--classifier ${file} is not in the registry (no variant has sha256 ${sha.slice(0, 12)}…): publish it first (verge model publish), so the cloud knows which model the adapted classifier answers for`,
    );
  return found[0]!.ref;
}

interface Adapted {
  model: Model;
  path: string;
  report: AdaptedReport;
  parent?: string;
}

/** --adapt-classifier: the classifier fine-tuned on the training samples' decoded copies, measured on the test samples. */
async function adaptAndMeasure(
  f: CodecTrainFlags,
  classifier: Model,
  data: Dataset,
  spec: string,
  ctx: CodecContext,
  measured: { report: CodecReport; decoded: Float32Array; test: Dataset['test'] },
): Promise<Adapted> {
  note(`decoding the ${data.train.count} training samples through ${spec} …`);
  const decodedTrain = (await measureCodec(spec, data.train, data.shape, ctx)).decoded;
  const model = await adaptClassifier(classifier, data, decodedTrain, {
    epochs: f.adaptEpochs,
    lr: f.adaptLr,
    originals: f.adaptData !== 'decoded',
    batchSize: f.batch,
    seed: f.seed,
    threads: f.threads,
    onEpoch: (e, loss) => note(`adapting the classifier: epoch ${e}/${f.adaptEpochs}: loss ${loss.toFixed(4)}`),
  });
  const path = join(f.outDir, 'classifier.onnx');
  saveModel(model, path);
  const s = await Session.create(model, { threads: f.threads ?? 1 });
  try {
    const before = measured.report.classifier!.accuracy_original;
    return { model, path, report: await measureAdapted(s, measured.test, measured.decoded, data.shape, before) };
  } finally {
    await s.release();
  }
}

/** Upload each model and register it as a version (the cloud signs it). */
async function publishModels(
  client: CloudClient,
  version: string,
  models: { name: string; model: Model; optimization: string; metrics: Record<string, number>; parent?: string }[],
): Promise<void> {
  for (const m of models) {
    const bytes = encodeModel(m.model);
    const art = await client.upload<ArtifactUploadResponse>(HTTP_PATHS.artifacts, bytes);
    const loaded = await measurePublishedMemory(bytes, (why) => note(`warning: ${m.name}: ${why}`));
    await client.post(HTTP_PATHS.models, {
      name: m.name,
      version,
      sha256: art.sha256,
      ...(loaded ? { loaded_memory: loaded } : {}),
      optimization: m.optimization,
      metrics: m.metrics,
      ...(m.parent ? { parent: m.parent } : {}),
    });
  }
}

/** --publish: the codec halves and, with --adapt-classifier, the adapted classifier; returns their references. */
async function publishAll(
  client: CloudClient,
  ref: string,
  spec: string,
  f: CodecTrainFlags,
  models: { encoder: Model; decoder: Model },
  report: CodecReport,
  adapted: Adapted | undefined,
): Promise<{ encoder: string; decoder: string; classifier?: string }> {
  const names = learnedCodecModels(ref);
  const optimization = `codec-train:latent=${f.latent}${f.width !== 1 ? `,width=${f.width}` : ''}${f.taskWeight !== undefined ? `,task=${f.taskWeight}` : ''}`;
  const metrics = {
    latent: f.latent,
    bytes_per_sample: report.bytes_per_sample,
    ratio: report.ratio,
    psnr_db: report.psnr_db,
    ...(report.classifier ? { accuracy_drop_pts: report.classifier.drop_pts } : {}),
  };
  await publishModels(client, names.version, [
    { name: names.encoder, model: models.encoder, optimization, metrics },
    { name: names.decoder, model: models.decoder, optimization, metrics },
    ...(adapted
      ? [
          {
            name: names.classifier,
            model: adapted.model,
            parent: adapted.parent,
            optimization: `codec-adapt:${spec},epochs=${f.adaptEpochs},lr=${f.adaptLr}${f.adaptData === 'decoded' ? ',data=decoded' : ''}`,
            metrics: {
              accuracy_original: adapted.report.accuracy_original,
              accuracy_decoded: adapted.report.accuracy_decoded,
              accuracy_drop_pts: adapted.report.drop_pts,
            },
          },
        ]
      : []),
  ]);
  const published = {
    encoder: `${names.encoder}@${names.version}`,
    decoder: `${names.decoder}@${names.version}`,
    ...(adapted ? { classifier: `${names.classifier}@${names.version}` } : {}),
  };
  note(`published ${published.encoder} (deploy it to agents) and ${published.decoder} (the cloud decodes with it)`);
  if (adapted)
    note(`published ${published.classifier}: the cloud answers ${spec} frames sent to ${adapted.parent} with it`);
  return published;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/**
 * The task term's weight: --task-weight, else the recipe's with a --classifier; 0 (MSE only) is
 * undefined.
 */
function taskWeightOf(f: CodecTrainFlags): number | undefined {
  if (f.taskWeight !== undefined && f.taskWeight > 0 && f.classifier === undefined)
    throw new VergeError('E_BAD_ARGUMENT', '--task-weight trains against a classifier: give it with --classifier');
  const w = f.taskWeight ?? (f.classifier !== undefined ? CODEC_RECIPE.task.weight : 0);
  return w > 0 ? w : undefined;
}

export default async function codecTrain(flags: CodecTrainFlags): Promise<void> {
  const f = { ...flags, taskWeight: taskWeightOf(flags) };
  const ref = codecRef(f);
  if (f.adaptClassifier && f.classifier === undefined)
    throw new VergeError('E_BAD_ARGUMENT', '--adapt-classifier fine-tunes the --classifier: give it');
  // a missing or broken file fails before training
  const classifier = f.classifier !== undefined ? loadModel(f.classifier) : undefined;
  if (existsSync(f.outDir) && !statSync(f.outDir).isDirectory())
    throw new VergeError('E_BAD_ARGUMENT', `--out-dir ${f.outDir} is a file`);
  const client = f.publish !== undefined ? new CloudClient(resolveCloud(f)) : undefined;
  // before training: the adapted classifier needs its parent in the registry
  const parent = client && f.adaptClassifier ? await registryModelOf(client, f.classifier!) : undefined;
  const data = await loadDataset(f.data, f.limit !== undefined ? { limits: { train: f.limit } } : {});
  note(describeDataset(data));
  const started = Date.now();
  const models = await trainAutoencoder(data, {
    latent: f.latent,
    width: f.width,
    epochs: f.epochs,
    batchSize: f.batch,
    lr: f.lr,
    seed: f.seed,
    threads: f.threads,
    ...(f.taskWeight !== undefined && classifier
      ? { task: { classifier, weight: f.taskWeight, temperature: f.taskTemperature } }
      : {}),
    onEpoch: (e, loss, task) =>
      note(
        `epoch ${e}/${f.epochs}: reconstruction mse ${loss.toFixed(5)}${task !== undefined ? `, task term ${task.toFixed(4)}` : ''} (${((Date.now() - started) / 1000).toFixed(0)} s)`,
      ),
  });
  mkdirSync(f.outDir, { recursive: true });
  const encoderPath = join(f.outDir, 'encoder.onnx');
  const decoderPath = join(f.outDir, 'decoder.onnx');
  saveModel(models.encoder, encoderPath);
  saveModel(models.decoder, decoderPath);

  const spec = f.latentBits === LATENT_BITS ? `learned:${ref}` : `learned:${ref}:${f.latentBits}`;
  const { ctx, release } = await sessionCodecContext(ref, models, f.threads ?? 1);
  const clf = f.classifier ? await Session.create(readFileSync(f.classifier), { threads: f.threads ?? 1 }) : undefined;
  let report: CodecReport;
  let adapted: Adapted | undefined;
  try {
    const test = { ...data.test, count: Math.min(f.evalSamples, data.test.count) };
    const measured = await measureCodec(spec, test, data.shape, ctx, clf);
    report = measured.report;
    if (f.adaptClassifier) adapted = await adaptAndMeasure(f, classifier!, data, spec, ctx, { ...measured, test });
  } finally {
    await release();
    await clf?.release();
  }
  if (adapted) adapted.parent = parent;

  const published = client ? await publishAll(client, ref, spec, f, models, report, adapted) : undefined;
  const result = {
    codec: spec,
    data: data.source,
    latent: f.latent,
    latent_bits: f.latentBits,
    width: f.width,
    epochs: f.epochs,
    loss: f.taskWeight !== undefined ? { mse: 1, task: f.taskWeight, temperature: f.taskTemperature } : { mse: 1 },
    final_mse: models.history.at(-1)?.loss ?? null,
    ...report,
    psnr_db: Number.isFinite(report.psnr_db) ? report.psnr_db : null,
    ...(adapted
      ? {
          adapted_classifier: {
            ...adapted.report,
            epochs: f.adaptEpochs,
            lr: f.adaptLr,
            data: f.adaptData,
            path: adapted.path,
            ...(adapted.parent ? { parent: adapted.parent } : {}),
          },
        }
      : {}),
    encoder: encoderPath,
    decoder: decoderPath,
    ...(published ? { published } : {}),
  };
  writeFileAtomic(join(f.outDir, 'report.json'), JSON.stringify(result, null, 2) + '\n');
  emit(
    f,
    result,
    () =>
      table(
        ['codec', 'bytes/sample', 'raw bytes', 'smaller', 'PSNR dB', 'accuracy orig → decoded', 'adapted: decoded'],
        [
          [
            spec,
            report.bytes_per_sample.toFixed(1),
            report.raw_bytes_per_sample,
            `${report.ratio.toFixed(1)}×`,
            report.psnr_db.toFixed(2),
            report.classifier
              ? `${pct(report.classifier.accuracy_original)} → ${pct(report.classifier.accuracy_decoded)}`
              : '-',
            adapted
              ? `${pct(adapted.report.accuracy_decoded)} (originals ${pct(adapted.report.accuracy_original)})`
              : '-',
          ],
        ],
      ) + `\nencoder ${encoderPath}, decoder ${decoderPath}${adapted ? `, adapted classifier ${adapted.path}` : ''}`,
  );
}
