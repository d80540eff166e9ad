/**
 * The end-to-end quickstart (`npm start`) as a library function: in one process, a control plane
 * (embedded MQTT broker, SQLite), a seed CNN trained briefly on Fashion-MNIST with verge's trainer
 * (or a model file the caller gives), its static int8 and fp16 variants, all published and
 * signed; three agents with different device profiles; a canary deployment gated on the canary's
 * real inference health, then promoted; a federated round trip (the agents fine-tune the model on
 * their own non-IID images, the result is published as the next version and rolled out the same
 * way); test images sent through every agent's HTTP API; a summary per device (variant, accuracy,
 * p50 latency).
 *
 * Progress goes through a `DemoReporter` (the CLI prints it on stderr); nothing here prints.
 */
import { deepFreeze } from '../frozen.ts';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildControlPlane, type ControlPlane } from '../cloud/index.ts';
import type { Dataset } from '../data/browser.ts';
import { loadFashionMnist } from '../data/index.ts';
import { EdgeAgent, parseProfileSpec } from '../edge/index.ts';
import { VergeError } from '../errors.ts';
import { loadModel } from '../onnx/index.ts';
import type { Model } from '../onnx/browser.ts';
import { canaryRollout, rolloutSummary, type RolloutSummary } from './rollout.ts';
import { deviceShards, federatedRoundTrip, FL_NEW_CLASS, FL_SAMPLES, type FederatedSummary } from './federated.ts';
import { QuickstartOperator, STEP_TIMEOUT_MS } from './operator.ts';
import { evaluateAgent, localAccuracy } from './traffic.ts';
import {
  makeVariants,
  trainSeedCnn,
  variantSummary,
  type TrainInfo,
  type Variant,
  type VariantSummary,
} from './model.ts';
import { round, silentReporter, type DemoReporter } from './reporter.ts';
import {
  DEFAULT_FL_ROUNDS,
  DEFAULT_TEST_SAMPLES,
  DEFAULT_TRAIN_STEPS,
  MAX_FL_ROUNDS,
  MAX_TEST_SAMPLES,
} from './defaults.ts';

export { DEFAULT_FL_ROUNDS, DEFAULT_TEST_SAMPLES, DEFAULT_TRAIN_STEPS, MAX_FL_ROUNDS, MAX_TEST_SAMPLES };

export const MODEL_NAME = 'seed-cnn';
export const MODEL_VERSION = '1.0.0';
/** Training samples for the central run (steps × batch, rounded up): enough for one pass without repeats. */
const TRAIN_SAMPLES = 20_000;
/** Calibration samples for static int8 (the quantizer's own default is 256). */
export const CALIBRATION_SAMPLES = 256;

/** The three simulated devices: name and `--profile` spec (see edge/profile.ts presets). */
export const QUICKSTART_DEVICES = deepFreeze([
  { name: 'gateway-1', profile: 'gateway', role: 'x86 gateway, fp32 only' },
  { name: 'camera-1', profile: 'camera', role: 'smart camera, int8-capable' },
  { name: 'sensor-1', profile: 'small', role: 'small device, 4 MB RAM' },
] as const);

export interface QuickstartOptions {
  /** Keep everything in this new (or empty) folder instead of a temporary one. */
  dataDir?: string;
  /** Control plane API port (default: a free one). */
  port?: number;
  /** Optimizer steps of the training run. */
  trainSteps?: number;
  /** Test images sent through each agent. */
  samples?: number;
  /** Deploy this ONNX model (a Fashion-MNIST classifier taking [N,1,28,28]) instead of training one. */
  modelFile?: string;
  /** FedAvg rounds of the federated round trip (0 skips it). */
  flRounds?: number;
}

export interface DeviceResult {
  name: string;
  profile: string;
  model: string;
  version: string;
  variant: string;
  precision: string;
  accuracy: number;
  p50_ms: number;
  p99_ms: number;
  samples: number;
  url: string;
}

export interface QuickstartSummary {
  devices: DeviceResult[];
  model: {
    name: string;
    version: string;
    source: 'trained' | 'file';
    source_note: string;
    train?: TrainInfo;
    test_accuracy_local: number;
    variants: VariantSummary[];
  };
  deployment: RolloutSummary;
  /** The federated round trip (absent with flRounds 0): the devices now serve its published version. */
  federated?: FederatedSummary;
  cloud: { url: string; mqtt_url: string; data_dir: string };
  data: { source: string; test_samples: number };
  elapsed_s: number;
}

/** A running quickstart fleet: its summary, and `stop()` to shut it down (and remove a temporary folder). */
export interface QuickstartFleet {
  summary: QuickstartSummary;
  controlPlane: ControlPlane;
  agents: EdgeAgent[];
  stop(): Promise<void>;
}

