/**
 * `verge data`, `train`, `eval` and `run` on every raw source, through the real CLI with real
 * files (PNG and JPEG written by sharp, a table CSV with missing values and categories, a sensor
 * CSV, text folders): the trained model carries its preprocessing, so `run --image/--csv/--text`
 * prepares new raw inputs the way `eval` read the test split and agrees with its accuracy.
 * Bad inputs end with one `error: CODE: message` line.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDataFiles, type DataFiles } from '../fixtures/data-files.ts';
import { checkOnnxFiles } from '../fixtures/onnx-checker.ts';
import { pool, verge, type CliResult } from './cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'verge-data-cli-'));
let files: DataFiles;
beforeAll(async () => {
  files = await writeDataFiles(tmp);
}, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The one JSON object a command printed (it must have succeeded). */
function json<T>(r: CliResult): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

function oneErrorLine(r: CliResult, pattern: RegExp): void {
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines[lines.length - 1]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

/** The data flags of a train command line (verge data takes those, not --arch/--lr/--batch/--augment). */
function dataFlags(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i += 2)
    if (!['--arch', '--lr', '--batch', '--augment'].includes(args[i]!)) out.push(args[i]!, args[i + 1]!);
  return out;
}

const common = ['--epochs', '8', '--seed', '1', '--threads', '1', '--no-cache', '--json'];
/** Decoded-image caches stay in the test's folder (not the user's ~/.cache). */
const cache = (): string => join(tmp, 'cache');

interface Case {
  name: string;
  data: () => string;
  train: string[];
  /** `verge run` arguments for raw inputs, and the labels they should mostly get. */
  run: () => { args: string[]; labels: string[] };
}

const CASES: Case[] = [
  {
    name: 'PNG class folders',
    data: () => files.pngFolder,
    train: ['--arch', 'mlp', '--augment', 'flip,shift:0.1,noise:0.02'],
    run: () => ({ args: ['--image', join(files.pngFolder, 'light', 'light-5.png')], labels: ['light'] }),
  },
  {
    name: 'JPEG train/ and test/ folders',
    data: () => files.jpegFolder,
    train: ['--arch', 'cnn'],
    run: () => ({ args: ['--image', join(files.jpegFolder, 'test', 'blue', 'blue-2.jpg')], labels: ['blue'] }),
  },
  {
    name: 'a table CSV with missing values and categories',
    data: () => files.tableFolder,
    train: ['--arch', 'mlp', '--drop-columns', 'id', '--lr', '0.01'],
    run: () => {
      const lines = readFileSync(join(files.tableFolder, 'test.csv'), 'utf8').trim().split('\n');
      return {
        args: ['--csv', join(files.tableFolder, 'test.csv')],
        labels: lines.slice(1).map((l) => l.split(',').at(-1)!),
      };
    },
  },
  {
    name: 'a sensor series CSV',
    data: () => files.sensorCsv,
    train: ['--arch', 'gru', '--window', '20', '--stride', '10', '--label', 'activity', '--lr', '0.01', '--batch', '8'],
    run: () => {
      // rows 400..479 are walking: the windows at rows 0-19 and 10-29 of this excerpt
      const lines = readFileSync(files.sensorCsv, 'utf8').trim().split('\n');
      const excerpt = join(tmp, 'walk.csv');
      writeFileSync(excerpt, [lines[0], ...lines.slice(401, 431)].join('\n') + '\n');
      return { args: ['--csv', excerpt], labels: ['walk', 'walk'] };
    },
  },
  {
    name: 'text class folders',
    data: () => files.textFolder,
    train: ['--arch', 'text-cnn', '--lr', '0.01'],
    run: () => {
      const dir = join(files.textFolder, 'test');
      const texts: string[] = [];
      const labels: string[] = [];
      for (const c of readdirSync(dir))
        for (const f of readdirSync(join(dir, c)).slice(0, 3)) {
          texts.push(readFileSync(join(dir, c, f), 'utf8'));
          labels.push(c);
        }
      return { args: texts.flatMap((t) => ['--text', t]), labels };
    },
  },
];

