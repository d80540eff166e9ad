/**
 * Spoken digits, side by side: the HMM recognizer (one left-to-right GMM-HMM per word, trained by
 * EM) and a neural keyword spotter trained by verge's own trainer (`fit`; default kws-cnn, the
 * temporal CNN, over the same MFCC features, with a noise-augmented copy of every training
 * utterance, random time shifts of the windows and a cosine learning rate), on speech-digits'
 * held-out speakers, clean and with white noise at 10 dB and 0 dB SNR: accuracy, model bytes,
 * training time, and per-utterance latency through an agent's local API — both models take the WAV
 * file (`audio/wav`): the CNN is exported behind the same ONNX speech front end as the HMM
 * (data/audio/waveform-model.ts). Also MFCC extraction speed as a multiple of real time on one core.
 * Targets: HMM ≥ 90% clean; neural ≥ HMM; MFCC ≥ 100× real time.
 *
 *   npm run bench -- speech [--quick] [--speakers N] [--repeats N] [--epochs N] [--latency-runs N] [--kws-noise LO:HI|none]
 *     [--kws-arch cnn|kws-cnn|kws-dscnn] [--kws-lr X] [--kws-schedule SPEC] [--kws-batch N] [--kws-augment LIST|none]
 *     [--kws-standardize coefficient|global] [--seeds 0,1,2] [--name NAME]
 *
 * Full run (60 speakers × 3): a few minutes to synthesize once (cached), ~3 min after that on a
 * quiet 2-core machine. --quick: 20 speakers × 2, 3 CNN epochs.
 */
import { parseArgs } from 'node:util';
import { DIGITS, buildSpeechDigits } from '../src/data/audio/speech-digits-synthesis.ts';
import { featureOptions } from '../src/data/audio/features.ts';
import { mfcc, mfccPlan } from '../src/data/audio/mfcc.ts';
import { loadWavFolder } from '../src/data/audio/wav-folder.ts';
import { encodeWav } from '../src/data/audio/wav.ts';
import { meanStd, rng, type Dataset, type Split } from '../src/data/dataset.ts';
import { kwsData, kwsWindow, kwsWindows, withWhiteNoise } from '../src/data/audio/kws.ts';
import { InferenceStats } from '../src/edge/inference-stats.ts';
import { buildLocalApi } from '../src/edge/local-api.ts';
import { ServedModels, loadModelBytes } from '../src/edge/served-models.ts';
import { exportRecognizer } from '../src/hmm/onnx-export.ts';
import { WordRecognizer } from '../src/hmm/recognizer.ts';
import { withSpeechFrontEnd } from '../src/data/audio/waveform-model.ts';
import { augmenter, parseAugment } from '../src/data/transforms/index.ts';
import { buildArchitecture } from '../src/nn/architectures.ts';
import { encodeModel } from '../src/onnx/codec.ts';
import { evaluate, fit } from '../src/train/fit.ts';
import { parseSchedule } from '../src/train/schedules.ts';
import { TrainingSession } from '../src/train/session.ts';
import { printTable, round, stats, writeResult } from './lib.ts';

const TARGETS = { hmm_clean_accuracy: 0.9, mfcc_realtime_factor: 100 };
/** The CNN sees a fixed window: 1 s of frames from the start of speech (the VAD span), zero-padded. */
const KWS_FRAMES = 100;
const SNRS = [null, 10, 0] as const;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    speakers: { type: 'string' },
    repeats: { type: 'string' },
    epochs: { type: 'string' },
    'latency-runs': { type: 'string', default: '50' },
    // one extra copy of every training utterance with white noise at a random SNR in this range (dB); 'none' to turn off
    'kws-noise': { type: 'string', default: '0:20' },
    // on-the-fly augmentation of the keyword spotter's feature windows (--augment syntax; 'none' for none)
    'kws-augment': { type: 'string', default: 'timeshift:8' },
    // the keyword spotter: an architecture name (cnn = the seed CNN, kws-cnn, kws-dscnn), its Adam lr, schedule and batch
    'kws-arch': { type: 'string', default: 'kws-cnn' },
    'kws-lr': { type: 'string', default: '0.003' },
    'kws-schedule': { type: 'string', default: 'cosine' },
    'kws-batch': { type: 'string', default: '64' },
    // 'coefficient': one mean/std per MFCC coefficient over speech frames (kws.ts); 'global': one over everything
    'kws-standardize': { type: 'string', default: 'coefficient' },
    seed: { type: 'string', default: '0' },
    // train both models once per seed (comma-separated, e.g. 0,1,2): accuracy as mean ± spread; latency from the first
    seeds: { type: 'string' },
    // bench/results/<name>.json (default speech), e.g. to run seeds side by side in separate processes
    name: { type: 'string', default: 'speech' },
  },
});
const quick = values.quick!;
const speakers = Number(values.speakers ?? (quick ? 20 : 60));
const repeats = Number(values.repeats ?? (quick ? 2 : 3));
const epochs = Number(values.epochs ?? (quick ? 3 : 10));
const latencyRuns = Number(values['latency-runs']);
const kwsNoise = values['kws-noise'] === 'none' ? null : values['kws-noise']!.split(':').map(Number);
const seeds = (values.seeds ?? values.seed!).split(',').map(Number);
if (seeds.some((x) => !Number.isInteger(x)))
  throw new Error(`--seeds: whole numbers separated by commas, got ${values.seeds}`);
