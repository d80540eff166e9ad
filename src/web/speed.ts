/**
 * The workload of bench/browser, shared by the browser page (app/bench.ts, onnxruntime-web) and
 * the Node side (onnxruntime-node) so both run the same code: the seed CNN's training step (Adam,
 * one onnxruntime call per batch) on Fashion-MNIST samples, and inference latency of the trained
 * model at batch 1. DOM-free and Node-free.
 */
import type { Split } from '../data/browser.ts';
import { buildArchitecture } from '../nn/index.ts';
import { float32, Session, runtimeBackendName } from '../runtime/index.ts';
import { encodeLabels, TrainingSession, type GradientReplicas } from '../train/browser.ts';

export interface SpeedOptions {
  batch: number;
  /** Timed training steps (after `warmupSteps`). */
  steps: number;
  /**
   * Untimed steps first. On the web, the first ~25 steps of a page run partly on V8's baseline
   * WebAssembly code while its optimizing compiler works through onnxruntime's hot functions on
   * another thread (bench/results/browser-configs-a2.json: ~40 ms of CPU per step on chromium's
   * ThreadPoolForegroundWorker over steps 4–23, ~4 after step 40).
   */
  warmupSteps: number;
  /** Timed batch-1 inference runs (after 10 warm-up runs). */
  inferenceRuns: number;
  /** Intra-op threads on Node; on the web the page configures WASM threads before this runs. */
  threads?: number;
  /** Data-parallel replicas besides this thread's session (the page's workers: app/replicas.ts). */
  replicas?: GradientReplicas;
  /**
   * Called (and awaited) right before the first and right after the last timed training step,
   * outside the timing: bench/browser reads the CPU time the processes used in between.
   */
  onTimed?: (phase: 'start' | 'end') => void | Promise<void>;
}

export interface SpeedResult {
  backend: string;
  /** Sessions computing each step's gradients (1 without data parallelism). */
  replicas: number;
  train_samples_per_sec: number;
  /**
   * Samples/s over the warm-up steps (the first steps of a new session): on the web they run while
   * V8 is still compiling onnxruntime's hot WebAssembly functions with its optimizing tier.
   */
  warmup_samples_per_sec: number;
  train_step_ms_p50: number;
  /** The fastest timed step: the one least disturbed by other work on a loaded machine. */
  train_step_ms_min: number;
  infer_b1_p50_ms: number;
  infer_b1_p99_ms: number;
  final_loss: number;
}

const now = () => performance.now();

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export async function measureSpeed(train: Split, opts: SpeedOptions): Promise<SpeedResult> {
  const model = buildArchitecture('cnn', { inputShape: [1, 28, 28], classes: 10, seed: 0 });
  const session = await TrainingSession.create(model, {
    loss: 'cross-entropy',
    optimizer: { kind: 'adam', lr: 1e-3 },
    ...(opts.threads ? { threads: opts.threads } : {}),
    ...(opts.replicas ? { replicas: opts.replicas } : {}),
  });
  const per = 28 * 28;
  const batches = Math.floor(train.count / opts.batch);
  const feed = (i: number) => {
    const b = i % batches;
    const x = train.x.subarray(b * opts.batch * per, (b + 1) * opts.batch * per);
    const y = train.y.subarray(b * opts.batch, (b + 1) * opts.batch);
    return { inputs: { input: float32([opts.batch, 1, 28, 28], x) }, labels: encodeLabels(y, 'cross-entropy', 10) };
  };
  const warm0 = now();
  for (let i = 0; i < opts.warmupSteps; i++) {
    const f = feed(i);
    await session.step(f.inputs, f.labels);
  }
  const warmupSec = (now() - warm0) / 1000;
  const stepMs: number[] = [];
  let loss = NaN;
  await opts.onTimed?.('start');
  const t0 = now();
  for (let i = 0; i < opts.steps; i++) {
    const f = feed(opts.warmupSteps + i);
    const s = now();
    loss = (await session.step(f.inputs, f.labels)).loss;
    stepMs.push(now() - s);
  }
  const trainSec = (now() - t0) / 1000;
  await opts.onTimed?.('end');

  const replicas = session.replicaCount;
  const infer = await Session.create(session.exportModel(), opts.threads ? { threads: opts.threads } : {});
  const one = { input: float32([1, 1, 28, 28], train.x.slice(0, per)) };
  for (let i = 0; i < 10; i++) await infer.run(one);
  const inferMs: number[] = [];
  for (let i = 0; i < opts.inferenceRuns; i++) {
    const s = now();
    await infer.run(one);
    inferMs.push(now() - s);
  }
  await infer.release();
  await session.release();
  return {
    backend: runtimeBackendName,
    replicas,
    train_samples_per_sec: (opts.steps * opts.batch) / trainSec,
    warmup_samples_per_sec: opts.warmupSteps > 0 ? (opts.warmupSteps * opts.batch) / warmupSec : NaN,
    train_step_ms_p50: quantile(stepMs, 0.5),
    train_step_ms_min: Math.min(...stepMs),
    infer_b1_p50_ms: quantile(inferMs, 0.5),
    infer_b1_p99_ms: quantile(inferMs, 0.99),
    final_loss: loss,
  };
}
