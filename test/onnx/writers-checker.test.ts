/**
 * Every model file verge writes passes the official ONNX checker (`onnx.checker.check_model`,
 * full_check, Debian's python3-onnx 1.12) and carries no newer IR version than its opsets need.
 * One run of each writer as a user runs it — train (an architecture, fine-tuning an import),
 * quantize (each mode), prune (unstructured in the default layout, structured), optimize (every
 * variant of the sweep), fl simulate, convert (ONNX and .tflite) — then one checker pass over all
 * the files.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/onnx/io.ts';
import { DEFAULT_OPSET, defaultOpset } from '../../src/onnx/ir.ts';
import { pool, verge, ROOT } from '../cli/cli.ts';
import { checkOnnxFiles } from '../fixtures/onnx-checker.ts';

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

const FM = ['--data', 'fashion-mnist', '--limit', '512', '--limit-test', '256'];
/** Writers over an imported model (opset 13): what every verge version must keep checker-valid. */
const WRITERS: { name: string; args: string[]; outDir?: boolean }[] = [
  { name: 'train-finetune', args: ['train', SEED_CNN, ...FM, '--steps', '3'] },
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
/** Writers that build a model with verge's layer API: they write verge's default opset. */
const BUILDERS = ['cnn', 'mlp', 'gru'].map((arch) => ({
  name: `train-arch-${arch}`,
  args: ['train', '--arch', arch, ...FM, '--steps', '3'],
}));

function outputsOf(w: { name: string; outDir?: boolean }): string[] {
  if (!w.outDir) return [join(tmp, `${w.name}.onnx`)];
  return readdirSync(join(tmp, w.name))
    .filter((f) => f.endsWith('.onnx'))
    .map((f) => join(tmp, w.name, f));
}

async function runWriters(ws: { name: string; args: string[]; outDir?: boolean }[]): Promise<string[]> {
  await pool(ws, 2, async (w) => {
    const dest = w.outDir ? ['--out-dir', join(tmp, w.name)] : ['--out', join(tmp, `${w.name}.onnx`)];
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
    async () => expectStandardValid(await runWriters(BUILDERS)),
    600_000,
  );
});
