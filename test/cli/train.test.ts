import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/data/npy.ts';
import { FIXTURE_MODELS_DIR } from '../fixtures/index.ts';
import { pool, verge } from './cli.ts';
import { loadModel } from '../../src/onnx/io.ts';
import { defaultOpset, type Model } from '../../src/onnx/ir.ts';
import { checkOnnxFiles } from '../fixtures/onnx-checker.ts';
import { sequenceTask } from '../nn/sequence-task.ts';

const tmp = mkdtempSync(join(tmpdir(), 'verge-train-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function oneErrorLine(stderr: string, code: string): void {
  const lines = stderr.trim().split('\n');
  expect(lines[lines.length - 1]).toMatch(new RegExp(`^error: ${code}: `));
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
}

/** A folder of 48 28×28 images (x.npy, y.npy) labelled 0–2, with the same as a test split if asked. */
function threeClassImages(name: string, withTest: boolean): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const n = 48;
  const x = Float32Array.from({ length: n * 784 }, (_, i) => Math.sin(i * 0.013) * ((i % 784) / 784));
  const y = Int32Array.from({ length: n }, (_, i) => i % 3);
  for (const suffix of withTest ? ['', '_test'] : ['']) {
    writeNpy(join(dir, `x${suffix}.npy`), { dtype: 'float32', shape: [n, 1, 28, 28], data: x });
    writeNpy(join(dir, `y${suffix}.npy`), { dtype: 'int32', shape: [n], data: y });
  }
  return dir;
}

