/**
 * `npm start` — the end-to-end quickstart. In one process: a control plane (embedded MQTT broker,
 * SQLite), a seed CNN trained briefly on Fashion-MNIST with verge's own trainer (or the committed
 * PyTorch-trained fixture when the trainer is unavailable), its int8 (static, calibrated) and fp16
 * variants when verge's quantizer is available, all published and signed; three agents with
 * different device profiles; a canary deployment gated on the canary's real inference health,
 * then promoted; Fashion-MNIST test images sent through every agent's HTTP API; a summary per
 * device (variant, accuracy, p50 latency).
 *
 *   npm start                     stays up, prints where the API and each agent are
 *   npm start -- --once --json    runs once, prints ONE JSON object, exits 0
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { buildControlPlane, CloudClient, type ControlPlane } from '../cloud/index.ts';
import { loadFashionMnist } from '../data/sources/fashion-mnist.ts';
import type { Dataset } from '../data/dataset.ts';
import { EdgeAgent } from '../edge/agent.ts';
import { parseProfileSpec } from '../edge/profile.ts';
import { VergeError, isVergeError } from '../errors.ts';
import { encodeModel, decodeModel } from '../onnx/codec.ts';
import type { Model } from '../onnx/ir.ts';
import {
  HTTP_PATHS,
  type Deployment,
  type EnrollTokenResponse,
  type ModelVersion,
  type Precision,
} from '../protocol/index.ts';
import { emit, note, progressBar, table } from './output.ts';

const here = dirname(fileURLToPath(import.meta.url));
/** The PyTorch-trained seed CNN committed by test/fixtures/make_trained_cnn.py: the fallback model. */
export const FIXTURE_MODEL = resolve(here, '../../test/fixtures/models/seed_cnn_fmnist.onnx');

export const MODEL_NAME = 'seed-cnn';
export const MODEL_VERSION = '1.0.0';
/** Optimizer steps of the brief training run: ~20k samples, ~80% test accuracy, ~15-30 s on 2 cores. */
export const DEFAULT_TRAIN_STEPS = 300;
export const TRAIN_BATCH = 64;
/** Training samples loaded (steps × batch, rounded up): enough for one pass without repeats. */
const TRAIN_SAMPLES = 20_000;
/** Test images sent through each agent. */
export const DEFAULT_TEST_SAMPLES = 500;
/** Calibration samples for static int8 (the quantizer's own default is 256). */
const CALIBRATION_SAMPLES = 256;
/** One device of three is the canary (ceil(3 × 33%) = 1). */
const CANARY_PERCENT = 33;
/** Requests the canary must serve before its health gate can pass. */
const CANARY_MIN_INFERENCES = 50;
/** Requests sent to the canary during the gate (a few more than the minimum). */
const CANARY_REQUESTS = 64;
/** A canary may fail no request at all in the quickstart. */
const CANARY_MAX_ERROR_RATE = 0;
/** How long the quickstart waits for any rollout step before giving up. */
const STEP_TIMEOUT_MS = 60_000;

/** The three simulated devices: name and `--profile` spec (see edge/profile.ts presets). */
export const QUICKSTART_DEVICES = [
  { name: 'gateway-1', profile: 'gateway', role: 'x86 gateway, fp32 only' },
  { name: 'camera-1', profile: 'camera', role: 'smart camera, int8-capable' },
  { name: 'sensor-1', profile: 'small', role: 'small device, 4 MB RAM' },
] as const;

export interface QuickstartOptions {
  once?: boolean;
  json?: boolean;
  dataDir?: string;
  port?: number;
  trainSteps?: number;
  samples?: number;
  /** Skip training and use the committed fixture model. */
  noTrain?: boolean;
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
    source: 'trained' | 'fixture';
    source_note: string;
    train?: { steps: number; samples_per_sec: number; seconds: number };
    test_accuracy_local: number;
    variants: { variant: string; precision: string; bytes: number; profile: string | null; note?: string }[];
  };
  deployment: { id: string; strategy: string; canary: string[]; gate: string | null; state: string; seconds: number };
  cloud: { url: string; mqtt_url: string; data_dir: string };
  data: { source: string; test_samples: number };
  elapsed_s: number;
}

