/**
 * `verge codec train --data D --latent K --out-dir DIR [--classifier M] [--publish name@version]`:
 * train the learned codec's autoencoder (src/cli/codec-train.ts), write encoder.onnx, decoder.onnx
 * and report.json, measure it through the real codec path on test samples, and optionally publish
 * both halves to the registry (the cloud signs them; deploy the encoder to agents like any model).
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { describeDataset, loadDataset } from '../../data/index.ts';
import { learnedCodecModels } from '../../data/browser.ts';
import { VergeError } from '../../errors.ts';
import { encodeModel } from '../../onnx/browser.ts';
import { loadModel, saveModel, writeFileAtomic } from '../../onnx/index.ts';
import { HTTP_PATHS, type ArtifactUploadResponse } from '../../protocol/index.ts';
import { Session } from '../../runtime/index.ts';
import { measureCodec, sessionCodecContext, trainAutoencoder, type CodecReport } from '../codec-train.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit, note, table } from '../output.ts';

interface CodecTrainFlags extends CloudCliOptions {
  data: string;
  latent: number;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  limit?: number;
  evalSamples: number;
  classifier?: string;
  taskWeight?: number;
  taskTemperature: number;
  threads?: number;
  outDir: string;
  publish?: string;
  json?: boolean;
}

const REF = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,110})@(\S+)$/;

export default async function codecTrain(f: CodecTrainFlags): Promise<void> {
  let ref = 'codec@0.0.0';
  if (f.publish !== undefined) {
    const m = REF.exec(f.publish);
    if (!m || !semver.valid(m[2]!))
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `--publish must be <name>@<semver>, e.g. fmnist-ae@1.0.0; got '${f.publish}'`,
      );
    ref = f.publish;
  }
  if (f.taskWeight !== undefined && f.classifier === undefined)
    throw new VergeError('E_BAD_ARGUMENT', '--task-weight trains against a classifier: give it with --classifier');
  // a missing or broken file fails before training
  const classifier = f.classifier !== undefined ? loadModel(f.classifier) : undefined;
  if (existsSync(f.outDir) && !statSync(f.outDir).isDirectory())
    throw new VergeError('E_BAD_ARGUMENT', `--out-dir ${f.outDir} is a file`);
  const data = await loadDataset(f.data, f.limit !== undefined ? { limits: { train: f.limit } } : {});
  note(describeDataset(data));
  const started = Date.now();
  const models = await trainAutoencoder(data, {
    latent: f.latent,
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

  const spec = `learned:${ref}`;
  const { ctx, release } = await sessionCodecContext(ref, models, f.threads ?? 1);
  const clf = f.classifier ? await Session.create(readFileSync(f.classifier), { threads: f.threads ?? 1 }) : undefined;
  let report: CodecReport;
  try {
    const test = { ...data.test, count: Math.min(f.evalSamples, data.test.count) };
    report = (await measureCodec(spec, test, data.shape, ctx, clf)).report;
  } finally {
    await release();
    await clf?.release();
  }

  let published: { encoder: string; decoder: string } | undefined;
  const metrics = {
    latent: f.latent,
    bytes_per_sample: report.bytes_per_sample,
    ratio: report.ratio,
    psnr_db: report.psnr_db,
    ...(report.classifier ? { accuracy_drop_pts: report.classifier.drop_pts } : {}),
  };
  if (f.publish !== undefined) {
    const names = learnedCodecModels(ref);
    const client = new CloudClient(resolveCloud(f));
    for (const [name, model] of [
      [names.encoder, models.encoder],
      [names.decoder, models.decoder],
    ] as const) {
      const art = await client.upload<ArtifactUploadResponse>(HTTP_PATHS.artifacts, encodeModel(model));
      await client.post(HTTP_PATHS.models, {
        name,
        version: names.version,
        sha256: art.sha256,
        optimization: `codec-train:latent=${f.latent}${f.taskWeight !== undefined ? `,task=${f.taskWeight}` : ''}`,
        metrics,
      });
    }
    published = { encoder: `${names.encoder}@${names.version}`, decoder: `${names.decoder}@${names.version}` };
    note(`published ${published.encoder} (deploy it to agents) and ${published.decoder} (the cloud decodes with it)`);
  }
  const result = {
    codec: spec,
    data: data.source,
    latent: f.latent,
    epochs: f.epochs,
    loss: f.taskWeight !== undefined ? { mse: 1, task: f.taskWeight, temperature: f.taskTemperature } : { mse: 1 },
    final_mse: models.history.at(-1)?.loss ?? null,
    ...report,
    psnr_db: Number.isFinite(report.psnr_db) ? report.psnr_db : null,
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
        ['codec', 'bytes/sample', 'raw bytes', 'smaller', 'PSNR dB', 'accuracy orig → decoded'],
        [
          [
            spec,
            report.bytes_per_sample.toFixed(1),
            report.raw_bytes_per_sample,
            `${report.ratio.toFixed(1)}×`,
            report.psnr_db.toFixed(2),
            report.classifier
              ? `${(100 * report.classifier.accuracy_original).toFixed(2)}% → ${(100 * report.classifier.accuracy_decoded).toFixed(2)}%`
              : '-',
          ],
        ],
      ) + `\nencoder ${encoderPath}, decoder ${decoderPath}`,
  );
}