const seed = seeds[0]!;
const kwsArch = values['kws-arch']!;
const kwsLr = Number(values['kws-lr']);
const kwsSchedule = parseSchedule(values['kws-schedule']!);
const kwsAugmentSpec = values['kws-augment'] === 'none' ? undefined : values['kws-augment'];
const kwsBatch = Number(values['kws-batch']);
const kwsStandardize = values['kws-standardize']!;
const log = (s: string): void => void process.stderr.write(s + '\n');

// ---- data ------------------------------------------------------------------------------------
let t = performance.now();
const built = await buildSpeechDigits({
  speakers,
  repeats,
  onProgress: (d, n) => d % 100 === 0 && log(`  synthesized ${d}/${n}`),
});
const synthSeconds = (performance.now() - t) / 1000;
const data = loadWavFolder(built.dir, { labels: DIGITS });
const per = data.shape[0]!;
log(
  `speech-digits: ${data.train.count} train (${built.trainSpeakers.length} speakers) / ${data.test.count} test (${built.testSpeakers.length} unseen speakers), ${built.cached ? 'cached' : `built in ${synthSeconds.toFixed(0)} s`}`,
);

/** The test split with seeded white noise at `snr` dB relative to each utterance's speech (its non-zero extent). */
function noisy(split: Split, snr: number | null): Split {
  if (snr === null) return split;
  return withWhiteNoise(split, per, () => snr, rng(seed + 1000 + snr));
}

const testSets = SNRS.map((snr) => ({ snr, split: noisy(data.test, snr) }));

// ---- MFCC speed: one core, interleaved rounds, median ----------------------------------------
const plan = mfccPlan();
const speedRounds: number[] = [];
const audioSeconds = (data.test.count * per) / data.sampleRate;
for (let r = 0; r < 5; r++) {
  t = performance.now();
  for (let i = 0; i < data.test.count; i++) mfcc(data.test.x.subarray(i * per, (i + 1) * per), plan);
  speedRounds.push(audioSeconds / ((performance.now() - t) / 1000));
}
const mfccRealtime = speedRounds.sort((a, b) => a - b)[2]!;
log(`MFCC: ${mfccRealtime.toFixed(0)}× real time (median of 5 passes over ${audioSeconds.toFixed(0)} s of audio)`);

// ---- HMM -----------------------------------------------------------------------------------
type Accuracy = Record<string, number>;
const snrKey = (snr: number | null): string => (snr === null ? 'clean' : `${snr}dB`);

function featureless(d: typeof data): Dataset {
  return { name: d.name, source: d.source, shape: d.shape, classes: d.classes, train: d.train, test: d.test };
}

