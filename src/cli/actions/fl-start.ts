import { existsSync } from 'node:fs';
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { VergeError } from '../../errors.ts';
import { readBytes } from '../../onnx/index.ts';
import { FL_PATHS, HTTP_PATHS, type FlJob } from '../../protocol/index.ts';
import { followJob, jobReport, jobSummary } from '../fl-jobs.ts';
import type { ClientLrSchedule } from '../../fl/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit, note } from '../output.ts';

interface StartOptions extends CloudCliOptions {
  devices?: string[];
  tag?: Record<string, string>;
  rounds: number;
  strategy: string;
  minClients: number;
  minAvailable?: number;
  fractionFit: number;
  roundTimeout: number;
  localEpochs: number;
  localSteps?: number;
  batch: number;
  lr?: number;
  lrDecay?: number;
  lrMin?: number;
  lrSchedule?: ClientLrSchedule;
  restrictedSoftmax?: number;
  logitCalibration?: number;
  compress: string;
  secureAgg?: boolean;
  dpClip?: number;
  dpNoise?: number;
  dpDelta?: number;
  publish?: string;
  wait?: boolean;
  json?: boolean;
}

function nameAtVersion(flag: string, s: string): { name: string; version: string } {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*)@(\S+)$/.exec(s);
  if (!m) throw new VergeError('E_BAD_ARGUMENT', `${flag} must be name@version, got '${s}'`);
  return { name: m[1]!, version: m[2]! };
}

/** `verge fl start <model.onnx|name@version> (--devices a,b | --tag k=v) --rounds R …` */
export default async function flStart(model: string, o: StartOptions): Promise<void> {
  if (!o.devices?.length && !o.tag)
    throw new VergeError('E_BAD_ARGUMENT', 'choose the clients with --devices a,b or --tag k=v');
  if ((o.dpClip === undefined) !== (o.dpNoise === undefined))
    throw new VergeError('E_BAD_ARGUMENT', 'DP needs both --dp-clip C and --dp-noise Z');
  if (o.dpDelta !== undefined && o.dpClip === undefined)
    throw new VergeError('E_BAD_ARGUMENT', '--dp-delta needs --dp-clip and --dp-noise');
  if (o.minAvailable !== undefined && o.minAvailable < o.minClients)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `--min-available (${o.minAvailable}) is below --min-clients (${o.minClients})`,
    );
  const client = new CloudClient(resolveCloud(o));
  let ref: { sha256: string } | { name: string; version: string };
  if (existsSync(model))
    ref = { sha256: (await client.upload<{ sha256: string }>(HTTP_PATHS.artifacts, readBytes(model))).sha256 };
  else if (model.includes('@')) ref = nameAtVersion('the model', model);
  else throw new VergeError('E_FILE_NOT_FOUND', `${model} is neither a file nor name@version`);
  const job = await client.post<FlJob>(FL_PATHS.jobs, {
    model: ref,
    target: { ...(o.devices?.length ? { devices: o.devices } : {}), ...(o.tag ? { tags: o.tag } : {}) },
    rounds: o.rounds,
    strategy: o.strategy,
    min_fit_clients: o.minClients,
    ...(o.minAvailable !== undefined ? { min_available_clients: o.minAvailable } : {}),
    fraction_fit: o.fractionFit,
    round_timeout_s: o.roundTimeout,
    local_epochs: o.localEpochs,
    ...(o.localSteps !== undefined ? { local_steps: o.localSteps } : {}),
    batch_size: o.batch,
    ...(o.lr !== undefined ? { lr: o.lr } : {}),
    ...(o.lrDecay !== undefined ? { lr_decay: o.lrDecay } : {}),
    ...(o.lrMin !== undefined ? { lr_min: o.lrMin } : {}),
    ...(o.lrSchedule !== undefined ? { lr_schedule: o.lrSchedule } : {}),
    ...(o.restrictedSoftmax !== undefined ? { restricted_softmax: o.restrictedSoftmax } : {}),
    ...(o.logitCalibration !== undefined ? { logit_calibration: o.logitCalibration } : {}),
    compress: o.compress,
    ...(o.secureAgg ? { secure_agg: true } : {}),
    ...(o.dpClip !== undefined && o.dpNoise !== undefined
      ? {
          dp: { clip: o.dpClip, noise_multiplier: o.dpNoise, ...(o.dpDelta !== undefined ? { delta: o.dpDelta } : {}) },
        }
      : {}),
    ...(o.publish ? { publish: nameAtVersion('--publish', o.publish) } : {}),
  });
  note(`started ${job.id}`);
  const final = o.wait ? await followJob(client, job.id) : job;
  emit(o, jobSummary(final), () => jobReport(final));
  if (o.wait && final.state !== 'completed') process.exitCode = 1;
}