interface Variant {
  variant: string;
  precision: Precision;
  profile: string | null;
  bytes: Uint8Array;
  note?: string;
}

function step(n: number, total: number, text: string): void {
  note(`[${n}/${total}] ${text}`);
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Accuracy of a model on the first `n` test images, run locally (the number the agents should match). */
async function localAccuracy(model: Model, data: Dataset, n: number): Promise<number> {
  const { Session } = await import('../runtime/index.ts');
  const s = await Session.create(model, { threads: 2 });
  try {
    const input = s.inputNames[0]!;
    const per = 28 * 28;
    const x = data.test.x.subarray(0, n * per);
    const out = await s.run({ [input]: { dtype: 'float32', dims: [n, 1, 28, 28], data: Float32Array.from(x) } });
    const logits = Object.values(out)[0]!.data as Float32Array;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < 10; j++) if (logits[i * 10 + j]! > logits[i * 10 + best]!) best = j;
      if (best === data.test.y[i]) correct++;
    }
    return correct / n;
  } finally {
    await s.release();
  }
}

/** Train the seed CNN briefly with verge's trainer; undefined (and why) when it is unavailable. */
async function trainSeedCnn(
  data: Dataset,
  steps: number,
): Promise<{ model: Model; info: QuickstartSummary['model']['train'] } | { error: string }> {
  let train: typeof import('../train/index.ts');
  let fitMod: typeof import('../train/fit.ts');
  let nn: typeof import('../nn/index.ts');
  try {
    train = await import('../train/index.ts');
    fitMod = await import('../train/fit.ts');
    nn = await import('../nn/index.ts');
  } catch (e) {
    return { error: `verge's trainer is not available (${(e as Error).message.split('\n')[0]})` };
  }
  try {
    const model = nn.buildArchitecture('cnn', { inputShape: [1, 28, 28], classes: 10, seed: 0 });
    const session = await train.TrainingSession.create(model, {
      loss: 'cross-entropy',
      optimizer: { kind: 'adam', lr: 1e-3 },
      threads: 2,
    });
    try {
      const bar = progressBar(steps, '  training [{bar}] {value}/{total} steps  loss {loss}  {sps} samples/s');
      bar.update(0, { loss: '-', sps: 0 });
      const t0 = performance.now();
      const res = await fitMod.fit(session, data, {
        steps,
        batchSize: TRAIN_BATCH,
        lr: 1e-3,
        seed: 0,
        onProgress: (p) => bar.update(p.globalStep, { loss: p.loss.toFixed(3), sps: Math.round(p.samplesPerSec) }),
      });
      bar.stop();
      const seconds = (performance.now() - t0) / 1000;
      return {
        model: session.exportModel(),
        info: { steps: res.steps, samples_per_sec: Math.round(res.samples_per_sec), seconds: round(seconds, 1) },
      };
    } finally {
      await session.release();
    }
  } catch (e) {
    return { error: `training failed (${e instanceof VergeError ? e.toLine() : (e as Error).message.split('\n')[0]})` };
  }
}

