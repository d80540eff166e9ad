/**
 * `npm run bench -- tflite-convert [--samples N]`: converts every TFLite model of
 * test/fixtures/tflite to ONNX and reports, per model, the conversion time, the ONNX nodes, and the
 * max |difference| of the outputs from Arm NN's TFLite executor (python3-pyarmnn, CpuRef) on N
 * deterministic random inputs — where Arm NN can run the model — plus hello_world's error from
 * sin(x). Integer outputs are compared in their quantized units. Full run: about a minute.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpy, writeNpy } from '../src/data/npy.ts';
import { Session } from '../src/runtime/index.ts';
import { tfliteToOnnx } from '../src/tflite/index.ts';
import { printTable, round, writeResult } from './lib.ts';

const DIR = join(import.meta.dirname, '..', 'test', 'fixtures', 'tflite');
const MODELS = ['hello_world_float', 'hello_world_int8', 'micro_speech_quantized', 'person_detect', 'trained_lstm'];
const samplesArg = process.argv.indexOf('--samples');
const SAMPLES = samplesArg > 0 ? Number(process.argv[samplesArg + 1]) : 32;
const tmp = mkdtempSync(join(tmpdir(), 'verge-bench-tflite-'));

function inputsFor(session: Session, n: number, seed: number) {
  const spec = session.inputs[0]!;
  const per = (spec.shape as number[]).reduce((a, b) => a * b, 1);
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const int8 = spec.dtype === 'int8';
  const data = int8
    ? Int8Array.from({ length: n * per }, () => Math.floor(rnd() * 256) - 128)
    : Float32Array.from({ length: n * per }, () => rnd() * 6);
  return { spec, per, int8, data };
}

const rows: Record<string, unknown>[] = [];
for (const name of MODELS) {
  const bytes = readFileSync(join(DIR, `${name}.tflite`));
  const t0 = performance.now();
  const model = tfliteToOnnx(bytes, `${name}.tflite`);
  const convertMs = performance.now() - t0;
  const s = await Session.create(model, { threads: 1 });
  const x = inputsFor(s, SAMPLES, 7);
  const ours: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const data = x.data.subarray(i * x.per, (i + 1) * x.per);
    const r = await s.run({
      [x.spec.name]: { dtype: x.int8 ? 'int8' : 'float32', dims: x.spec.shape as number[], data },
    });
    ours.push(...Array.from(Object.values(r)[0]!.data as ArrayLike<number>, Number));
  }
  let sinError: number | undefined;
  if (name === 'hello_world_float') {
    sinError = 0;
    for (let k = 0; k <= 100; k++) {
      const v = (2 * Math.PI * k) / 100;
      const r = await s.run({ [x.spec.name]: { dtype: 'float32', dims: [1, 1], data: new Float32Array([v]) } });
      sinError = Math.max(sinError, Math.abs((Object.values(r)[0]!.data as Float32Array)[0]! - Math.sin(v)));
    }
  }
  await s.release();
  const inPath = join(tmp, `${name}.in.npy`);
  const outPath = join(tmp, `${name}.out.npy`);
  writeNpy(inPath, { dtype: x.int8 ? 'int8' : 'float32', shape: [SAMPLES, x.per], data: x.data });
  const ref = spawnSync(
    '/usr/bin/python3',
    [join(DIR, 'armnn_reference.py'), join(DIR, `${name}.tflite`), inPath, outPath],
    {
      encoding: 'utf8',
    },
  );
  let armnn: { max_abs_diff: number; units: string } | { unavailable: string };
  if (ref.status === 0) {
    const y = readNpy(outPath).data;
    let worst = 0;
    ours.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - Number(y[i])))));
    armnn = { max_abs_diff: round(worst, 6), units: x.int8 ? 'int8 steps' : 'float' };
  } else armnn = { unavailable: ref.stderr.trim().split('\n').pop() ?? `exit ${ref.status}` };
  rows.push({
    model: name,
    input: `${x.spec.dtype}[${(x.spec.shape as number[]).join(',')}]`,
    onnx_nodes: model.graph.nodes.length,
    convert_ms: round(convertMs, 1),
    armnn,
    ...(sinError !== undefined ? { max_error_vs_sin: round(sinError, 4) } : {}),
  });
}
rmSync(tmp, { recursive: true, force: true });
printTable(
  ['model', 'input', 'nodes', 'convert ms', 'vs Arm NN'],
  rows.map((r) => [
    r.model as string,
    r.input as string,
    r.onnx_nodes as number,
    r.convert_ms as number,
    'max_abs_diff' in (r.armnn as object)
      ? `${(r.armnn as { max_abs_diff: number }).max_abs_diff} ${(r.armnn as { units: string }).units}`
      : `n/a: ${(r.armnn as { unavailable: string }).unavailable.slice(0, 60)}`,
  ]),
);
console.log(
  `written ${writeResult('tflite-convert', { samples: SAMPLES, executor: 'Arm NN 20.08 TfLiteParser, CpuRef backend (Debian python3-pyarmnn)', models: rows })}`,
);
