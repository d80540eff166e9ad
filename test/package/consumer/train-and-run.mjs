// Runs in a fresh project where only the packed verge-edge tarball is installed, under plain Node
// (no TypeScript loader): imports every entry of the exports map, trains a tiny model on a
// separable two-class problem, saves it, reloads it and runs it; serves the browser app as
// `verge demo browser` does and fetches its training page and onnxruntime-web's WASM binary (which
// the tarball does not carry: the server takes it from the installed onnxruntime-web). Prints one
// JSON line.
/* global fetch */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Sequential,
  Dense,
  ReLU,
  TrainingSession,
  fit,
  evaluate,
  Session,
  saveModel,
  loadModel,
  modelInfo,
} from 'verge-edge';
import { serveBrowserDemo } from 'verge-edge/demo';

const ENTRIES = [
  'nn',
  'train',
  'data',
  'runtime',
  'onnx',
  'optimize',
  'fl',
  'cloud',
  'edge',
  'protocol',
  'tflite',
  'hmm',
  'demo',
];
const entries = {};
for (const e of ENTRIES) entries[e] = Object.keys(await import(`verge-edge/${e}`)).length;

// two Gaussian blobs in 4-D, label = which blob (a fixed LCG: the run is reproducible)
let s = 12345;
const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
function split(count) {
  const x = new Float32Array(count * 4);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    y[i] = i % 2;
    for (let j = 0; j < 4; j++) x[i * 4 + j] = (y[i] ? 1.5 : -1.5) + rand();
  }
  return { x, y, count };
}
const data = { name: 'blobs', source: 'generated', shape: [4], classes: 2, train: split(256), test: split(64) };

const net = new Sequential([4], [new Dense(8), new ReLU(), new Dense(2)]);
const session = await TrainingSession.create(net.build({ seed: 0 }), {
  loss: 'cross-entropy',
  optimizer: { kind: 'adam', lr: 0.05 },
});
await fit(session, data, { epochs: 3, batchSize: 32 });
const test = await evaluate(session, data);
const dir = mkdtempSync(join(tmpdir(), 'verge-consumer-'));
const file = join(dir, 'blobs.onnx');
saveModel(session.exportModel(), file);
await session.release();

const infer = await Session.create(loadModel(file));
const x = data.test.x.subarray(0, 8);
const out = await infer.run({ input: { dtype: 'float32', dims: [2, 4], data: x.subarray(0, 8) } });
await infer.release();
const logits = Object.values(out)[0];

const demo = await serveBrowserDemo();
const page = await fetch(demo.trainUrl);
const wasm = await fetch(`${demo.url}/ort/ort-wasm-simd-threaded.wasm`);
const browserApp = {
  built: demo.built,
  page: page.status,
  wasm: wasm.status,
  wasmType: wasm.headers.get('content-type'),
  wasmBytes: (await wasm.arrayBuffer()).byteLength,
};
await demo.close();
console.log(
  JSON.stringify({
    entries,
    accuracy: test.accuracy,
    saved: existsSync(file),
    parameters: modelInfo(loadModel(file)).parameters,
    outputDims: logits.dims,
    browserApp,
    node: process.version,
    loaders: process.execArgv,
  }),
);
