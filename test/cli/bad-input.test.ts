/**
 * Bad input through the real CLI: every case must exit non-zero with exactly one stderr line
 * `error: E_CODE: message`, no stack trace, nothing on stdout, and no output file (or temp file)
 * left behind.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/data/npy.ts';
import { saveModel } from '../../src/onnx/io.ts';
import { fixturePath } from '../fixtures/index.ts';
import { twoInputModel, unknownOpModel } from '../runtime/models.ts';
import { pool, verge, type CliResult } from './cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'verge-bad-'));
const outDir = join(tmp, 'out');
const p = (name: string): string => join(tmp, name);

beforeAll(() => {
  mkdirSync(outDir);
  const model = readFileSync(fixturePath('seed_cnn'));
  writeFileSync(p('truncated.onnx'), model.subarray(0, model.length >> 1));
  writeFileSync(p('notes.onnx'), 'These are my notes, saved with the wrong extension.\n');
  saveModel(unknownOpModel(), p('unknown-op.onnx'));
  saveModel(twoInputModel(), p('two-inputs.onnx'));
  writeNpy(p('wrong-shape.npy'), { dtype: 'float32', shape: [2, 28, 28], data: new Float32Array(2 * 28 * 28) });
  writeNpy(p('wrong-dtype.npy'), { dtype: 'float64', shape: [2, 1, 28, 28], data: new Float64Array(2 * 28 * 28) });
  writeNpy(p('a.npy'), { dtype: 'float32', shape: [1, 4], data: new Float32Array(4) });
  mkdirSync(p('data-garbage'));
  writeFileSync(p('data-garbage/x.npy'), 'not numpy at all');
  writeFileSync(p('data-garbage/y.npy'), 'not numpy either');
  mkdirSync(p('data-no-y'));
  writeNpy(p('data-no-y/x.npy'), { dtype: 'float32', shape: [2, 2], data: new Float32Array(4) });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Case {
  name: string;
  args: () => string[];
  code: string;
  /** Paths that must not exist afterwards. */
  outputs?: () => string[];
}

const seed = fixturePath('seed_cnn');
const out = (f: string) => join(outDir, f);

const cases: Case[] = [
  // missing file
  {
    name: 'run: missing model',
    args: () => ['run', p('missing.onnx'), '--random', '--out', out('m1.npy')],
    code: 'E_FILE_NOT_FOUND',
    outputs: () => [out('m1.npy')],
  },
  {
    name: 'convert: missing model',
    args: () => ['convert', p('missing.onnx'), '--out', out('m2.onnx')],
    code: 'E_FILE_NOT_FOUND',
    outputs: () => [out('m2.onnx')],
  },
  { name: 'bench: missing model', args: () => ['bench', p('missing.onnx'), '--json'], code: 'E_FILE_NOT_FOUND' },
  { name: 'data: missing folder', args: () => ['data', p('no-such-folder'), '--json'], code: 'E_DATA_NOT_FOUND' },
  // truncated model (a real model cut in half)
  {
    name: 'run: truncated model',
    args: () => ['run', p('truncated.onnx'), '--random', '--out', out('t1.npy')],
    code: 'E_MODEL_TRUNCATED',
    outputs: () => [out('t1.npy')],
  },
  {
    name: 'convert: truncated model',
    args: () => ['convert', p('truncated.onnx'), '--out', out('t2.onnx')],
    code: 'E_MODEL_TRUNCATED',
    outputs: () => [out('t2.onnx')],
  },
  // a text file renamed .onnx
  { name: 'run: text file', args: () => ['run', p('notes.onnx'), '--random', '--json'], code: 'E_NOT_ONNX' },
  // wrong input shape / dtype / missing input
  {
    name: 'run: wrong input shape',
    args: () => ['run', seed, '--input', p('wrong-shape.npy'), '--out', out('s.npy')],
    code: 'E_SHAPE_MISMATCH',
    outputs: () => [out('s.npy')],
  },
  {
    name: 'run: wrong input dtype',
    args: () => ['run', seed, '--input', p('wrong-dtype.npy'), '--out', out('d.npz')],
    code: 'E_DTYPE_MISMATCH',
    outputs: () => [out('d.npz')],
  },
  // unknown op
  {
    name: 'run: unknown op',
    args: () => ['run', p('unknown-op.onnx'), '--random', '--out', out('u.npy')],
    code: 'E_UNKNOWN_OP',
    outputs: () => [out('u.npy')],
  },
  // unreadable data folders
  { name: 'data: folder of garbage .npy', args: () => ['data', p('data-garbage'), '--json'], code: 'E_DATA_INVALID' },
  // bad --batch (and other numeric flags)
  { name: 'bench: --batch 1,abc', args: () => ['bench', seed, '--batch', '1,abc', '--json'], code: 'E_BAD_ARGUMENT' },
  {
    name: 'run: --batch 1.5',
    args: () => ['run', seed, '--random', '--batch', '1.5', '--out', out('b.npy')],
    code: 'E_BAD_ARGUMENT',
    outputs: () => [out('b.npy')],
  },
];

/** info is another command's, but uses loadModel: same rules. */
const infoCases: Case[] = [
  { name: 'info: missing model', args: () => ['info', p('missing.onnx'), '--json'], code: 'E_FILE_NOT_FOUND' },
  { name: 'info: truncated model', args: () => ['info', p('truncated.onnx')], code: 'E_MODEL_TRUNCATED' },
  { name: 'info: text file', args: () => ['info', p('notes.onnx'), '--json'], code: 'E_NOT_ONNX' },
];

function expectOneErrorLine(r: CliResult, code: string): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(r.code, r.stderr).not.toBe(0);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^error: ${code}: \\S.*$`));
  expect(r.stderr).not.toMatch(/\n\s+at |Error:|node:internal/);
  expect(r.stdout).toBe('');
}

describe('bad input through the CLI', () => {
  const results = new Map<string, CliResult>();
  beforeAll(async () => {
    const all = [...cases, ...infoCases];
    const rs = await pool(all, 2, (c) => verge(c.args()));
    all.forEach((c, i) => results.set(c.name, rs[i]!));
  }, 600_000); // spawning the CLI costs about a second of CPU each (tsx, and the invoked command module)

  for (const c of cases) {
    it(`${c.name} → ${c.code}`, () => {
      expectOneErrorLine(results.get(c.name)!, c.code);
      for (const path of c.outputs?.() ?? []) expect(existsSync(path), `${path} was left behind`).toBe(false);
    });
  }

  for (const c of infoCases) {
    it(`${c.name} → ${c.code}`, (ctx) => {
      const r = results.get(c.name)!;
      if (/unknown command 'info'/.test(r.stderr) && process.env.CI !== 'true') {
        ctx.skip('the info command is not registered yet (another engineer builds it)');
      }
      expectOneErrorLine(r, c.code);
    });
  }

  it('suggests --cast for a dtype mismatch from a file', () => {
    expect(results.get('run: wrong input dtype')!.stderr).toMatch(
      /expects float32 .* got float64 .*\(pass --cast to convert\)/,
    );
  });

  it('leaves no temp files in the output folder', () => {
    expect(readdirSync(outDir)).toEqual([]);
  });
});