describe('verge data/train/eval/run on each source', { timeout: 600_000 }, () => {
  const models: string[] = [];
  it.each(CASES)('$name', async (c) => {
    const out = join(tmp, `${c.name.replace(/\W+/g, '-')}.onnx`);
    const described = json<{ train: number; test: number; classes: number }>(
      await verge(['data', c.data(), ...dataFlags(c.train), '--cache-dir', cache(), '--json']),
    );
    expect(described.train).toBeGreaterThan(0);
    expect(described.test).toBeGreaterThan(0);
    expect(described.classes).toBe(2);
    const trained = json<{ test: { accuracy: number } }>(
      await verge(['train', '--data', c.data(), ...c.train, ...common, '--out', out]),
    );
    models.push(out);
    const evalRun = await verge(['eval', out, '--data', c.data(), '--cache-dir', cache(), '--json']);
    const evaluated = json<{ samples: number; accuracy: number }>(evalRun);
    expect(evaluated.samples).toBe(described.test);
    // eval reads only the test split: its data line gives that count, not the loader's train limit.
    expect(evalRun.stderr).toMatch(
      new RegExp(`^data: .* \\(${described.test.toLocaleString('en-US')} test, shape`, 'm'),
    );
    expect(evaluated.accuracy).toBeCloseTo(trained.test.accuracy, 6);
    expect(evaluated.accuracy).toBeGreaterThanOrEqual(0.75);
    const { args, labels } = c.run();
    const ran = json<{ predictions: { label: string; probability: number; top: { probability: number }[] }[] }>(
      await verge(['run', out, ...args, '--json']),
    );
    expect(ran.predictions.map((p) => p.label)).toEqual(labels);
    expect(ran.predictions[0].top[0].probability).toBeCloseTo(ran.predictions[0].probability, 9);
  });

  it('every trained model passes the ONNX checker', (ctx) => {
    const r = checkOnnxFiles(models);
    if (r.skipped) return ctx.skip(r.skipped);
    // built-in architectures are written at opset 17 / IR 8, which Debian's onnx 1.12 checker reads
    expect(r.failures).toEqual([]);
  });
});

describe('bad data through the CLI: one clear line', { timeout: 300_000 }, () => {
  it('names a corrupt image, a ragged CSV, an empty class, an unknown column and a wrong raw kind', async () => {
    const corrupt = join(tmp, 'corrupt.png');
    writeFileSync(corrupt, 'this is not a png');
    const ragged = join(tmp, 'ragged');
    mkdirSync(ragged);
    writeFileSync(join(ragged, 'train.csv'), 'a,b,label\n1,2,x\n3,y\n');
    const empty = join(tmp, 'empty-class');
    cpSync(files.pngFolder, empty, { recursive: true });
    mkdirSync(join(empty, 'nothing'));
    const seed = join(tmp, 'seed.onnx');
    cpSync(join('test', 'fixtures', 'models', 'seed_cnn.onnx'), seed);

    const runs: [string[], RegExp][] = [
      [
        ['run', seed, '--image', corrupt],
        /^error: E_DATA_INVALID: .*corrupt.png is not a readable PNG\/JPEG\/WebP image/,
      ],
      [['run', seed, '--text', 'hello'], /^error: E_BAD_ARGUMENT: this model carries no tokenizer/],
      [['run', seed, '--image', join(tmp, 'missing.png')], /^error: E_FILE_NOT_FOUND: /],
      [
        ['run', seed, '--image', corrupt, '--random'],
        /^error: E_BAD_ARGUMENT: --input, --image, .* exclude each other/,
      ],
      [
        ['data', ragged],
        /^error: E_DATA_INVALID: .*ragged\/train.csv line 3: 2 fields, but the header has 3 \(a ragged CSV row\)/,
      ],
      [['data', empty, '--no-cache'], /^error: E_DATA_INVALID: .*nothing/],
      [
        ['data', files.tableFolder, '--label', 'nope', '--no-cache'],
        /^error: E_DATA_INVALID: .*has no column 'nope' \(--label\)/,
      ],
      [
        ['data', files.pngFolder, '--window', '5'],
        /^error: E_BAD_ARGUMENT: --window does not apply to image-folder data/,
      ],
    ];
    const results = await pool(runs, 2, ([args]) => verge(args));
    results.forEach((r, i) => oneErrorLine(r, runs[i]![1]));
  });
});