/** int8 (static, calibrated on training images) and fp16 variants, when verge's quantizer is available. */
async function makeVariants(model: Model, data: Dataset): Promise<{ variants: Variant[]; notes: string[] }> {
  const variants: Variant[] = [{ variant: 'fp32', precision: 'fp32', profile: null, bytes: encodeModel(model) }];
  const notes: string[] = [];
  let q: typeof import('../optimize/quantize/index.ts');
  try {
    q = await import('../optimize/quantize/index.ts');
  } catch (e) {
    notes.push(`no int8/fp16 variants: verge's quantizer is not available (${(e as Error).message.split('\n')[0]})`);
    return { variants, notes };
  }
  try {
    const calib = q.calibrationFromSplit(model, data.train, [1, 28, 28], CALIBRATION_SAMPLES, 'fashion-mnist train');
    const res = await q.quantizeStaticCalibrated(model, calib, { method: 'minmax', perChannel: true });
    variants.push({
      variant: 'int8',
      precision: 'int8',
      profile: null,
      bytes: encodeModel(res.model),
      note: `static int8, ${res.report.quantized_nodes} nodes, calibrated on ${calib.samples} images`,
    });
  } catch (e) {
    notes.push(`no int8 variant: ${e instanceof VergeError ? e.toLine() : (e as Error).message.split('\n')[0]}`);
  }
  try {
    const res = q.convertToFloat16(model, { compute: 'cpu' });
    // Built for the small device class: half the memory of fp32, and no int8 path needed.
    variants.push({
      variant: 'fp16',
      precision: 'fp16',
      profile: 'small',
      bytes: encodeModel(res.model),
      note: 'float16 weights and compute where onnxruntime CPU has fp16 kernels',
    });
  } catch (e) {
    notes.push(`no fp16 variant: ${e instanceof VergeError ? e.toLine() : (e as Error).message.split('\n')[0]}`);
  }
  return { variants, notes };
}

class Operator {
  readonly client: CloudClient;
  constructor(
    readonly cp: ControlPlane,
    url: string,
  ) {
    this.client = new CloudClient({ url, apiKey: cp.adminKey });
  }
  async token(): Promise<string> {
    return (await this.client.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, { tags: { site: 'quickstart' } }))
      .token;
  }
  async publish(
    v: Variant,
    meta: { parent: string | null; optimization: string | null; metrics: Record<string, number> },
  ): Promise<ModelVersion> {
    const a = await this.client.upload<{ sha256: string }>(HTTP_PATHS.artifacts, v.bytes);
    return this.client.post<ModelVersion>(HTTP_PATHS.models, {
      name: MODEL_NAME,
      version: MODEL_VERSION,
      variant: v.variant,
      precision: v.precision,
      profile: v.profile,
      sha256: a.sha256,
      ...meta,
    });
  }
  deployment(id: string): Promise<Deployment> {
    return this.client.get<Deployment>(HTTP_PATHS.deployment(id));
  }
  async waitFor(id: string, done: (d: Deployment) => boolean, what: string): Promise<Deployment> {
    const until = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const d = await this.deployment(id);
      if (done(d)) return d;
      if (d.state === 'rolled_back' || d.state === 'failed') {
        throw new VergeError(
          'E_CONFLICT',
          `deployment ${id} ${d.state}: ${d.reason ?? ''} (${d.devices.map((x) => `${x.name}=${x.state}${x.error ? ` ${x.error.code}` : ''}`).join(', ')})`,
        );
      }
      if (Date.now() > until)
        throw new VergeError('E_NETWORK', `timed out waiting for ${what} (deployment ${id} is ${d.state})`);
      await sleep(100);
    }
  }
}

