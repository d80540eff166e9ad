/**
 * Every model file verge writes passes the official ONNX checker (`onnx.checker.check_model`,
 * full_check, Debian's python3-onnx 1.12) and carries no newer IR version than its opsets need.
 * One run of each writer as a user runs it — train (every built-in architecture but the speech
 * ones, fine-tuning an import, the per-epoch checkpoints of --checkpoint-dir), quantize (each mode),
 * prune (unstructured in the default layout — at the import's opset 13 and at opsets 9 and 10,
 * where no CumSum rebuilds the mask —, structured), optimize (every variant of the sweep),
 * fl simulate, convert (ONNX and .tflite) — then one checker pass over all the files.
 *
 * Writers that need more than a file to run are checked where they run: `verge retrain --out` and
 * the version it publishes (test/e2e/edge-loop-learning.test.ts), `verge codec train` and
 * `--adapt-classifier` (test/cli/codec.test.ts, test/e2e/codec-adapt.test.ts), the federated
 * global model of a fleet job (test/fl/fleet.test.ts), `--arch hmm` (src/hmm/recognizer.test.ts),
 * `--arch kws-cnn|kws-dscnn` (src/data/audio/kws.test.ts), the TFLite importer on every tflite-micro
 * model (test/tflite/import.test.ts).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARCHITECTURE_NAMES } from '../../src/nn/architecture-names.ts';
import { loadModel, saveModel } from '../../src/onnx/io.ts';
import { DEFAULT_OPSET, defaultOpset } from '../../src/onnx/ir.ts';
import { pool, verge, ROOT } from '../cli/cli.ts';
import { writeDataFiles } from '../fixtures/data-files.ts';
import { checkOnnxFiles } from '../fixtures/onnx-checker.ts';
import { atOpset } from '../optimize/prune-helpers.ts';

/** The newest default-domain opset Debian's checker (ONNX 1.12) knows. */
const CHECKER_MAX_OPSET = 17;
/**
 * The IR version each opset needs (onnx/helper.py VERSION_TABLE): a file should not claim a newer
 * IR than that, or older readers refuse it for nothing.
 */
const IR_FOR_OPSET: [maxOpset: number, ir: number][] = [
  [8, 3],
  [9, 4],
  [10, 5],
  [11, 6],
  [14, 7],
  [18, 8],
  [20, 9],
  [22, 10],
  [23, 11],
];
function irNeeded(opset: number): number {
  return IR_FOR_OPSET.find(([max]) => opset <= max)?.[1] ?? 11;
}