/** One HMM recognizer trained with this seed (k-means of the mixtures): accuracy per SNR, the deployed form's. */
async function trainHmm(s: number) {
  const start = performance.now();
  const rec = WordRecognizer.train(data.train, [...DIGITS], { random_state: s }, (p) =>
    log(`  HMM '${p.label}': ${p.utterances} utterances, ${p.iterations} EM iterations`),
  );
  const seconds = (performance.now() - start) / 1000;
  const model = exportRecognizer(rec);
  const accuracy: Accuracy = {};
  for (const { snr, split } of testSets) {
    let right = 0;
    for (let i = 0; i < split.count; i++)
      if (rec.predict(split.x.subarray(i * per, (i + 1) * per)) === split.y[i]) right++;
    accuracy[snrKey(snr)] = right / split.count;
  }
  // the deployed form must agree: ONNX accuracy on the clean test split through onnxruntime
  const onnx = await evaluate(model, { ...featureless(data), shape: [per] }, data.test, {
    batchSize: 32,
    inputShape: [per],
    inputName: 'waveform',
  });
  log(
    `HMM seed ${s}: ${JSON.stringify(accuracy)} (ONNX clean ${onnx.accuracy.toFixed(4)}), trained in ${seconds.toFixed(1)} s`,
  );
  return { rec, bytes: encodeModel(model), accuracy, onnxAccuracy: onnx.accuracy, seconds };
}

// ---- neural keyword spotter on the same features ---------------------------------------------
// the windows, noise copies and per-coefficient standardization `verge train --arch kws-*` uses (data/audio/kws.ts)
const fopts = featureOptions();
const dim = 39;
const kwsFeatures = (waveform: Float32Array): Float32Array => kwsWindow(waveform, KWS_FRAMES, fopts, plan);
const kwsTests = testSets.map(({ snr, split }) => ({ snr, split: kwsWindows(split, per, KWS_FRAMES, fopts) }));

/** One keyword spotter trained by `fit` with this seed (initialization, noise copies, shuffling, augmentation). */
async function trainKws(s: number) {
  const kws = kwsData(
    { ...featureless(data), preprocessing: { kind: 'audio', sampleRate: data.sampleRate, samples: per } },
    { frames: KWS_FRAMES, features: fopts, seed: s, ...(kwsNoise ? { noiseSnr: kwsNoise as [number, number] } : {}) },
  );
  const kwsData_: Dataset = { ...kws.dataset, test: kwsTests[0]!.split };
  const cnn = buildArchitecture(kwsArch, {
    inputShape: kwsData_.shape,
    classes: 10,
    seed: s,
    standardize: kwsStandardize === 'global' ? meanStd(kws.dataset.train.x) : kws.standardize,
  });
  const start = performance.now();
  const session = await TrainingSession.create(cnn, {
    loss: 'cross-entropy',
    optimizer: { kind: 'adam', lr: kwsLr },
    threads: 2,
    seed: s,
  });
  const augment = kwsAugmentSpec
    ? augmenter(parseAugment(kwsAugmentSpec), {
        shape: kwsData_.shape,
        classes: 10,
        seed: s,
        loss: 'cross-entropy',
        what: 'MFCC windows',
      })
    : undefined;
  const fitted = await fit(session, kwsData_, {
    epochs,
    batchSize: kwsBatch,
    seed: s,
    schedule: kwsSchedule,
    ...(augment ? { callbacks: [augment] } : {}),
    onEpochEnd: (r) =>
      log(
        `  CNN epoch ${r.epoch}: loss ${r.loss.toFixed(4)} acc ${(r.accuracy ?? 0).toFixed(4)} ${r.samples_per_sec} samples/s`,
      ),
  });
  const seconds = (performance.now() - start) / 1000;
  const featureModel = session.exportModel();
  await session.release();
  // deployable like the HMM: the ONNX speech front end in front of the CNN, so agents take the WAV file
  const model = withSpeechFrontEnd(featureModel, {
    features: fopts,
    frames: KWS_FRAMES,
    sampleRate: data.sampleRate,
    labels: [...DIGITS],
  });
  const accuracy: Accuracy = {};
  for (const { snr, split } of kwsTests) {
    const r = await evaluate(featureModel, kwsData_, split, { batchSize: 100, inputShape: kwsData_.shape });
    accuracy[snrKey(snr)] = r.accuracy;
  }
  // the deployed form (waveform in) on the clean test split through onnxruntime
  const onnx = await evaluate(model, { ...featureless(data), shape: [per] }, data.test, {
    batchSize: 32,
    inputShape: [per],
    inputName: 'waveform',
  });
  log(
    `CNN seed ${s}: ${JSON.stringify(accuracy)}, trained in ${seconds.toFixed(1)} s (${fitted.samples_per_sec} samples/s)`,
  );
  return {
    bytes: encodeModel(model),
    accuracy,
    onnxAccuracy: onnx.accuracy,
    seconds,
    samplesPerSec: fitted.samples_per_sec,
    trainUtterances: kws.dataset.train.count,
  };
}

