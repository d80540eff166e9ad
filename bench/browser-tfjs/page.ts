/**
 * bench/browser's TensorFlow.js page (bench-only, never shipped): the seed CNN of
 * nn/architectures.ts (conv 32·3×3 ReLU, max-pool 2, conv 64·3×3 ReLU, max-pool 2, dense 64 ReLU,
 * dense 10; 'valid' padding) in tf.layers, trained with Adam (lr 1e-3) on softmax cross-entropy by
 * `trainOnBatch`, on the same Fashion-MNIST samples and batch as verge's page, and its batch-1
 * inference latency. `?backend=cpu|webgl&batch=&steps=&warmup=&runs=`; `window.tfjsBench` holds
 * {state, result | error}. TF.js's WASM backend is not offered: it registers no
 * Conv2DBackpropFilter, so it cannot train this model.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import * as tfl from '@tensorflow/tfjs-layers';
import { fetchFashionMnist } from '../../src/web/app/fashion.ts';

declare global {
  interface Window {
    tfjsBench: { state: 'running' | 'done' | 'error'; result?: Record<string, number | string>; error?: string };
  }
}

const q = new URLSearchParams(location.search);
const num = (k: string, d: number) => Number(q.get(k) ?? d);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
window.tfjsBench = { state: 'running' };

async function main(): Promise<void> {
  const backend = q.get('backend') ?? 'cpu';
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend '${backend}' is not available in this browser`);
  await tf.ready();
  const batch = num('batch', 64);
  const steps = num('steps', 3);
  const warmup = num('warmup', 1);
  const data = await fetchFashionMnist('data/fashion-mnist/', { test: 1 });
  const per = 28 * 28;
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 64, activation: 'relu' }),
      tfl.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const batches = Math.floor(data.train.count / batch);
  // one channel: verge's NCHW samples have the same memory layout as NHWC
  const feed = (i: number) => {
    const b = i % batches;
    const x = tf.tensor4d(data.train.x.subarray(b * batch * per, (b + 1) * batch * per), [batch, 28, 28, 1]);
    const y = tf.oneHot(tf.tensor1d(Array.from(data.train.y.subarray(b * batch, (b + 1) * batch)), 'int32'), 10);
    return { x, y };
  };
  let loss = NaN;
  const stepMs: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const { x, y } = feed(i);
    const s = performance.now();
    loss = (await model.trainOnBatch(x, y)) as number;
    if (i >= warmup) stepMs.push(performance.now() - s);
    x.dispose();
    y.dispose();
  }
  const trainMs = stepMs.reduce((a, b) => a + b, 0);
  const one = tf.tensor4d(data.train.x.slice(0, per), [1, 28, 28, 1]);
  const inferMs: number[] = [];
  for (let i = 0; i < 5 + num('runs', 30); i++) {
    const s = performance.now();
    const out = model.predict(one) as tf.Tensor;
    await out.data();
    out.dispose();
    if (i >= 5) inferMs.push(performance.now() - s);
  }
  window.tfjsBench = {
    state: 'done',
    result: {
      backend: tf.getBackend(),
      train_samples_per_sec: (steps * batch) / (trainMs / 1000),
      train_step_ms_p50: median(stepMs),
      infer_b1_p50_ms: median(inferMs),
      final_loss: loss,
      tfjs: tf.version_core,
      webgl_renderer: webglRenderer(),
    },
  };
  document.getElementById('out')!.textContent = JSON.stringify(window.tfjsBench.result, null, 2);
}

/** What draws WebGL here (headless chromium without a GPU: SwiftShader, a CPU renderer). */
function webglRenderer(): string {
  const gl =
    document.createElement('canvas').getContext('webgl2') ?? document.createElement('canvas').getContext('webgl');
  if (!gl) return 'none';
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}

main().catch((e: Error) => {
  window.tfjsBench = { state: 'error', error: e.message };
  document.getElementById('out')!.textContent = `error: ${e.message}`;
});
