/**
 * `verge codec list|train` through the real CLI: a small autoencoder trained on the repo's
 * Fashion-MNIST subset, its two halves written and checked by the ONNX checker, its report
 * measured through the learned codec (bytes per sample, PSNR, the seed classifier on decoded
 * samples); the defaults are the measured recipe (src/cli/codec-recipe.ts: --help shows them; with
 * --classifier, task-aware training; width 2; the adaptation on decoded copies only), `--task-weight 0`
 * trains on MSE alone, `--width 1`; bad flags end with one line.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel } from '../../src/onnx/codec.ts';
import { checkOnnxFiles } from '../fixtures/onnx-checker.ts';
import { fixturePath } from '../fixtures/index.ts';
import { ROOT, verge } from './cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'verge-codec-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SUBSET = join(ROOT, 'data', 'fashion-mnist-subset');

describe('verge codec', () => {
  it('list names every registered codec', async () => {
    const r = await verge(['codec', 'list', '--json']);
    expect(r.code).toBe(0);
    const { codecs } = JSON.parse(r.stdout) as { codecs: { name: string; lossy: boolean }[] };
    expect(codecs.map((c) => [c.name, c.lossy])).toEqual([
      ['lossless', false],
      ['quantize-delta', true],
      ['learned', true],
    ]);
  });

  /** A short `codec train` on the subset, measured with the seed classifier. */
  const trainArgs = (out: string, extra: string[] = []) => [
    ...['codec', 'train', '--data', SUBSET, '--latent', '24', '--epochs', '2', '--eval-samples', '100'],
    ...['--classifier', fixturePath('seed_cnn_fmnist'), ...extra, '--out-dir', out, '--threads', '1', '--json'],
  ];

  it('--help gives the measured recipe as the defaults', async () => {
    const r = await verge(['codec', 'train', '--help']);
    expect(r.code).toBe(0);
    // one entry per option (wrapped description lines are indented further)
    const entries = r.stdout.split(/\n {2}(?=-)/).map((e) => e.replace(/\s+/g, ' '));
    const entry = (flag: string) => entries.find((e) => e.startsWith(`${flag} `)) ?? `${flag} missing`;
    const recipe: [string, string][] = [
      ['--latent <k>', '224'],
      ['--width <n>', '2'],
      ['--epochs <n>', '8'],
      ['--lr <x>', '0.002'],
      ['--latent-bits <b>', '5'],
      ['--task-temperature <T>', '2'],
      ['--adapt-epochs <n>', '2'],
      ['--adapt-lr <x>', '0.0001'],
      ['--adapt-data <what>', '"decoded"'],
    ];
    for (const [flag, def] of recipe) expect(entry(flag)).toContain(`default: ${def})`);
    expect(entry('--task-weight <w>')).toContain('default 0.05 with --classifier; 0: MSE only');
  });

  it('train --task-weight 0 (MSE only) writes encoder and decoder, and measures the codec on decoded samples', async (ctx) => {
    const out = join(dir, 'ae');
    const r = await verge(trainArgs(out, ['--task-weight', '0']));
    expect(r.stderr).toMatch(/epoch 2\/2: reconstruction mse \d\.\d+ \(/);
    expect(r.stderr).not.toMatch(/task term/);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout);
    // 5-bit latents by default: the spec to deploy names them
    expect(rep).toMatchObject({ codec: 'learned:codec@0.0.0:5', latent: 24, latent_bits: 5, width: 2, samples: 100 });
    expect(rep.loss).toEqual({ mse: 1 });
    expect(rep.raw_bytes_per_sample).toBe(3136);
    // 24 five-bit latents, deflated, plus the frame header: far below raw float32
    expect(rep.bytes_per_sample).toBeLessThan(3136 / 10);
    expect(rep.psnr_db).toBeGreaterThan(10); // better than a constant grey image (~ 8 dB on this data)
    expect(rep.classifier.accuracy_original).toBeGreaterThan(0.7);
    expect(rep.classifier.accuracy_decoded).toBeGreaterThan(0.1);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))).toEqual(rep);
    expect(existsSync(join(out, 'encoder.onnx')) && existsSync(join(out, 'decoder.onnx'))).toBe(true);
    const check = checkOnnxFiles([join(out, 'encoder.onnx'), join(out, 'decoder.onnx')]);
    if (check.skipped) return ctx.skip(check.skipped);
    expect(check.failures).toEqual([]);
  }, 300_000);

  it('with --classifier, task-aware by default; --width 1 trains a narrower codec; --adapt-classifier adapts on decoded copies only by default', async (ctx) => {
    const out = join(dir, 'ae-narrow');
    const r = await verge(trainArgs(out, ['--width', '1', '--adapt-classifier', '--adapt-epochs', '1']));
    expect(r.stderr).toMatch(/epoch 2\/2: reconstruction mse \d\.\d+, task term \d\.\d+/);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep).toMatchObject({ width: 1, latent: 24 });
    // the recipe's task term (W 0.05, T 2)
    expect(rep.loss).toEqual({ mse: 1, task: 0.05, temperature: 2 });
    expect(rep.adapted_classifier).toMatchObject({ epochs: 1, data: 'decoded' });
    expect(rep.adapted_classifier.accuracy_decoded).toBeGreaterThan(0.1);
    expect(rep.bytes_per_sample).toBeLessThan(3136 / 10);
    expect(rep.classifier.accuracy_decoded).toBeGreaterThan(0.1);
    // half the default filters: 16 in the encoder's first convolution, 16 out of the decoder's first upsampling
    const dims = (at: string, file: string, name: string) =>
      decodeModel(readFileSync(join(at, file))).graph.initializers.find((t) => t.name === name)?.dims;
    expect(dims(out, 'encoder.onnx', 'enc_conv1.weight')).toEqual([16, 1, 3, 3]);
    expect(dims(out, 'decoder.onnx', 'dec_up1.weight')).toEqual([32, 16, 4, 4]);
    // the default (width 2), trained by the first test
    expect(dims(join(dir, 'ae'), 'encoder.onnx', 'enc_conv1.weight')).toEqual([32, 1, 3, 3]);
    expect(dims(join(dir, 'ae'), 'decoder.onnx', 'dec_up1.weight')).toEqual([64, 32, 4, 4]);
    const check = checkOnnxFiles(['encoder.onnx', 'decoder.onnx', 'classifier.onnx'].map((f) => join(out, f)));
    if (check.skipped) return ctx.skip(check.skipped);
    expect(check.failures).toEqual([]);
  }, 300_000);

  it('bad flags: one line each', async () => {
    const cases: [string[], RegExp][] = [
      [['codec', 'train', '--latent', '0', '--out-dir', dir], /--latent/],
      [
        ['codec', 'train', '--latent', '8', '--out-dir', dir, '--publish', 'nover'],
        /E_BAD_ARGUMENT: --publish must be <name>@<semver>/,
      ],
      [
        ['codec', 'train', '--latent', '8', '--out-dir', dir, '--classifier', join(dir, 'missing.onnx')],
        /missing\.onnx/,
      ],
      [
        ['codec', 'train', '--latent', '8', '--out-dir', dir, '--task-weight', '0.1'],
        /E_BAD_ARGUMENT: --task-weight trains against a classifier: give it with --classifier/,
      ],
      [
        ['codec', 'train', '--latent', '8', '--out-dir', dir, '--adapt-classifier'],
        /E_BAD_ARGUMENT: --adapt-classifier fine-tunes the --classifier: give it/,
      ],
      [['codec', 'train', '--latent', '8', '--out-dir', dir, '--latent-bits', '9'], /--latent-bits/],
      [['codec', 'train', '--latent', '8', '--out-dir', dir, '--width', '0'], /--width/],
      [['codec', 'train', '--latent', '8', '--out-dir', dir, '--adapt-data', 'raw'], /--adapt-data/],
      [['codec', 'train', '--latent', '8', '--out-dir', dir, '--task-weight', '-1'], /--task-weight/],
    ];
    for (const [args, pattern] of cases) {
      const r = await verge(args);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
  }, 240_000); // nine CLI starts: ~120 s at a load average of 37
});
