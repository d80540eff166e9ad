/** `verge prune` and `verge optimize` through the real CLI, on the PyTorch-trained seed CNN. */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/onnx/io.ts';
import { checkOnnxFiles } from '../fixtures/onnx-checker.ts';
import { trainedFixturePath } from '../optimize/helpers.ts';
import { pool, verge } from './cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'verge-prune-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const model = trainedFixturePath('seed_cnn_fmnist');

function oneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() && !l.startsWith('npm warn'));
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('verge prune', () => {
  it('unstructured: one JSON object, a sparse file at <= 0.35x that loads', async () => {
    const out = join(tmp, 'p80.onnx');
    const r = await verge(['prune', model, '--sparsity', '0.8', '--out', out, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.mode).toBe('unstructured');
    expect(j.sparsity).toBeCloseTo(0.8, 3);
    expect(j.ratio).toBeLessThanOrEqual(0.35);
    expect(j.bytes_out).toBe(readFileSync(out).length);
    expect(j.layout).toBe('mask'); // the default: standard ops rebuild the weights
    expect(loadModel(out).graph.initializers.some((t) => t.name.endsWith('__m_bits'))).toBe(true);
    const checked = checkOnnxFiles([out]);
    if (!checked.skipped) expect(checked.failures).toEqual([]);
  });

  it('structured with fine-tuning in stages: smaller dense model, accuracy before/after', async () => {
    const out = join(tmp, 's50.onnx');
    const r = await verge([
      'prune',
      model,
      '--sparsity',
      '0.5',
      '--structured',
      '--data',
      'fashion-mnist',
      '--finetune-epochs',
      '2',
      '--stages',
      '0.25',
      '--finetune-samples',
      '640',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.layers.map((l: { after: number }) => l.after)).toEqual([16, 32, 32]);
    expect(j.finetune.steps).toBe(20);
    expect(j.finetune.lr).toBe(0.001);
    expect(j.finetune.schedule).toBe('cosine:0');
    expect(j.finetune.stages.map((st: { ratio: number; epochs: number }) => [st.ratio, st.epochs])).toEqual([
      [0.25, 1],
      [0.5, 1],
    ]);
    expect(j.accuracy_before).toBeGreaterThan(0.85);
    expect(j.accuracy_after).toBeGreaterThan(0.5);
    expect(loadModel(out).graph.sparseInitializers).toEqual([]);
  });

  it('bad flags fail with one line and write nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['--sparsity', '1.5'], /E_BAD_ARGUMENT: --sparsity must be >= 0 and < 1, got 1\.5/],
      [['--sparsity', 'lots'], /E_BAD_ARGUMENT: --sparsity must be a number/],
      [['--sparsity', '0.5', '--finetune-epochs', '2'], /E_BAD_ARGUMENT: --finetune-epochs needs --data/],
      [
        ['--sparsity', '0.5', '--norm', 'l3', '--structured'],
        /E_BAD_ARGUMENT: option '--norm <n>' argument 'l3' is invalid\. Allowed choices are l1, l2/,
      ],
      [['--sparsity', '0.5', '--stages', '0.25'], /E_BAD_ARGUMENT: --stages applies to --structured pruning only/],
      [
        ['--sparsity', '0.5', '--structured', '--data', 'fashion-mnist', '--finetune-epochs', '2', '--stages', '0.6'],
        /E_BAD_ARGUMENT: --stages must increase and stay below --sparsity 0.5, got 0.6/,
      ],
      [['--sparsity', '0.5', '--schedule', 'wobble'], /E_BAD_ARGUMENT: bad --schedule 'wobble'/],
      [['--sparsity', '0.5', '--finetune-epochs', '-1'], /E_BAD_ARGUMENT: --finetune-epochs must be >= 0, got -1/],
      [
        ['--sparsity', '0.5', '--data', 'fashion-mnist', '--finetune-epochs', '1', '--finetune-samples', '0'],
        /E_BAD_ARGUMENT: --finetune-samples must be >= 1, got 0/,
      ],
    ];
    const out = join(tmp, 'never.onnx');
    const results = await pool(cases, 2, ([flags]) => verge(['prune', model, ...flags, '--out', out]));
    results.forEach((r, k) => {
      expect(r.code).not.toBe(0);
      expect(oneErrorLine(r.stderr)).toMatch(cases[k]![1]);
      expect(r.stdout).toBe('');
    });
    expect(existsSync(out)).toBe(false);
  });

  it('a model with nothing to prune structurally says why', async () => {
    const r = await verge([
      'prune',
      join('test/fixtures/models', 'gru_classifier.onnx'),
      '--sparsity',
      '0.5',
      '--structured',
      '--out',
      join(tmp, 'g.onnx'),
    ]);
    expect(r.code).not.toBe(0);
    expect(oneErrorLine(r.stderr)).toMatch(/E_UNSUPPORTED: no layer could be pruned structurally/);
  });
});