function checkOptions(opts: QuickstartOptions): { samples: number; trainSteps: number; flRounds: number } {
  const samples = opts.samples ?? DEFAULT_TEST_SAMPLES;
  const trainSteps = opts.trainSteps ?? DEFAULT_TRAIN_STEPS;
  const flRounds = opts.flRounds ?? DEFAULT_FL_ROUNDS;
  if (!Number.isInteger(flRounds) || flRounds < 0 || flRounds > MAX_FL_ROUNDS)
    throw new VergeError('E_BAD_ARGUMENT', `federated rounds must be 0..${MAX_FL_ROUNDS}, got ${flRounds}`);
  if (!Number.isInteger(samples) || samples < 1 || samples > MAX_TEST_SAMPLES)
    throw new VergeError('E_BAD_ARGUMENT', `samples must be 1..${MAX_TEST_SAMPLES}, got ${samples}`);
  if (!Number.isInteger(trainSteps) || trainSteps < 1)
    throw new VergeError('E_BAD_ARGUMENT', `train steps must be a positive integer, got ${trainSteps}`);
  if (opts.modelFile !== undefined && !existsSync(opts.modelFile))
    throw new VergeError('E_FILE_NOT_FOUND', `${opts.modelFile} does not exist`);
  return { samples, trainSteps, flRounds };
}

/** The folder the fleet lives in, and whether the quickstart made it (then it removes it). */
function baseFolder(dataDir: string | undefined): { dir: string; temporary: boolean } {
  if (!dataDir) return { dir: mkdtempSync(join(tmpdir(), 'verge-quickstart-')), temporary: true };
  const dir = resolve(dataDir);
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new VergeError(
      'E_CONFLICT',
      `${dir} is not empty: give the quickstart a new folder (or omit the data dir for a temporary one)`,
    );
  mkdirSync(dir, { recursive: true });
  return { dir, temporary: false };
}

/** The model to deploy: trained here, or read from the caller's file. */
async function prepareModel(
  opts: QuickstartOptions,
  data: Dataset,
  trainSteps: number,
  report: DemoReporter,
  announce: (text: string) => void,
): Promise<{ model: Model; source: 'trained' | 'file'; note: string; train?: TrainInfo }> {
  if (opts.modelFile !== undefined) {
    announce(`using ${opts.modelFile}`);
    return { model: loadModel(opts.modelFile), source: 'file', note: `read from ${opts.modelFile}` };
  }
  announce(`training the seed CNN for ${trainSteps} steps with verge's trainer`);
  const { model, info } = await trainSeedCnn(data, trainSteps, report);
  const note = `trained here by verge on onnxruntime: ${info.steps} steps, ${info.samples_per_sec} samples/s, ${info.seconds} s`;
  return { model, source: 'trained', note, train: info };
}

async function publishVariants(op: QuickstartOperator, variants: Variant[], localAcc: number, r: DemoReporter) {
  for (const v of variants) {
    const derived = v.variant !== 'fp32';
    const mv = await op.publish(MODEL_NAME, MODEL_VERSION, v, {
      parent: derived ? `${MODEL_NAME}@${MODEL_VERSION}` : null,
      optimization: derived ? `quantize:${v.variant}` : null,
      metrics: derived ? {} : { test_accuracy: round(localAcc, 4) },
    });
    const loaded = mv.variants.find((x) => x.variant === v.variant)?.loaded_memory?.[0];
    r.note(
      `  published ${MODEL_NAME}@${MODEL_VERSION} ${v.variant.padEnd(5)} ${String(v.bytes.length).padStart(8)} bytes${loaded ? `, ${(loaded.bytes / 2 ** 20).toFixed(2)} MB loaded` : ''}${v.profile ? ` (for profile '${v.profile}')` : ''}`,
    );
  }
}

async function startAgents(
  op: QuickstartOperator,
  url: string,
  baseDir: string,
  agents: EdgeAgent[],
  shards: Dataset[] | null,
  r: DemoReporter,
): Promise<void> {
  for (const [k, d] of QUICKSTART_DEVICES.entries()) {
    const shard = shards?.[k];
    const agent = await EdgeAgent.start({
      dataDir: join(baseDir, 'agents', d.name),
      cloudUrl: url,
      enrollToken: await op.token(),
      name: d.name,
      profile: parseProfileSpec(d.profile),
      port: 0,
      telemetryIntervalMs: 500,
      heartbeatIntervalMs: 2000,
      sessionThreads: 1,
      // the device's own training images for federated learning (they never leave it)
      ...(shard ? { localData: async () => shard } : {}),
    });
    agents.push(agent);
    r.note(
      `  ${d.name.padEnd(10)} ${d.role.padEnd(28)} ${agent.url}  (${agent.profile.precisions.join('+')}, ${agent.profile.memory_mb} MB)`,
    );
  }
  const until = Date.now() + STEP_TIMEOUT_MS;
  while (!agents.every((a) => a.state === 'online')) {
    if (Date.now() > until) throw new VergeError('E_NETWORK', 'agents did not connect to the broker');
    await new Promise((res) => setTimeout(res, 50));
  }
}