const SEED_CNN = join(ROOT, 'test', 'fixtures', 'models', 'seed_cnn_fmnist.onnx'); // PyTorch export, opset 13
const TFLITE_DIR = join(ROOT, 'test', 'fixtures', 'tflite');
const tmp = mkdtempSync(join(tmpdir(), 'verge-writers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The seed CNN declared at an older opset (its Conv, Relu, MaxPool, Flatten and Gemm mean the same there). */
function seedCnnAtOpset(opset: number): string {
  const path = join(tmp, `seed_cnn_opset${opset}.onnx`);
  saveModel(atOpset(loadModel(SEED_CNN), opset), path);
  return path;
}

const FM = ['--data', 'fashion-mnist', '--limit', '512', '--limit-test', '256'];
/** A writer: its command line, and where it writes besides `--out <name>.onnx`. */
interface Writer {
  name: string;
  args: string[];
  /** `--out-dir <tmp>/<name>` instead of `--out`: every .onnx file in it. */
  outDir?: boolean;
  /** `--checkpoint-dir <tmp>/<name>`: its .onnx checkpoints too. */
  checkpoints?: boolean;
}
/** Writers over an imported model (opset 13): what every verge version must keep checker-valid. */
const WRITERS: Writer[] = [
  { name: 'train-finetune', args: ['train', SEED_CNN, ...FM, '--steps', '3'] },
  { name: 'train-checkpoints', args: ['train', SEED_CNN, ...FM, '--epochs', '1'], checkpoints: true },
  { name: 'quantize-dynamic', args: ['quantize', SEED_CNN, '--mode', 'dynamic'] },
  {
    name: 'quantize-static',
    args: ['quantize', SEED_CNN, '--mode', 'static', '--calib', 'fashion-mnist', '--calib-samples', '64'],
  },
  { name: 'quantize-fp16', args: ['quantize', SEED_CNN, '--mode', 'fp16'] },
  { name: 'quantize-weight-bits', args: ['quantize', SEED_CNN, '--mode', 'weight-bits', '--bits', '4'] },
  {
    name: 'quantize-qat',
    args: [
      'quantize',
      SEED_CNN,
      '--mode',
      'qat',
      '--calib',
      'fashion-mnist',
      '--calib-samples',
      '64',
      '--qat-steps',
      '3',
    ],
  },
  { name: 'prune', args: ['prune', SEED_CNN, '--sparsity', '0.8'] },
  // below opset 11 the default layout once wrote int64 sparse initializers, which the checker fails
  { name: 'prune-opset9', args: ['prune', seedCnnAtOpset(9), '--sparsity', '0.8'] },
  { name: 'prune-opset10', args: ['prune', seedCnnAtOpset(10), '--sparsity', '0.8'] },
  { name: 'prune-structured', args: ['prune', SEED_CNN, '--sparsity', '0.5', '--structured'] },
  {
    name: 'optimize',
    outDir: true,
    args: [
      'optimize',
      SEED_CNN,
      '--data',
      'fashion-mnist',
      '--samples',
      '64',
      '--calib-samples',
      '64',
      '--rounds',
      '1',
    ],
  },
  {
    name: 'fl-simulate',
    args: [
      'fl',
      'simulate',
      '--model',
      SEED_CNN,
      ...FM,
      '--clients',
      '2',
      '--rounds',
      '1',
      '--no-plot',
      '--threads',
      '1',
    ],
  },
  { name: 'convert', args: ['convert', SEED_CNN] },
  ...readdirSync(TFLITE_DIR)
    .filter((f) => f.endsWith('.tflite'))
    .map((f) => ({ name: `convert-${f.replace('.tflite', '')}`, args: ['convert', join(TFLITE_DIR, f)] })),
];
/** The speech architectures train on recorded audio: checked in src/data/audio/kws.test.ts. */
const SPEECH = ['kws-cnn', 'kws-dscnn'];
/**
 * Writers that build a model with verge's layer API (every built-in architecture: images on
 * Fashion-MNIST, token models on a text folder): they write verge's default opset.
 */
function builders(textFolder: string): Writer[] {
  return ARCHITECTURE_NAMES.filter((arch) => !SPEECH.includes(arch)).map((arch) => ({
    name: `train-arch-${arch}`,
    args: ['train', '--arch', arch, ...(arch.startsWith('text-') ? ['--data', textFolder] : FM), '--steps', '3'],
  }));
}

function onnxFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.onnx'))
    .map((f) => join(dir, f));
}

function outputsOf(w: Writer): string[] {
  if (w.outDir) return onnxFilesIn(join(tmp, w.name));
  const out = [join(tmp, `${w.name}.onnx`)];
  if (!w.checkpoints) return out;
  const ckpts = onnxFilesIn(join(tmp, w.name));
  expect(ckpts.length, `${w.name}: checkpoint files`).toBeGreaterThan(0);
  return [...out, ...ckpts];
}

async function runWriters(ws: Writer[]): Promise<string[]> {
  await pool(ws, 2, async (w) => {
    const dest = w.outDir ? ['--out-dir', join(tmp, w.name)] : ['--out', join(tmp, `${w.name}.onnx`)];
    if (w.checkpoints) dest.push('--checkpoint-dir', join(tmp, w.name));
    if (w.outDir) mkdirSync(join(tmp, w.name), { recursive: true });
    const r = await verge([...w.args, ...dest, '--json']);
    if (r.code !== 0)
      throw new Error(`verge ${w.args.slice(0, 2).join(' ')} (${w.name}) exited ${r.code}: ${r.stderr}`);
  });
  return ws.flatMap(outputsOf);
}

function expectStandardValid(files: string[]): void {
  for (const f of files) {
    const m = loadModel(f);
    const opset = defaultOpset(m)!;
    expect(m.irVersion, `${f}: IR ${m.irVersion} for opset ${opset}`).toBeLessThanOrEqual(irNeeded(opset));
  }
  const r = checkOnnxFiles(files);
  if (r.skipped) return console.warn(`skipped the ONNX checker: ${r.skipped}`);
  expect(r.failures).toEqual([]);
}

describe('every writer: ONNX checker (full_check) and IR version', () => {
  let files: string[] = [];
  beforeAll(async () => {
    files = await runWriters(WRITERS);
  }, 1_200_000);

  it('writes a file per writer, and optimize one per variant', () => {
    expect(files.length).toBeGreaterThanOrEqual(WRITERS.length + 3);
  });

  it('each file passes the checker', () => expectStandardValid(files), 300_000);

  it.skipIf(DEFAULT_OPSET > CHECKER_MAX_OPSET)(
    `models built by the layer API pass too (verge's default opset ${DEFAULT_OPSET}; runs when ≤ the checker's ${CHECKER_MAX_OPSET})`,
    async () => {
      const files = await writeDataFiles(join(tmp, 'data'));
      expectStandardValid(await runWriters(builders(files.textFolder)));
    },
    900_000,
  );
});