const hmmRuns: Awaited<ReturnType<typeof trainHmm>>[] = [];
const cnnRuns: Awaited<ReturnType<typeof trainKws>>[] = [];
for (const s of seeds) {
  hmmRuns.push(await trainHmm(s));
  cnnRuns.push(await trainKws(s));
}
/** Mean, sample standard deviation, min and max of each SNR's accuracy over the seeds. */
function acrossSeeds(runs: { accuracy: Accuracy }[]) {
  return Object.fromEntries(
    testSets.map(({ snr }) => {
      const v = runs.map((r) => r.accuracy[snrKey(snr)]!);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
      return [snrKey(snr), { mean: round(mean, 4), sd: round(sd, 4), min: Math.min(...v), max: Math.max(...v) }];
    }),
  ) as Record<string, { mean: number; sd: number; min: number; max: number }>;
}
const hmmAcross = acrossSeeds(hmmRuns);
const cnnAcross = acrossSeeds(cnnRuns);
const meanAccuracy = (a: typeof hmmAcross): Accuracy =>
  Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v.mean]));
const hmmAccuracy = meanAccuracy(hmmAcross);
const cnnAccuracy = meanAccuracy(cnnAcross);
const meanOf = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
// the models served for latency: the first seed's
const rec = hmmRuns[0]!.rec;
const hmmBytes = hmmRuns[0]!.bytes;
const cnnBytes = cnnRuns[0]!.bytes;
// ---- latency per utterance through an agent's local API, interleaved --------------------------
const served = new ServedModels();
const api = buildLocalApi({ served, stats: new InferenceStats() });
const id = (name: string, bytes: Uint8Array) => ({
  name,
  version: '1.0.0',
  variant: 'fp32',
  sha256: name + bytes.length,
});
served.swap(await loadModelBytes(id('hmm', hmmBytes), hmmBytes, { threads: 1 }));
served.swap(await loadModelBytes(id('cnn', cnnBytes), cnnBytes, { threads: 1 }));
const hmmMs: number[] = [];
const cnnMs: number[] = [];
const cnnFeatureMs: number[] = [];
for (let r = 0; r < latencyRuns; r++) {
  const i = r % data.test.count;
  const w = data.test.x.subarray(i * per, (i + 1) * per);
  const wav = encodeWav({ sampleRate: data.sampleRate, channels: [w] });
  let s = performance.now();
  const a = await api.inject({
    method: 'POST',
    url: '/v1/models/hmm:predict',
    headers: { 'content-type': 'audio/wav' },
    payload: Buffer.from(wav),
  });
  hmmMs.push(performance.now() - s);
  s = performance.now();
  const b = await api.inject({
    method: 'POST',
    url: '/v1/models/cnn:predict',
    headers: { 'content-type': 'audio/wav' },
    payload: Buffer.from(wav),
  });
  cnnMs.push(performance.now() - s);
  // what a client computing the features itself would spend (the old deployment form), for reference
  s = performance.now();
  kwsFeatures(w);
  cnnFeatureMs.push(performance.now() - s);
  if (a.statusCode !== 200 || b.statusCode !== 200)
    throw new Error(`agent answered ${a.statusCode} / ${b.statusCode}: ${a.body} ${b.body}`);
}
await api.close();
await served.close();

