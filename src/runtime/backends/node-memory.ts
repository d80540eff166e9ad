/**
 * The memory an onnxruntime-node session takes when loaded: measured in a Node process of its own,
 * so nothing else the caller allocated (or freed, for the allocator to hand out again) blurs it.
 * The child creates a first session of the model and runs it on every input (onnxruntime's
 * process-wide state — environment, allocators, kernel registries — then exists), then a second
 * session of the same model beside it: the growth of the process's resident memory from creating
 * and running the second is what one more loaded copy of the model costs — its weights, their
 * pre-packed copies, its thread pool and its activation arena at each batch size.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { VergeError } from '../../errors.ts';
import type { FeedSpec } from '../backend.ts';

/** The child: argv = [onnxruntime-node entry URL, model path, runs JSON, threads]. Prints one JSON array. */
const CHILD = `
import { readFileSync } from 'node:fs';
const [ortUrl, modelPath, runsJson, threads] = process.argv.slice(-4);
const mod = await import(ortUrl);
const ort = mod.default ?? mod;
const ARRAYS = { float32: Float32Array, float64: Float64Array, float16: Uint16Array, int8: Int8Array,
  uint8: Uint8Array, bool: Uint8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array,
  uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array };
const feeds = JSON.parse(runsJson).map((run) => Object.fromEntries(run.map((f) => {
  const A = ARRAYS[f.dtype];
  if (!A) throw new Error('input ' + f.name + ' has dtype ' + f.dtype + ', which this measurement cannot make up');
  return [f.name, new ort.Tensor(f.dtype, new A(f.dims.reduce((a, b) => a * b, 1)), f.dims)];
})));
const model = readFileSync(modelPath);
const opts = { intraOpNumThreads: Number(threads), graphOptimizationLevel: 'all', logSeverityLevel: 4 };
const first = await ort.InferenceSession.create(model, opts);
for (const f of feeds) await first.run(f);
const before = process.memoryUsage.rss();
const second = await ort.InferenceSession.create(model, opts);
const grown = [];
for (const f of feeds) {
  await second.run(f);
  grown.push(process.memoryUsage.rss() - before);
}
process.stdout.write(JSON.stringify(grown));
`;

const TIMEOUT_MS = 300_000;

export async function loadedMemory(model: Uint8Array, runs: readonly FeedSpec[][], threads: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'verge-memory-'));
  try {
    const path = join(dir, 'model.onnx');
    writeFileSync(path, model);
    const ortUrl = pathToFileURL(createRequire(import.meta.url).resolve('onnxruntime-node')).href;
    const args = ['--input-type=module', '-e', CHILD, ortUrl, path, JSON.stringify(runs), String(threads)];
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        args,
        { timeout: TIMEOUT_MS, maxBuffer: 1 << 20, env: { ...process.env, NODE_OPTIONS: '' } },
        (err, out, stderr) => {
          if (!err) return resolve(out);
          const why = (stderr.trim().split('\n').filter(Boolean).pop() ?? err.message).slice(0, 300);
          reject(new VergeError('E_RUNTIME', `measuring the loaded memory of the model failed: ${why}`));
        },
      ),
    );
    const grown = JSON.parse(stdout) as number[];
    return grown.map((b) => Math.max(0, b));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
