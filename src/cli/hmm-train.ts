/**
 * `verge train --arch hmm`: one hidden Markov model per class on speech features of a waveform
 * dataset (speech-digits, a WAV folder), exported as one ONNX model that takes raw waveforms, and
 * evaluated through onnxruntime exactly as `verge eval` will.
 */
import { type Dataset, withDataInfo } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import {
  COVARIANCE_TYPES,
  TOPOLOGIES,
  type CovarianceType,
  type Topology,
  exportRecognizer,
  RECOGNIZER_DEFAULTS,
  WordRecognizer,
} from '../hmm/index.ts';
import { saveModel } from '../onnx/index.ts';
import { evaluate } from '../train/index.ts';
import { emit, note, peakRssMb, table } from './output.ts';

export interface HmmTrainFlags {
  epochs?: number;
  states?: number;
  mixtures?: number;
  covarianceType?: string;
  topology?: string;
  seed: number;
  out: string;
  json?: boolean;
}

/** Evaluation batch: waveforms of a few seconds make large frame tensors, so fewer per run than images. */
const HMM_EVAL_BATCH = 32;

function choice<T extends string>(flag: string, value: string | undefined, allowed: readonly T[], dflt: T): T {
  if (value === undefined) return dflt;
  if (!(allowed as readonly string[]).includes(value))
    throw new VergeError('E_BAD_ARGUMENT', `${flag} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}

/** Parse and check the HMM flags before any data is read. */
export function hmmOptions(flags: HmmTrainFlags) {
  return {
    n_iter: flags.epochs ?? RECOGNIZER_DEFAULTS.n_iter,
    n_components: flags.states ?? RECOGNIZER_DEFAULTS.n_components,
    n_mix: flags.mixtures ?? RECOGNIZER_DEFAULTS.n_mix,
    covariance_type: choice<CovarianceType>('--covariance-type', flags.covarianceType, COVARIANCE_TYPES, 'diag'),
    topology: choice<Topology>('--topology', flags.topology, TOPOLOGIES, 'left-to-right'),
    random_state: flags.seed || 0,
  };
}

export async function trainHmm(data: Dataset, flags: HmmTrainFlags): Promise<void> {
  const pre = data.preprocessing;
  if (pre?.kind !== 'audio' || data.shape.length !== 1)
    throw new VergeError(
      'E_DATA_INVALID',
      `--arch hmm trains on audio (speech-digits or a folder of <class>/*.wav); ${data.name} holds samples of shape [${data.shape.join(', ')}]`,
    );
  const sampleRate = Number(pre.sampleRate);
  const o = hmmOptions(flags);
  const labels = data.classNames ?? Array.from({ length: data.classes }, (_, i) => String(i));
  note(
    `training ${labels.length} word models: ${o.n_components} ${o.topology} states × ${o.n_mix} ${o.covariance_type} Gaussians, up to ${o.n_iter} EM iterations`,
  );
  const t0 = performance.now();
  const rec = WordRecognizer.train(
    data.train,
    labels,
    { ...o, init_method: o.topology === 'left-to-right' ? 'segments' : 'kmeans', features: undefined },
    (p) =>
      note(
        `  ${p.word}/${p.words} '${p.label}': ${p.utterances} utterances, ${p.iterations} EM iterations, log-likelihood ${p.logLikelihood.toFixed(2)} per frame`,
      ),
  );
  const seconds = (performance.now() - t0) / 1000;
  if (rec.sampleRate !== sampleRate)
    throw new VergeError(
      'E_DATA_INVALID',
      `the data is at ${sampleRate} Hz; the front end expects ${rec.sampleRate} Hz`,
    );
  const model = withDataInfo(exportRecognizer(rec), { classNames: labels, preprocessing: pre });
  const bytes = saveModel(model, flags.out);
  const test = data.test.count
    ? await evaluate(model, data, data.test, {
        batchSize: HMM_EVAL_BATCH,
        inputShape: data.shape,
        inputName: 'waveform',
      })
    : { accuracy: NaN, loss: NaN, samples: 0 };
  const history = rec.models.map((m, w) => ({
    word: labels[w],
    iterations: m.monitor_.iter,
    converged: m.monitor_.converged,
    log_likelihood: m.monitor_.history,
  }));
  const report = {
    epochs: Math.max(...history.map((h) => h.iterations)),
    steps: 0,
    samples_per_sec: Math.round(data.train.count / seconds),
    history,
    test: { accuracy: test.accuracy, loss: test.loss, samples: test.samples },
    train_seconds: Math.round(seconds * 100) / 100,
    peak_rss_mb: peakRssMb(),
    data: { name: data.name, source: data.source, train: data.train.count, test: data.test.count },
    model: {
      arch: 'hmm',
      states: o.n_components,
      mixtures: o.n_mix,
      covariance_type: o.covariance_type,
      topology: o.topology,
      sample_rate: sampleRate,
    },
    out: flags.out,
    bytes,
  };
  emit(flags, report, () =>
    [
      table(
        ['word', 'EM iterations', 'converged', 'final log-likelihood'],
        history.map((h) => [h.word!, h.iterations, h.converged ? 'yes' : 'no', h.log_likelihood.at(-1)!.toFixed(1)]),
      ),
      `test: accuracy ${(100 * test.accuracy).toFixed(2)}% on ${test.samples} utterances (held-out speakers for speech-digits)`,
      `trained in ${report.train_seconds} s; peak RSS ${report.peak_rss_mb} MiB`,
      `wrote ${flags.out} (${bytes.toLocaleString('en-US')} bytes): input waveform [batch, samples] at ${sampleRate} Hz, outputs log_likelihood and probabilities`,
    ].join('\n'),
  );
}