/** Send `n` test images one request each through an agent's HTTP API; accuracy and latency. */
async function evaluateAgent(
  agent: EdgeAgent,
  data: Dataset,
  n: number,
  label: string,
): Promise<{ accuracy: number; p50: number; p99: number; model: { name: string; version: string; variant: string } }> {
  const listed = (await (await fetch(`${agent.url}/v1/models`)).json()) as {
    models: { name: string; inputs: { name: string }[] }[];
  };
  const served = listed.models.find((m) => m.name === MODEL_NAME);
  if (!served) throw new VergeError('E_NOT_FOUND', `${agent.name} does not serve ${MODEL_NAME}`);
  const input = served.inputs[0]!.name;
  const per = 28 * 28;
  const times: number[] = [];
  let correct = 0;
  let model = { name: '', version: '', variant: '' };
  const bar = progressBar(n, `  {device} [{bar}] {value}/{total} images`);
  for (let i = 0; i < n; i++) {
    const body = JSON.stringify({
      inputs: { [input]: { dims: [1, 1, 28, 28], data: Array.from(data.test.x.subarray(i * per, (i + 1) * per)) } },
    });
    const t0 = performance.now();
    const res = await fetch(`${agent.url}/v1/models/${MODEL_NAME}:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const json = (await res.json()) as {
      outputs?: Record<string, { data: number[] }>;
      model?: typeof model;
      error?: { code: string; message: string };
    };
    times.push(performance.now() - t0);
    if (!res.ok || !json.outputs)
      throw new VergeError('E_RUNTIME', `${agent.name} answered ${res.status}: ${json.error?.message ?? 'no outputs'}`);
    model = json.model!;
    const scores = Object.values(json.outputs)[0]!.data;
    let best = 0;
    for (let j = 1; j < scores.length; j++) if (scores[j]! > scores[best]!) best = j;
    if (best === data.test.y[i]) correct++;
    bar.update(i + 1, { device: label.padEnd(10) });
  }
  bar.stop();
  times.sort((a, b) => a - b);
  return { accuracy: correct / n, p50: quantile(times, 0.5), p99: quantile(times, 0.99), model };
}

export async function runQuickstart(
  opts: QuickstartOptions,
): Promise<{ summary: QuickstartSummary; cp: ControlPlane; agents: EdgeAgent[]; cleanup: () => Promise<void> }> {
  const started = performance.now();
  const TOTAL = 7;
  const samples = opts.samples ?? DEFAULT_TEST_SAMPLES;
  const trainSteps = opts.trainSteps ?? DEFAULT_TRAIN_STEPS;
  if (!Number.isInteger(samples) || samples < 1 || samples > 10_000)
    throw new VergeError('E_BAD_ARGUMENT', `--samples must be 1..10000, got ${samples}`);
  if (!Number.isInteger(trainSteps) || trainSteps < 1)
    throw new VergeError('E_BAD_ARGUMENT', `--train-steps must be a positive integer, got ${trainSteps}`);

  let baseDir: string;
  let ownDir = false;
  if (opts.dataDir) {
    baseDir = resolve(opts.dataDir);
    if (existsSync(baseDir) && readdirSync(baseDir).length > 0) {
      throw new VergeError(
        'E_CONFLICT',
        `${baseDir} is not empty: give the quickstart a new folder (or omit --data-dir for a temporary one)`,
      );
    }
    mkdirSync(baseDir, { recursive: true });
  } else {
    baseDir = mkdtempSync(join(tmpdir(), 'verge-quickstart-'));
    ownDir = true;
  }

  let cp: ControlPlane | undefined;
  const agents: EdgeAgent[] = [];
  const cleanup = async () => {
    for (const a of agents) await a.stop().catch(() => undefined);
    await cp?.close().catch(() => undefined);
    if (ownDir) rmSync(baseDir, { recursive: true, force: true });
  };
  try {
    // 1. control plane
    step(1, TOTAL, 'starting the control plane (embedded MQTT broker, SQLite)');
    cp = await buildControlPlane({ dataDir: join(baseDir, 'cloud'), tickMs: 200 });
    const { url, mqttUrl } = await cp.start({ port: opts.port ?? 0 });
    note(`  API ${url}   MQTT ${mqttUrl}   admin key ${cp.adminKeyPath}`);
    const op = new Operator(cp, url);

    // 2. model
    step(2, TOTAL, 'loading Fashion-MNIST');
    const data = loadFashionMnist({
      train: opts.noTrain ? CALIBRATION_SAMPLES : Math.max(TRAIN_SAMPLES, CALIBRATION_SAMPLES),
      test: samples,
    });
    note(`  ${data.source}: ${data.train.count} train / ${data.test.count} test images`);
    let model: Model;
    let source: 'trained' | 'fixture';
    let sourceNote: string;
    let trainInfo: QuickstartSummary['model']['train'];
    const trained = opts.noTrain
      ? { error: '--no-train given' }
      : (step(
          3,
          TOTAL,
          `training the seed CNN for ${trainSteps} steps (batch ${TRAIN_BATCH}, Adam) with verge's trainer`,
        ),
        await trainSeedCnn(data, trainSteps));
    if ('model' in trained) {
      model = trained.model;
      source = 'trained';
      trainInfo = trained.info;
      sourceNote = `trained here by verge on onnxruntime: ${trained.info!.steps} steps, ${trained.info!.samples_per_sec} samples/s, ${trained.info!.seconds} s`;
    } else {
      if (opts.noTrain) step(3, TOTAL, 'using the committed seed CNN (--no-train)');
      if (!existsSync(FIXTURE_MODEL))
        throw new VergeError('E_FILE_NOT_FOUND', `cannot train (${trained.error}) and ${FIXTURE_MODEL} is missing`);
      model = decodeModel(readFileSync(FIXTURE_MODEL), FIXTURE_MODEL);
      source = 'fixture';
      sourceNote = `committed PyTorch-trained model test/fixtures/models/seed_cnn_fmnist.onnx (${trained.error})`;
    }
    note(`  model: ${sourceNote}`);
    const localAcc = await localAccuracy(model, data, data.test.count);
    note(`  local test accuracy on ${data.test.count} images: ${(localAcc * 100).toFixed(1)}%`);

    // 4. variants + publish
    step(4, TOTAL, 'making variants (static int8, fp16) and publishing them, signed');
    const { variants, notes } = await makeVariants(model, data);
    for (const n of notes) note(`  note: ${n}`);
    for (const v of variants) {
      const parent = v.variant === 'fp32' ? null : `${MODEL_NAME}@${MODEL_VERSION}`;
      await op.publish(v, {
        parent,
        optimization: v.variant === 'fp32' ? null : `quantize:${v.variant}`,
        metrics: v.variant === 'fp32' ? { test_accuracy: round(localAcc, 4) } : {},
      });
      note(
        `  published ${MODEL_NAME}@${MODEL_VERSION} ${v.variant.padEnd(5)} ${String(v.bytes.length).padStart(8)} bytes${v.profile ? ` (for profile '${v.profile}')` : ''}`,
      );
    }

    // 5. agents
    step(5, TOTAL, 'starting three edge agents with different device profiles');
    for (const d of QUICKSTART_DEVICES) {
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
      });
      agents.push(agent);
      note(
        `  ${d.name.padEnd(10)} ${d.role.padEnd(28)} ${agent.url}  (${agent.profile.precisions.join('+')}, ${agent.profile.memory_mb} MB)`,
      );
    }
    const until = Date.now() + STEP_TIMEOUT_MS;
    while (!agents.every((a) => a.state === 'online')) {
      if (Date.now() > until) throw new VergeError('E_NETWORK', 'agents did not connect to the broker');
      await sleep(50);
    }

    // 6. canary → gate → promote
    step(
      6,
      TOTAL,
      `deploying with a canary (health gate: ≥ ${CANARY_MIN_INFERENCES} inferences, error rate ≤ ${CANARY_MAX_ERROR_RATE}), then promoting`,
    );
    const t6 = performance.now();
    let dep = await op.client.post<Deployment>(HTTP_PATHS.deployments, {
      model: MODEL_NAME,
      version: MODEL_VERSION,
      target: { tags: { site: 'quickstart' } },
      strategy: 'canary',
      canary_percent: CANARY_PERCENT,
      health: {
        max_error_rate: CANARY_MAX_ERROR_RATE,
        min_inferences: CANARY_MIN_INFERENCES,
        timeout_s: STEP_TIMEOUT_MS / 1000,
      },
      auto_promote: false,
    });
    const canaryNames = dep.devices.filter((d) => d.canary).map((d) => d.name);
    note(`  deployment ${dep.id}: canary ${canaryNames.join(', ')}; others wait`);
    const canaryAgents = agents.filter((a) => canaryNames.includes(a.name));
    dep = await op.waitFor(
      dep.id,
      (d) => d.devices.filter((x) => x.canary).every((x) => x.state === 'loaded'),
      'the canary to load',
    );
    note(
      `  canary loaded (${dep.devices
        .filter((x) => x.canary)
        .map((x) => `${x.name}: ${x.variant}`)
        .join(', ')}); sending ${CANARY_REQUESTS} images through it`,
    );
    for (const a of canaryAgents) {
      for (let i = 0; i < CANARY_REQUESTS; i++) {
        const idx = i % data.test.count;
        const body = JSON.stringify({
          inputs: {
            [a.served.get(MODEL_NAME)!.inputs[0]!.name]: {
              dims: [1, 1, 28, 28],
              data: Array.from(data.test.x.subarray(idx * 784, (idx + 1) * 784)),
            },
          },
        });
        const r = await fetch(`${a.url}/v1/models/${MODEL_NAME}:predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        await r.arrayBuffer();
      }
      a.flushTelemetry();
    }
    dep = await op.waitFor(dep.id, (d) => d.gate_passed_at !== null, 'the canary health gate');
    const gate = dep.reason ?? 'health gate passed';
    note(`  ${gate}`);
    dep = await op.client.post<Deployment>(HTTP_PATHS.promote(dep.id));
    note('  promoted: releasing to every device');
    dep = await op.waitFor(dep.id, (d) => d.state === 'succeeded', 'the rollout to every device');
    const rolloutS = (performance.now() - t6) / 1000;
    note(
      `  rollout ${dep.state} in ${rolloutS.toFixed(1)} s: ${dep.devices.map((x) => `${x.name}=${x.variant}`).join(', ')}`,
    );

    // 7. traffic
    step(7, TOTAL, `sending ${samples} Fashion-MNIST test images through each agent's HTTP API`);
    const devices: DeviceResult[] = [];
    for (const [i, a] of agents.entries()) {
      const r = await evaluateAgent(a, data, samples, a.name);
      const v = variants.find((x) => x.variant === r.model.variant);
      devices.push({
        name: a.name,
        profile: QUICKSTART_DEVICES[i]!.profile,
        model: r.model.name,
        version: r.model.version,
        variant: r.model.variant,
        precision: v?.precision ?? r.model.variant,
        accuracy: round(r.accuracy, 4),
        p50_ms: round(r.p50, 3),
        p99_ms: round(r.p99, 3),
        samples,
        url: a.url,
      });
    }
    for (const a of agents) a.flushTelemetry();

    const summary: QuickstartSummary = {
      devices,
      model: {
        name: MODEL_NAME,
        version: MODEL_VERSION,
        source,
        source_note: sourceNote,
        train: trainInfo,
        test_accuracy_local: round(localAcc, 4),
        variants: variants.map((v) => ({
          variant: v.variant,
          precision: v.precision,
          bytes: v.bytes.length,
          profile: v.profile,
          note: v.note,
        })),
      },
      deployment: {
        id: dep.id,
        strategy: `canary:${dep.canary_percent}`,
        canary: canaryNames,
        gate,
        state: dep.state,
        seconds: round(rolloutS, 2),
      },
      cloud: { url, mqtt_url: mqttUrl, data_dir: baseDir },
      data: { source: data.source, test_samples: samples },
      elapsed_s: round((performance.now() - started) / 1000, 1),
    };
    return { summary, cp, agents, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

function humanSummary(s: QuickstartSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [
    '',
    `verge quickstart: ${s.model.name}@${s.model.version} on ${s.devices.length} devices (${s.elapsed_s} s)`,
    `  model:  ${s.model.source_note}`,
    `  rollout: ${s.deployment.strategy} (canary ${s.deployment.canary.join(', ')}) → gate passed → promoted → ${s.deployment.state} in ${s.deployment.seconds} s`,
    `  data:   ${s.data.test_samples} test images from ${s.data.source}; local accuracy before deployment ${pct(s.model.test_accuracy_local)}`,
    '',
    table(
      ['device', 'profile', 'variant', 'bytes', 'accuracy', 'p50 ms', 'p99 ms'],
      s.devices.map((d) => [
        d.name,
        d.profile,
        d.variant,
        s.model.variants.find((v) => v.variant === d.variant)?.bytes ?? '',
        pct(d.accuracy),
        d.p50_ms.toFixed(2),
        d.p99_ms.toFixed(2),
      ]),
    ),
    '',
    '  latency = one image per HTTP request, measured by the client (JSON encode + HTTP + inference)',
  ];
  return lines.join('\n');
}

export async function main(argv = process.argv): Promise<void> {
  const program = new Command('npm start --')
    .description(
      "verge quickstart: a control plane, a seed CNN trained briefly on Fashion-MNIST (or the committed one), its int8/fp16 variants, three edge agents with different profiles, a canary rollout promoted after its health gate, and test images through every agent's API",
    )
    .option('--once', 'run once, print the summary and exit (default: stay up and serve)')
    .option(
      '--json',
      'print ONE JSON object {devices:[{name, model, version, variant, accuracy, p50_ms}], ...} on stdout',
    )
    .option('--data-dir <dir>', 'keep everything in this (new, empty) folder instead of a temporary one')
    .option('--port <port>', 'control plane API port (default: a free one)')
    .option('--train-steps <n>', `optimizer steps of the brief training run`, String(DEFAULT_TRAIN_STEPS))
    .option('--no-train', 'skip training; use the committed PyTorch-trained model')
    .option('--samples <n>', 'test images sent through each agent', String(DEFAULT_TEST_SAMPLES))
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });
  let run: Awaited<ReturnType<typeof runQuickstart>> | undefined;
  try {
    program.parse(argv);
    const o = program.opts<{
      once?: boolean;
      json?: boolean;
      dataDir?: string;
      port?: string;
      trainSteps: string;
      train: boolean;
      samples: string;
    }>();
    const port = o.port === undefined ? undefined : Number(o.port);
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536))
      throw new VergeError('E_BAD_ARGUMENT', `--port must be 0..65535, got '${o.port}'`);
    run = await runQuickstart({
      once: o.once,
      json: o.json,
      dataDir: o.dataDir,
      port,
      trainSteps: Number(o.trainSteps),
      samples: Number(o.samples),
      noTrain: !o.train,
    });
    emit({ json: o.json }, run.summary, () => humanSummary(run!.summary));
    if (o.once) {
      await run.cleanup();
      return;
    }
    note('');
    note(`the fleet stays up (Ctrl-C to stop):`);
    note(`  control plane API  ${run.summary.cloud.url}   (OpenAPI: ${run.summary.cloud.url}/openapi.json)`);
    note(
      `  operator commands  VERGE_CLOUD=${run.summary.cloud.url} VERGE_API_KEY=$(cat ${run.cp.adminKeyPath}) npx verge devices`,
    );
    for (const d of run.summary.devices)
      note(`  ${d.name.padEnd(10)} ${d.url}/v1/models/${MODEL_NAME}:predict   (${d.variant})`);
    note(`  try: curl -s ${run.summary.devices[0]!.url}/v1/models`);
    await new Promise<void>((done) => {
      const stop = (sig: string) => {
        note(`${sig}: stopping the quickstart fleet`);
        run!.cleanup().finally(done);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    await run?.cleanup();
    // One line, never a stack trace (same convention as bin/verge.js).
    if (isVergeError(e)) process.stderr.write(`error: ${e.toLine()}\n`);
    else process.stderr.write(`error: E_INTERNAL: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
    if (process.env.VERGE_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
    process.exitCode = isVergeError(e) ? 1 : 70;
  }
}
