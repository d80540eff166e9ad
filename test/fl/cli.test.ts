/**
 * `verge fl simulate` as a user runs it: a small npy dataset and a small model, --json on stdout,
 * progress on stderr, the SVG chart and the final model written (and checked by the ONNX checker);
 * bad flags end with one line and a non-zero exit, writing nothing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/data/npy.ts';
import { saveModel } from '../../src/onnx/io.ts';
import { pool, verge } from '../cli/cli.ts';
import { checkOnnxFiles } from '../fixtures/onnx-checker.ts';
import { BLOB_DIM, blobDataset, blobModel } from './helpers.ts';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'verge-fl-cli-'));
  const d = blobDataset(400, 200);
  for (const [name, split] of [
    ['', d.train],
    ['_test', d.test],
  ] as const) {
    writeNpy(join(dir, `x${name}.npy`), { dtype: 'float32', shape: [split.count, BLOB_DIM], data: split.x });
    writeNpy(join(dir, `y${name}.npy`), { dtype: 'int32', shape: [split.count], data: split.y });
  }
  saveModel(blobModel(4), join(dir, 'blob.onnx'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('verge fl simulate', () => {
  it('--json prints one object; the chart and the final model are written; progress goes to stderr', async () => {
    const plot = join(dir, 'acc.svg');
    const out = join(dir, 'global.onnx');
    const r = await verge([
      'fl',
      'simulate',
      '--data',
      dir,
      '--model',
      join(dir, 'blob.onnx'),
      '--clients',
      '4',
      '--rounds',
      '2',
      '--partition',
      'shards:2',
      '--compress',
      'int8',
      '--lr',
      '0.1',
      '--batch',
      '16',
      '--threads',
      '1',
      '--plot',
      plot,
      '--out',
      out,
      '--json',
    ]);
    expect(r.stderr).toMatch(/round 2\/2: accuracy .* s\/round, ETA/);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]!);
    expect(j.rounds).toHaveLength(2);
    expect(j.final.accuracy).toBeGreaterThan(0.3);
    expect(j.uplink_bytes / j.uplink_bytes_fp32).toBeLessThan(0.3);
    expect(j.partition).toBe('shards:2');
    expect(readFileSync(plot, 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<polyline/);
    const check = checkOnnxFiles([out]);
    if (!check.skipped) expect(check.failures).toEqual([]);
  }, 300_000);

  it('bad flags end with one clear line and write nothing', async () => {
    const plot = join(dir, 'never.svg');
    const base = ['fl', 'simulate', '--data', dir, '--model', join(dir, 'blob.onnx'), '--plot', plot];
    const cases: [string[], RegExp][] = [
      [[...base, '--partition', 'zipf'], /E_BAD_ARGUMENT: --partition must be iid, shards:N or dirichlet:A/],
      [[...base, '--dp-clip', '1'], /E_BAD_ARGUMENT: DP needs both --dp-clip C and --dp-noise Z/],
      [[...base, '--secure-agg', '--strategy', 'median'], /E_BAD_ARGUMENT: --secure-agg needs a mean-based strategy/],
      [[...base, '--data', join(dir, 'missing')], /E_DATA_NOT_FOUND/],
      [[...base, '--restricted-softmax', '1.5'], /--restricted-softmax/],
      [[...base, '--logit-calibration', '-1'], /--logit-calibration/],
      [[...base, '--lr-schedule', 'linear'], /--lr-schedule.*Allowed choices are exp, cosine/],
      [
        [...base, '--lr-schedule', 'cosine', '--lr-decay', '0.9'],
        /E_BAD_ARGUMENT: a cosine client lr schedule takes no lr decay/,
      ],
      // fl start checks its flags before it contacts the cloud
      [['fl', 'start', join(dir, 'blob.onnx'), '--devices', 'a', '--dp-clip', '1'], /E_BAD_ARGUMENT: DP needs both/],
      [
        ['fl', 'start', join(dir, 'blob.onnx'), '--devices', 'a,b,c', '--min-clients', '3', '--min-available', '2'],
        /E_BAD_ARGUMENT: --min-available \(2\) is below --min-clients \(3\)/,
      ],
    ];
    const results = await pool(cases, 2, ([args]) => verge([...args, '--rounds', '1']));
    results.forEach((r, i) => {
      expect(r.code, cases[i]![0].join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(cases[i]![1]);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    });
    expect(existsSync(plot)).toBe(false);
  }, 300_000);
});
