/**
 * The whole life of a model in one script: train a small CNN on Fashion-MNIST, save it, quantize
 * it to int8 (calibrated on training images), publish both variants to a control plane, enroll an
 * edge agent, deploy, and ask the agent for a prediction over its HTTP API.
 *
 *   npx tsx examples/train-quantize-deploy.ts [--steps 200] [--out-dir DIR]
 *
 * Everything runs in this process on ephemeral ports: the control plane with its embedded MQTT
 * broker and SQLite, and one agent. The last line printed is a JSON summary.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  Sequential,
  Conv2d,
  ReLU,
  MaxPool,
  Flatten,
  Dense,
  TrainingSession,
  fit,
  evaluate,
  saveModel,
} from 'verge-edge';
import { loadFashionMnist } from 'verge-edge/data';
import { quantizeModel } from 'verge-edge/optimize';
import { buildControlPlane, CloudClient, measurePublishedMemory, waitForDeployment } from 'verge-edge/cloud';
import { EdgeAgent } from 'verge-edge/edge';
import { HTTP_PATHS, type Deployment, type EnrollTokenResponse } from 'verge-edge/protocol';

const { values: args } = parseArgs({
  options: { steps: { type: 'string', default: '200' }, 'out-dir': { type: 'string' } },
});
const outDir = args['out-dir'] ?? mkdtempSync(join(tmpdir(), 'verge-example-'));

// 1. data and training
const data = loadFashionMnist({ train: 2000, test: 500 });
console.log(`data: ${data.source}, ${data.train.count} train / ${data.test.count} test images`);
const net = new Sequential(
  [1, 28, 28],
  [new Conv2d({ filters: 8, kernel: 3 }), new ReLU(), new MaxPool(2), new Flatten(), new Dense(10)],
);
const session = await TrainingSession.create(net.build({ seed: 0 }), {
  loss: 'cross-entropy',
  optimizer: { kind: 'adam', lr: 2e-3 },
});
await fit(session, data, { steps: Number(args.steps), batchSize: 64 });
const test = await evaluate(session, data);
const trained = session.exportModel();
await session.release();
const fp32File = join(outDir, 'fmnist-cnn.onnx');
saveModel(trained, fp32File);
console.log(`trained: test accuracy ${(test.accuracy * 100).toFixed(1)}%, saved ${fp32File}`);

// 2. int8: static quantization, activation ranges calibrated on training images
const { model: int8, report } = await quantizeModel(trained, {
  mode: 'static',
  calib: 'fashion-mnist',
  calibSamples: 256,
});
const int8File = join(outDir, 'fmnist-cnn.int8.onnx');
saveModel(int8, int8File);
const int8Accuracy = (await evaluate(int8, data)).accuracy;
console.log(`int8: ${report.quantized_nodes} nodes quantized, accuracy ${(int8Accuracy * 100).toFixed(1)}%`);

// 3. a control plane, and both variants published (signed, content-addressed)
const cp = await buildControlPlane({ dataDir: join(outDir, 'cloud') });
const { url } = await cp.start({ port: 0 });
const client = new CloudClient({ url, apiKey: cp.adminKey });
for (const [variant, precision, file] of [
  ['fp32', 'fp32', fp32File],
  ['int8', 'int8', int8File],
] as const) {
  const bytes = readFileSync(file);
  const { sha256 } = await client.upload<{ sha256: string }>(HTTP_PATHS.artifacts, bytes);
  // the memory its session takes once loaded: agents check it against their budget (as `verge model publish` does)
  const loaded = await measurePublishedMemory(bytes, console.warn);
  await client.post(HTTP_PATHS.models, {
    name: 'fmnist-cnn',
    version: '1.0.0',
    variant,
    precision,
    sha256,
    optimization: variant === 'int8' ? 'quantize:static-int8' : null,
    ...(loaded ? { loaded_memory: loaded } : {}),
  });
}
console.log(`published fmnist-cnn@1.0.0 (fp32, int8) to ${url}`);

// 4. an edge agent enrolls with a one-time token, then the model is deployed to it
const { token } = await client.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, { tags: { site: 'example' } });
const agent = await EdgeAgent.start({
  dataDir: join(outDir, 'agent'),
  cloudUrl: url,
  enrollToken: token,
  name: 'cam-1',
  port: 0,
});
try {
  const created = await client.post<Deployment>(HTTP_PATHS.deployments, {
    model: 'fmnist-cnn',
    version: '1.0.0',
    target: { tags: { site: 'example' } },
  });
  const done = await waitForDeployment(client, created.id, { timeoutMs: 120_000, pollMs: 200 });
  console.log(`deployment ${done.state}: ${done.devices.map((d) => `${d.name} serves ${d.variant}`).join(', ')}`);

  // 5. a prediction through the agent's local HTTP API
  const image = Array.from(data.test.x.subarray(0, 28 * 28));
  const res = await fetch(`${agent.url}/v1/models/fmnist-cnn:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: { input: { dims: [1, 1, 28, 28], data: image } } }),
  });
  const answer = (await res.json()) as {
    outputs: Record<string, { data: number[] }>;
    model: { name: string; version: string; variant: string };
  };
  const scores = Object.values(answer.outputs)[0]!.data;
  const predicted = scores.indexOf(Math.max(...scores));
  console.log(`${agent.name} (${answer.model.variant}) predicts class ${predicted}; the label is ${data.test.y[0]}`);
  console.log(
    JSON.stringify({
      accuracy: test.accuracy,
      int8_accuracy: int8Accuracy,
      deployment: done.state,
      variant: answer.model.variant,
      predicted,
      label: data.test.y[0],
    }),
  );
} finally {
  await agent.stop();
  await cp.close();
  if (!args['out-dir']) rmSync(outDir, { recursive: true, force: true });
}
