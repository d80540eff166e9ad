/** run, bench, data and convert through the real CLI: --json contracts and written files. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/data/npy.ts';
import { readNpz } from '../../src/data/npz.ts';
import { saveModel } from '../../src/onnx/io.ts';
import { fixturePath } from '../fixtures/index.ts';
import { twoInputModel } from '../runtime/models.ts';
import { pool, verge, type CliResult } from './cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'verge-cli-'));
const TINY = join(dirname(fileURLToPath(import.meta.url)), '..', 'data', 'fixtures', 'tiny_dataset');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const seed = fixturePath('seed_cnn');
const two = join(tmp, 'two.onnx');
const runs: Record<string, string[]> = {
  runInput: [
    'run',
    seed,
    '--input',
    fixturePath('seed_cnn.input.npy'),
    '--out',
    join(tmp, 'y.npy'),
    '--json',
    '--threads',
    '1',
  ],
  runHuman: ['run', seed, '--random', '--batch', '3', '--seed', '5'],
  runCast: ['run', seed, '--input', join(tmp, 'x64.npy'), '--cast', '--json'],
  runTwoDir: [
    'run',
    two,
    '--input',
    `a=${join(tmp, 'a.npy')}`,
    '--input',
    `b=${join(tmp, 'b.npy')}`,
    '--out',
    join(tmp, 'outdir') + '/',
    '--json',
  ],
  runTwoNpz: ['run', two, '--input', join(tmp, 'ab.npz'), '--out', join(tmp, 'outs.npz')],
  bench: ['bench', seed, '--batch', '1,4', '--runs', '3', '--warmup', '1', '--threads', '1', '--json'],
  data: ['data', TINY, '--json'],
  convert: ['convert', seed, '--out', join(tmp, 'c.onnx'), '--json'],
};
const r: Record<string, CliResult> = {};

beforeAll(async () => {
  // a model with two inputs and two outputs (y batched, s a scalar)
  saveModel(twoInputModel(true), two);
  mkdirSync(join(tmp, 'outdir'));
  writeNpy(join(tmp, 'x64.npy'), { dtype: 'float64', shape: [1, 1, 28, 28], data: new Float64Array(784).fill(0.5) });
  writeNpy(join(tmp, 'a.npy'), {
    dtype: 'float32',
    shape: [2, 4],
    data: Float32Array.from({ length: 8 }, (_, i) => i),
  });
  writeNpy(join(tmp, 'b.npy'), { dtype: 'float32', shape: [2, 4], data: new Float32Array(8).fill(10) });
  const { writeNpz } = await import('../../src/data/npz.ts');
  writeNpz(join(tmp, 'ab.npz'), { a: readNpy(join(tmp, 'a.npy')), b: readNpy(join(tmp, 'b.npy')) });
  const names = Object.keys(runs);
  const results = await pool(names, 2, (n) => verge(runs[n]!));
  names.forEach((n, i) => (r[n] = results[i]!));
}, 600_000); // see bad-input.test.ts: each CLI spawn costs 1-3 s of CPU

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON reports are checked field by field below
function json(name: string): Record<string, any> {
  const res = r[name]!;
  expect(res.code, res.stderr).toBe(0);
  const lines = res.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!);
}

describe('verge run', () => {
  it('runs a fixture on its .npy input, matching PyTorch, and writes --out', () => {
    const j = json('runInput');
    const expected = readNpy(fixturePath('seed_cnn.output.npy'));
    expect(j.outputs.output.dims).toEqual([2, 10]);
    expect(j.outputs.output.dtype).toBe('float32');
    j.outputs.output.first.forEach((v: number, i: number) =>
      expect(v).toBeCloseTo((expected.data as Float32Array)[i]!, 4),
    );
    expect(j.inputs.input.source).toContain('seed_cnn.input.npy');
    expect(j.ms).toBeGreaterThan(0);
    const y = readNpy(join(tmp, 'y.npy'));
    expect(y.shape).toEqual([2, 10]);
    (y.data as Float32Array).forEach((v, i) =>
      expect(Math.abs(v - (expected.data as Float32Array)[i]!)).toBeLessThan(1e-4),
    );
  });

  it('synthesizes inputs with --random --batch and prints a preview', () => {
    const out = r.runHuman!.stdout;
    expect(r.runHuman!.code, r.runHuman!.stderr).toBe(0);
    expect(out).toMatch(/input {2}input: float32 \[3, 1, 28, 28\] from random \(seed 5\)/);
    expect(out).toMatch(/output output: float32 \[3, 10\] \[.+, …\]\s+min .* max .* mean/);
  });

  it('--cast converts numpy float64 input to the model dtype', () => {
    const j = json('runCast');
    expect(j.inputs.input).toMatchObject({ dtype: 'float32', dims: [1, 1, 28, 28] });
    expect(j.inputs.input.source).toMatch(/cast from float64/);
    expect(j.outputs.output.dims).toEqual([1, 10]);
  });

  it('takes named inputs and .npz inputs; writes several outputs to a folder or an .npz', () => {
    const j = json('runTwoDir');
    expect(Object.keys(j.outputs).sort()).toEqual(['s', 'y']);
    expect(Array.from(readNpy(join(tmp, 'outdir', 'y.npy')).data as Float32Array)).toEqual([
      10, 11, 12, 13, 14, 15, 16, 17,
    ]);
    const s = readNpy(join(tmp, 'outdir', 's.npy'));
    expect([s.shape, Array.from(s.data as Float32Array)]).toEqual([[], [28]]);
    expect(r.runTwoNpz!.code, r.runTwoNpz!.stderr).toBe(0);
    const z = readNpz(join(tmp, 'outs.npz'));
    expect(Array.from(z.y!.data as Float32Array)).toEqual([10, 11, 12, 13, 14, 15, 16, 17]);
  });
});

describe('verge bench', () => {
  it('prints {results:[{batch, p50_ms, p99_ms, samples_per_sec}], peak_rss_mb} and progress on stderr', () => {
    const j = json('bench');
    expect(j.results.map((x: { batch: number }) => x.batch)).toEqual([1, 4]);
    for (const x of j.results) {
      expect(x.p50_ms).toBeGreaterThan(0);
      expect(x.p99_ms).toBeGreaterThanOrEqual(x.p50_ms);
      expect(Math.abs(x.samples_per_sec / ((x.batch * 1000) / x.p50_ms) - 1)).toBeLessThan(0.01); // p50 is rounded
      expect(x.runs).toBe(3);
    }
    expect(j.peak_rss_mb).toBeGreaterThan(10);
    expect(r.bench!.stderr).toMatch(/bench .*batches 1, 4/);
  });
});

describe('verge data', () => {
  it('describes a folder of numpy arrays, with source and counts', () => {
    expect(json('data')).toMatchObject({
      name: 'tiny_dataset',
      source: TINY,
      train: 18,
      test: 2,
      shape: [4, 4],
      classes: 3,
    });
  });
});

describe('verge convert', () => {
  it('reports bytes in and out and writes a byte-identical model', () => {
    const j = json('convert');
    expect(j.bytes_in).toBe(statSync(seed).size);
    expect(j.bytes_out).toBe(statSync(join(tmp, 'c.onnx')).size);
    expect(readFileSync(join(tmp, 'c.onnx')).equals(readFileSync(seed))).toBe(true);
  });
});