const hmmLatency = stats(hmmMs);
const cnnLatency = stats(cnnMs);
const figures = {
  config: {
    speakers,
    repeats,
    train_utterances: data.train.count,
    test_utterances: data.test.count,
    train_speakers: built.trainSpeakers.length,
    test_speakers: built.testSpeakers,
    sample_rate: data.sampleRate,
    features: '13 Kaldi MFCC + deltas + delta-deltas, energy VAD trim, CMN',
    hmm: {
      states: rec.models[0]!.n_components,
      mixtures: 2,
      covariance: 'diag',
      topology: 'left-to-right',
      init: 'uniform segments',
    },
    cnn: {
      arch: `${kwsArch === 'cnn' ? 'seed CNN (nn cnn)' : kwsArch} behind the ONNX speech front end`,
      standardize:
        kwsStandardize === 'global' ? 'one mean/std over all values' : 'per MFCC coefficient over speech frames',
      features: [1, KWS_FRAMES, dim],
      epochs,
      optimizer: `adam ${kwsLr}`,
      schedule: values['kws-schedule'],
      batch: kwsBatch,
      train_utterances: cnnRuns[0]!.trainUtterances,
      feature_augmentation: kwsAugmentSpec ?? 'none',
      noise_augmentation: kwsNoise
        ? `one copy of each training utterance with white noise at a uniform SNR in ${kwsNoise[0]}..${kwsNoise[1]} dB`
        : 'none',
    },
    noise: 'seeded white Gaussian noise over the whole recording, scaled to the SNR over the speech',
    quick,
    seeds,
  },
  mfcc_realtime_factor: round(mfccRealtime, 1),
  hmm: {
    // mean over the seeds; across_seeds: mean, sd, min, max; per_seed: each run
    accuracy: hmmAccuracy,
    across_seeds: hmmAcross,
    per_seed: hmmRuns.map((r, i) => ({ seed: seeds[i], accuracy: r.accuracy, onnx_clean_accuracy: r.onnxAccuracy })),
    onnx_clean_accuracy: meanOf(hmmRuns.map((r) => r.onnxAccuracy)),
    model_bytes: hmmBytes.length,
    train_seconds: round(meanOf(hmmRuns.map((r) => r.seconds)), 2),
    agent_latency_ms: hmmLatency,
    agent_input: 'the WAV file (audio/wav), front end inside the ONNX model',
  },
  cnn: {
    accuracy: cnnAccuracy,
    across_seeds: cnnAcross,
    per_seed: cnnRuns.map((r, i) => ({ seed: seeds[i], accuracy: r.accuracy, onnx_clean_accuracy: r.onnxAccuracy })),
    model_bytes: cnnBytes.length,
    train_seconds: round(meanOf(cnnRuns.map((r) => r.seconds)), 2),
    onnx_clean_accuracy: meanOf(cnnRuns.map((r) => r.onnxAccuracy)),
    train_samples_per_sec: round(meanOf(cnnRuns.map((r) => r.samplesPerSec)), 1),
    agent_latency_ms: cnnLatency,
    typescript_feature_ms: stats(cnnFeatureMs),
    agent_input: 'the WAV file (audio/wav), front end inside the ONNX model (the same as the HMM)',
  },
  targets: TARGETS,
  meets_targets: {
    hmm_clean: hmmAccuracy.clean! >= TARGETS.hmm_clean_accuracy,
    neural_at_least_hmm: cnnAccuracy.clean! >= hmmAccuracy.clean!,
    neural_at_least_hmm_every_seed: cnnRuns.every((r, i) => r.accuracy.clean! >= hmmRuns[i]!.accuracy.clean!),
    mfcc_speed: mfccRealtime >= TARGETS.mfcc_realtime_factor,
  },
};
const path = writeResult(values.name!, figures);
const pct = (x: number | undefined): string => (x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);
/** "mean% ± sd" over the seeds (just the figure for one seed). */
const cell = (a: typeof hmmAcross, key: string): string =>
  seeds.length > 1 ? `${pct(a[key]!.mean)} ± ${(100 * a[key]!.sd).toFixed(1)}` : pct(a[key]!.mean);
printTable(
  ['model', 'clean', '10 dB', '0 dB', 'bytes', 'train s', 'agent p50 ms'],
  [
    [
      `HMM (${rec.models[0]!.n_components} states × 2 Gaussians)`,
      cell(hmmAcross, 'clean'),
      cell(hmmAcross, '10dB'),
      cell(hmmAcross, '0dB'),
      hmmBytes.length,
      round(meanOf(hmmRuns.map((r) => r.seconds)), 1),
      hmmLatency.p50_ms,
    ],
    [
      `${kwsArch} keyword spotter (fit)`,
      cell(cnnAcross, 'clean'),
      cell(cnnAcross, '10dB'),
      cell(cnnAcross, '0dB'),
      cnnBytes.length,
      round(meanOf(cnnRuns.map((r) => r.seconds)), 1),
      cnnLatency.p50_ms,
    ],
  ],
);
if (seeds.length > 1) console.log(`accuracy: mean ± sample sd over seeds ${seeds.join(', ')}; per seed in the JSON`);
console.log(`MFCC ${round(mfccRealtime, 0)}× real time on one core; wrote ${path}`);