describe('verge optimize', () => {
  it('sweeps, writes every variant and the report, and selects for a target', async () => {
    const dir = join(tmp, 'opt');
    const r = await verge([
      'optimize',
      model,
      '--data',
      'fashion-mnist',
      '--out-dir',
      dir,
      '--variants',
      'int8-static,filters',
      '--samples',
      '300',
      '--rounds',
      '1',
      '--calib-samples',
      '64',
      '--target',
      'mcu-class',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.variants.map((v: { name: string }) => v.name)).toEqual(['fp32', 'int8-static', 'filters']);
    for (const v of j.variants) {
      expect(v.samples).toBe(300);
      expect(v.latency.map((l: { batch: number }) => l.batch)).toEqual([1, 32]);
      expect(readFileSync(join(dir, v.file)).length).toBe(v.bytes);
    }
    expect(j.variants[1].bytes_ratio).toBeLessThan(0.3);
    // mcu-class runs int8 only: fp32 and filters are rejected for precision
    expect(j.target.rejected.find((x: { name: string }) => x.name === 'fp32').reason).toMatch(
      /fp32 arithmetic is not supported/,
    );
    expect(readdirSync(dir).sort()).toEqual([
      'filters.onnx',
      'fp32.onnx',
      'int8-static.onnx',
      'report.json',
      'report.md',
      'report.svg',
    ]);
    expect(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).variants).toHaveLength(3);
    expect(readFileSync(join(dir, 'report.svg'), 'utf8')).toContain('accuracy vs size');
  });

  it('fine-tunes the filter-pruned variant (structured recipe) and writes the smaller model', async () => {
    const dir = join(tmp, 'opt-ft');
    const r = await verge([
      'optimize',
      model,
      '--data',
      'fashion-mnist',
      '--out-dir',
      dir,
      '--variants',
      'filters',
      '--finetune-epochs',
      '1',
      '--finetune-samples',
      '640',
      '--samples',
      '500',
      '--rounds',
      '1',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const filters = j.variants.find((v: { name: string }) => v.name === 'filters');
    expect(filters.description).toMatch(/50% of Conv filters .* 1 fine-tune epoch/);
    expect(filters.accuracy).toBeGreaterThan(0.8);
    const m = loadModel(join(dir, filters.file));
    expect(m.graph.initializers.find((t) => t.name === 'net.3.weight')!.dims).toEqual([32, 16, 3, 3]);
  });

  it('rejects an unknown target and an unknown variant with one line', { timeout: 600_000 }, async () => {
    const bad = join(tmp, 'bad-profile.json');
    writeFileSync(
      bad,
      JSON.stringify({ name: 'x', memory_mb: 1, latency_budget_ms: 1, batch: 0, precisions: ['fp32'] }),
    );
    const residual = join('test/fixtures/models', 'residual_block.onnx');
    const cases: [string, string[], RegExp][] = [
      [model, ['--target', 'toaster'], /E_BAD_ARGUMENT: unknown device profile 'toaster'/],
      [model, ['--target', bad], /E_BAD_ARGUMENT: .*field 'batch'/],
      [model, ['--variants', 'int3'], /E_BAD_ARGUMENT: unknown variant 'int3'/],
      [model, ['--finetune-epochs', '1.5'], /E_BAD_ARGUMENT: --finetune-epochs must be an integer, got '1.5'/],
      [model, ['--threads', '0'], /E_BAD_ARGUMENT: --threads must be >= 1, got 0/],
      [residual, [], /E_SHAPE_MISMATCH: .*takes samples of shape \[16, 8, 8\], the data has \[1, 28, 28\]/],
    ];
    const results = await pool(cases, 2, ([m, flags]) =>
      verge(['optimize', m, '--data', 'fashion-mnist', '--out-dir', join(tmp, 'never'), ...flags]),
    );
    results.forEach((r, k) => {
      expect(r.code).not.toBe(0);
      expect(oneErrorLine(r.stderr)).toMatch(cases[k]![2]);
    });
    expect(existsSync(join(tmp, 'never'))).toBe(false);
  });
});