describe('verge train / verge eval', () => {
  it('trains --arch mlp on Fashion-MNIST, writes a plain model that verge eval scores the same', async () => {
    const out = join(tmp, 'mlp.onnx');
    const r = await verge([
      'train',
      '--arch',
      'mlp',
      '--data',
      'fashion-mnist',
      '--limit',
      '600',
      '--limit-test',
      '300',
      '--epochs',
      '2',
      '--batch',
      '32',
      '--seed',
      '3',
      '--threads',
      '1',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(Object.keys(report)).toEqual(
      expect.arrayContaining(['epochs', 'steps', 'samples_per_sec', 'history', 'test', 'peak_rss_mb', 'data']),
    );
    expect(report.epochs).toBe(2);
    expect(report.steps).toBe(2 * Math.ceil(600 / 32));
    expect(report.history[1]).toEqual(
      expect.objectContaining({
        epoch: 2,
        loss: expect.any(Number),
        accuracy: expect.any(Number),
        samples_per_sec: expect.any(Number),
      }),
    );
    expect(report.data).toEqual(expect.objectContaining({ train: 600, test: 300, source: expect.any(String) }));
    expect(report.test.accuracy).toBeGreaterThan(0.5);
    expect(r.stderr).toMatch(/epoch 1: loss/);
    const e = await verge(['eval', out, '--data', 'fashion-mnist', '--limit', '300', '--json']);
    expect(e.code, e.stderr).toBe(0);
    const ev = JSON.parse(e.stdout);
    expect(ev.samples).toBe(300);
    expect(ev.accuracy).toBe(report.test.accuracy);
    expect(ev.loss).toBeCloseTo(report.test.loss, 4);
  });

  it('fine-tunes the PyTorch-exported seed CNN with a frozen feature extractor', async () => {
    const out = join(tmp, 'seed_cnn_ft.onnx');
    const r = await verge([
      'train',
      join(FIXTURE_MODELS_DIR, 'seed_cnn.onnx'),
      '--data',
      'fashion-mnist',
      '--limit',
      '256',
      '--limit-test',
      '200',
      '--steps',
      '8',
      '--freeze',
      '^(?!fc2)',
      '--optimizer',
      'sgd',
      '--lr',
      '0.05',
      '--momentum',
      '0.9',
      '--threads',
      '1',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.steps).toBe(8);
    expect(report.model).toEqual({ file: expect.stringMatching(/seed_cnn\.onnx$/) });
    const weights = (m: Model) =>
      new Map(m.graph.initializers.map((t) => [t.name, Array.from(t.data as Float32Array)]));
    const before = weights(loadModel(join(FIXTURE_MODELS_DIR, 'seed_cnn.onnx')));
    const after = weights(loadModel(out));
    const names = [...before.keys()];
    expect(names.some((n) => n.startsWith('fc2'))).toBe(true);
    for (const n of names) {
      if (n.startsWith('fc2')) expect(after.get(n), n).not.toEqual(before.get(n));
      else expect(after.get(n), n).toEqual(before.get(n));
    }
  });

  it('fine-tunes an opset-13 export on data labelling fewer classes than it scores: a warning, not an error', async () => {
    const dir = threeClassImages('three-classes', true);
    const out = join(tmp, 'seed_cnn_3.onnx');
    const source = join(FIXTURE_MODELS_DIR, 'seed_cnn.onnx');
    const r = await verge([
      'train',
      source,
      '--data',
      dir,
      '--steps',
      '4',
      '--batch',
      '16',
      '--threads',
      '1',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: .*labels 3 of the 10 classes/);
    expect(JSON.parse(r.stdout).steps).toBe(4);
    const saved = loadModel(out);
    expect(defaultOpset(saved)).toBe(defaultOpset(loadModel(source)));
    expect(defaultOpset(saved)).toBe(13);
    const checked = checkOnnxFiles([out]);
    if (!checked.skipped) expect(checked.failures).toEqual([]);
    const e = await verge(['eval', out, '--data', dir, '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stderr).toMatch(/warning: /);
  });

  it('transfer learning: --num-classes replaces the head, --freeze backbone trains only it', async () => {
    const dir = threeClassImages('new-task', false);
    const out = join(tmp, 'seed_cnn_new_head.onnx');
    const source = join(FIXTURE_MODELS_DIR, 'seed_cnn.onnx');
    const r = await verge([
      'train',
      source,
      '--data',
      dir,
      '--num-classes',
      '3',
      '--freeze',
      'backbone',
      '--no-train-bn',
      '--steps',
      '4',
      '--batch',
      '16',
      '--threads',
      '1',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/replaced the classifier head \(Gemm '.*', \d+ → 10\) with a fresh \d+ → 3 layer/);
    expect(r.stderr).not.toMatch(/warning/);
    const report = JSON.parse(r.stdout);
    expect(report.head).toEqual(expect.objectContaining({ op: 'Gemm', previous_classes: 10, classes: 3 }));
    expect(report.trained_parameters).toBe(2);
    expect(report.frozen_parameters).toBeGreaterThan(0);
    expect(report.train_bn).toBe(false);
    const before = new Map(loadModel(source).graph.initializers.map((t) => [t.name, t]));
    const saved = loadModel(out);
    expect(defaultOpset(saved)).toBe(defaultOpset(loadModel(source)));
    for (const t of saved.graph.initializers) {
      if (t.name === report.head.weight || t.name === report.head.bias) expect(t.dims).toContain(3);
      else expect(t.data, t.name).toEqual(before.get(t.name)!.data);
    }
    const checked = checkOnnxFiles([out]);
    if (!checked.skipped) expect(checked.failures).toEqual([]);
    const e = await verge(['eval', out, '--data', dir, '--json']);
    expect(e.code, e.stderr).toBe(0);
  });

  it('trains the PyTorch GRU fixture (lowered for training) on a sequence dataset folder', async () => {
    const dir = join(tmp, 'seq');
    const data = sequenceTask({ train: 1500, test: 400, seed: 1 });
    mkdirSync(dir);
    writeNpy(join(dir, 'x.npy'), { dtype: 'float32', shape: [1500, 5, 8], data: data.train.x });
    writeNpy(join(dir, 'y.npy'), { dtype: 'int32', shape: [1500], data: data.train.y });
    writeNpy(join(dir, 'x_test.npy'), { dtype: 'float32', shape: [400, 5, 8], data: data.test.x });
    writeNpy(join(dir, 'y_test.npy'), { dtype: 'int32', shape: [400], data: data.test.y });
    const out = join(tmp, 'gru.onnx');
    const r = await verge([
      'train',
      join(FIXTURE_MODELS_DIR, 'gru_classifier.onnx'),
      '--data',
      dir,
      '--epochs',
      '4',
      '--batch',
      '32',
      '--lr',
      '0.01',
      '--seed',
      '1',
      '--threads',
      '1',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/lowered GRU/);
    const report = JSON.parse(r.stdout);
    expect(report.test.accuracy).toBeGreaterThan(0.6); // chance is 0.25
    const e = await verge(['eval', out, '--data', dir, '--json']);
    expect(JSON.parse(e.stdout).accuracy).toBeCloseTo(report.test.accuracy, 2);
  });

  it('bad inputs end with one clear line and no output file', { timeout: 600_000 }, async () => {
    const out = join(tmp, 'never.onnx');
    const seedCnn = join(FIXTURE_MODELS_DIR, 'seed_cnn.onnx');
    const cases: [string[], string, RegExp][] = [
      [
        ['train', '--arch', 'resnet9000', '--data', 'fashion-mnist', '--limit', '10', '--out', out],
        'E_BAD_ARGUMENT',
        /argument 'resnet9000' is invalid\. Allowed choices are cnn, mlp, mobilenet-tiny, gru/,
      ],
      [
        [
          'train',
          join(FIXTURE_MODELS_DIR, 'residual_block.onnx'),
          '--data',
          'fashion-mnist',
          '--limit',
          '10',
          '--out',
          out,
        ],
        'E_SHAPE_MISMATCH',
        /cannot fill|takes samples/,
      ],
      [
        ['train', '--arch', 'cnn', '--data', join(tmp, 'no-such-dir'), '--out', out],
        'E_DATA_NOT_FOUND',
        /neither a built-in dataset/,
      ],
      [
        ['train', '--arch', 'cnn', '--data', 'fashion-mnist', '--optimizer', 'rmsprop', '--out', out],
        'E_BAD_ARGUMENT',
        /argument 'rmsprop' is invalid\. Allowed choices are sgd, adam, adamw/,
      ],
      [
        ['train', '--arch', 'cnn', '--data', 'fashion-mnist', '--schedule', 'linear', '--out', out],
        'E_BAD_ARGUMENT',
        /bad --schedule/,
      ],
      [
        ['train', '--arch', 'cnn', '--data', 'fashion-mnist', '--out', join(tmp, 'missing-dir', 'm.onnx')],
        'E_FILE_NOT_FOUND',
        /output folder/,
      ],
      [
        ['train', join(tmp, 'nope.onnx'), '--arch', 'cnn', '--data', 'fashion-mnist', '--out', out],
        'E_BAD_ARGUMENT',
        /either --arch/,
      ],
      [
        ['eval', join(FIXTURE_MODELS_DIR, 'gru_classifier.onnx'), '--data', 'fashion-mnist', '--limit', '10'],
        'E_SHAPE_MISMATCH',
        /input 'input'/,
      ],
      [['eval', join(tmp, 'nope.onnx'), '--data', 'fashion-mnist'], 'E_FILE_NOT_FOUND', /does not exist/],
      [
        ['train', seedCnn, '--data', 'fashion-mnist', '--limit', '10', '--freeze', '^layer9\\.', '--out', out],
        'E_BAD_ARGUMENT',
        /--freeze \/\^layer9\\\.\/ matches none of the model's \d+ parameter tensors \(names look like: /,
      ],
      [
        ['train', seedCnn, '--data', 'fashion-mnist', '--limit', '10', '--freeze', '(', '--out', out],
        'E_BAD_ARGUMENT',
        /--freeze takes 'backbone' or a regular expression/,
      ],
      [
        ['train', seedCnn, '--data', 'fashion-mnist', '--limit', '10', '--num-classes', '4', '--out', out],
        'E_SHAPE_MISMATCH',
        /scores 4 classes but .* has 10/,
      ],
      [
        ['train', '--arch', 'cnn', '--data', 'fashion-mnist', '--num-classes', '4', '--out', out],
        'E_BAD_ARGUMENT',
        /--num-classes replaces the head of a model file/,
      ],
    ];
    const results = await pool(cases, 2, ([args]) => verge(args));
    cases.forEach(([args, code, message], i) => {
      const r = results[i]!;
      expect(r.code, args.join(' ')).not.toBe(0);
      oneErrorLine(r.stderr, code);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    });
    expect(readdirSync(tmp).filter((f) => f.startsWith('never') || f.includes('.tmp'))).toEqual([]);
  });

  it('--help describes the options and their defaults', async () => {
    const r = await verge(['train', '--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--arch',
      '--data',
      '--epochs',
      '--steps',
      '--batch',
      '--optimizer',
      '--lr',
      '--loss',
      '--no-shuffle',
      '--seed',
      '--threads',
      '--schedule',
      '--freeze',
      '--num-classes',
      '--no-train-bn',
      '--limit',
      '--out',
      '--json',
    ]) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toMatch(/default: 64/);
  });
});