async function measureDevices(
  agents: EdgeAgent[],
  variants: VariantSummary[],
  data: Dataset,
  samples: number,
  r: DemoReporter,
) {
  const devices: DeviceResult[] = [];
  for (const [i, a] of agents.entries()) {
    const m = await evaluateAgent(a, MODEL_NAME, data, samples, r);
    devices.push({
      name: a.name,
      profile: QUICKSTART_DEVICES[i]!.profile,
      model: m.model.name,
      version: m.model.version,
      variant: m.model.variant,
      precision: variants.find((x) => x.variant === m.model.variant)?.precision ?? m.model.variant,
      accuracy: round(m.accuracy, 4),
      p50_ms: round(m.p50, 3),
      p99_ms: round(m.p99, 3),
      samples,
      url: a.url,
    });
  }
  for (const a of agents) a.flushTelemetry();
  return devices;
}

/**
 * Run the quickstart and leave the fleet up: the caller prints the summary and calls `stop()`
 * (at once, or on Ctrl-C). On failure everything started is stopped before the error is thrown.
 */
export async function runQuickstart(
  opts: QuickstartOptions = {},
  report: DemoReporter = silentReporter,
): Promise<QuickstartFleet> {
  const started = performance.now();
  const { samples, trainSteps, flRounds } = checkOptions(opts);
  const base = baseFolder(opts.dataDir);
  const total = flRounds > 0 ? 8 : 7;
  let n = 0;
  const step = (text: string) => report.step(++n, total, text);
  let cp: ControlPlane | undefined;
  const agents: EdgeAgent[] = [];
  const stop = async () => {
    for (const a of agents) await a.stop().catch(() => undefined);
    await cp?.close().catch(() => undefined);
    if (base.temporary) rmSync(base.dir, { recursive: true, force: true });
  };
  try {
    step('starting the control plane (embedded MQTT broker, SQLite)');
    cp = await buildControlPlane({ dataDir: join(base.dir, 'cloud'), tickMs: 200 });
    const { url, mqttUrl } = await cp.start({ port: opts.port ?? 0 });
    report.note(`  API ${url}   MQTT ${mqttUrl}   admin key ${cp.adminKeyPath}`);
    const op = new QuickstartOperator(url, cp.adminKey, (m) => report.note(`  warning: ${m}`));

    step('loading Fashion-MNIST');
    const central = opts.modelFile !== undefined ? CALIBRATION_SAMPLES : Math.max(TRAIN_SAMPLES, CALIBRATION_SAMPLES);
    const loaded = loadFashionMnist({ train: central + (flRounds > 0 ? FL_SAMPLES : 0), test: samples });
    const split = flRounds > 0 ? deviceShards(loaded, QUICKSTART_DEVICES.length, central) : null;
    const data = split?.central ?? loaded;
    report.note(
      `  ${data.source}: ${data.train.count} train / ${data.test.count} test images` +
        (split
          ? `; ${split.shards.map((d) => d.train.count).join(' + ')} more held by the devices` +
            ` (only they hold class ${FL_NEW_CLASS}${data.classNames?.[FL_NEW_CLASS] ? ` '${data.classNames[FL_NEW_CLASS]}'` : ''})`
          : ''),
    );
    const prepared = await prepareModel(opts, data, trainSteps, report, step);
    report.note(`  model: ${prepared.note}`);
    const startAccuracy = await localAccuracy(prepared.model, data, data.test.count);
    const localAcc = startAccuracy.accuracy;
    report.note(`  local test accuracy on ${data.test.count} images: ${(localAcc * 100).toFixed(1)}%`);

    step('making variants (static int8, fp16) and publishing them, signed');
    const variants = await makeVariants(prepared.model, data, CALIBRATION_SAMPLES);
    await publishVariants(op, variants, localAcc, report);

    step('starting three edge agents with different device profiles');
    await startAgents(op, url, base.dir, agents, split?.shards ?? null, report);

    const rollout = await canaryRollout(op, agents, data, { model: MODEL_NAME, version: MODEL_VERSION }, report, step);

    const federated = split
      ? await federatedRoundTrip(
          op,
          agents,
          split.shards,
          data,
          { name: MODEL_NAME, version: MODEL_VERSION, accuracy: startAccuracy },
          { rounds: flRounds, calibrationSamples: CALIBRATION_SAMPLES },
          report,
          step,
        )
      : undefined;

    step(`sending ${samples} Fashion-MNIST test images through each agent's HTTP API`);
    const served = federated?.variants ?? variants.map(variantSummary);
    const devices = await measureDevices(agents, served, data, samples, report);
    const summary: QuickstartSummary = {
      devices,
      model: {
        name: MODEL_NAME,
        version: MODEL_VERSION,
        source: prepared.source,
        source_note: prepared.note,
        train: prepared.train,
        test_accuracy_local: round(localAcc, 4),
        variants: variants.map(variantSummary),
      },
      deployment: rolloutSummary(rollout),
      ...(federated ? { federated } : {}),
      cloud: { url, mqtt_url: mqttUrl, data_dir: base.dir },
      data: { source: data.source, test_samples: samples },
      elapsed_s: round((performance.now() - started) / 1000, 1),
    };
    return { summary, controlPlane: cp, agents, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
