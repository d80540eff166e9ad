/**
 * `npm run bench -- tflite-convert [--samples N]`: converts every TFLite model of
 * test/fixtures/tflite to ONNX and reports, per model, the conversion time, the ONNX nodes, and the
 * max |difference| of the outputs from Arm NN's TFLite executor (python3-pyarmnn, CpuRef) on N
 * deterministic random inputs — where Arm NN can run the model; trained_lstm (an LSTM Arm NN 20.08
 * cannot parse) against a NumPy run of TFLite's kernel semantics, lstm_reference.py — plus
 * hello_world's error from sin(x). Integer outputs are compared in their quantized units. Full run: about a minute.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpy, writeNpy, type NdArray } from '../src/data/npy.ts';
import { Session } from '../src/runtime/index.ts';
import { tfliteToOnnx } from '../src/tflite/index.ts';
import { printTable, round, writeResult } from './lib.ts';

const DIR = join(import.meta.dirname, '..', 'test', 'fixtures', 'tflite');
const MODELS = ['hello_world_float', 'hello_world_int8', 'micro_speech_quantized', 'person_detect', 'trained_lstm'];
/** Models Arm NN 20.08 cannot run, with a NumPy run of TFLite's kernel semantics instead. */
const NUMPY_REFERENCES: Record<string, string> = { trained_lstm: 'lstm_reference.py' };
type Comparison = { max_abs_diff: number; units: string } | { unavailable: string };
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
  // The converted model as defined (graph optimizations off: QDQ evaluated in float) and as
  // onnxruntime runs it by default (QDQ fused into integer kernels, whose u8 x s8 products saturate
  // on x86 without VNNI): the first measures the conversion, the second what a user gets on this CPU.
  let x: ReturnType<typeof inputsFor> | undefined;
  let sinError: number | undefined;
  const outputsWith = async (graphOptimization: 'disabled' | 'all'): Promise<number[]> => {
    const s = await Session.create(model, { threads: 1, graphOptimization });
    x ??= inputsFor(s, SAMPLES, 7);
    const ours: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const data = x.data.subarray(i * x.per, (i + 1) * x.per);
      const r = await s.run({
        [x.spec.name]: { dtype: x.int8 ? 'int8' : 'float32', dims: x.spec.shape as number[], data },
      });
      ours.push(...Array.from(Object.values(r)[0]!.data as ArrayLike<number>, Number));
    }
    if (name === 'hello_world_float' && graphOptimization === 'disabled') {
      sinError = 0;
      for (let k = 0; k <= 100; k++) {
        const v = (2 * Math.PI * k) / 100;
        const r = await s.run({ [x.spec.name]: { dtype: 'float32', dims: [1, 1], data: new Float32Array([v]) } });
        sinError = Math.max(sinError, Math.abs((Object.values(r)[0]!.data as Float32Array)[0]! - Math.sin(v)));
      }
    }
    await s.release();
    return ours;
  };
  const ours = await outputsWith('disabled');
  const oursFused = await outputsWith('all');
  if (!x) throw new Error('no inputs');
  const inPath = join(tmp, `${name}.in.npy`);
  const outPath = join(tmp, `${name}.out.npy`);
  writeNpy(inPath, { dtype: x.int8 ? 'int8' : 'float32', shape: [SAMPLES, x.per], data: x.data });
  const units = x.int8 ? 'int8 steps' : 'float';
  // the outputs of a reference executor script of test/fixtures/tflite on the same inputs (run once)
  const reference = (script: string): NdArray['data'] | { unavailable: string } => {
    const ref = spawnSync('/usr/bin/python3', [join(DIR, script), join(DIR, `${name}.tflite`), inPath, outPath], {
      encoding: 'utf8',
    });
    if (ref.status !== 0) return { unavailable: ref.stderr.trim().split('\n').pop() ?? `exit ${ref.status}` };
    return readNpy(outPath).data;
  };
  // the max |difference| of `values` from a reference's outputs
  const compare = (y: ReturnType<typeof reference>, values: number[] = ours): Comparison => {
    if ('unavailable' in y) return y;
    let worst = 0;
    values.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - Number(y[i])))));
    return { max_abs_diff: round(worst, 7), units };
  };
  const armnnOut = reference('armnn_reference.py');
  const armnn = compare(armnnOut);
  const armnnFused = compare(armnnOut, oursFused);
  const numpy = NUMPY_REFERENCES[name] ? compare(reference(NUMPY_REFERENCES[name])) : undefined;
  rows.push({
    model: name,
    input: `${x.spec.dtype}[${(x.spec.shape as number[]).join(',')}]`,
    onnx_nodes: model.graph.nodes.length,
    convert_ms: round(convertMs, 1),
    armnn,
    armnn_onnxruntime_fused: armnnFused,
    ...(numpy ? { numpy_reference: { script: NUMPY_REFERENCES[name], ...numpy } } : {}),
    ...(sinError !== undefined ? { max_error_vs_sin: round(sinError, 4) } : {}),
  });
}
rmSync(tmp, { recursive: true, force: true });
const shown = (c: Comparison) =>
  'max_abs_diff' in c ? `${c.max_abs_diff} ${c.units}` : `n/a: ${c.unavailable.slice(0, 60)}`;
printTable(
  ['model', 'input', 'nodes', 'convert ms', 'vs reference', 'Arm NN vs onnxruntime fused'],
  rows.map((r) => [
    r.model as string,
    r.input as string,
    r.onnx_nodes as number,
    r.convert_ms as number,
    shown((r.numpy_reference as Comparison | undefined) ?? (r.armnn as Comparison)) +
      (r.numpy_reference ? ' (NumPy reference)' : ''),
    shown(r.armnn_onnxruntime_fused as Comparison),
  ]),
);
console.log(
  `written ${writeResult('tflite-convert', { samples: SAMPLES, executor: 'Arm NN 20.08 TfLiteParser, CpuRef backend (Debian python3-pyarmnn)', models: rows })}`,
);
