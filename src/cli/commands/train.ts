import type { Command } from 'commander';
import { VergeError } from '../../errors.ts';
import { ARCHITECTURE_NAMES } from '../../nn/architecture-names.ts';
import { LOSS_KINDS, OPTIMIZER_KINDS } from '../../train/names.ts';
import { action } from '../command.ts';
import { addDataFlags, DATA_HELP } from '../data-options.ts';
import { choice, nonNegativeInt, number, positiveInt } from '../options.ts';

/** argParser of --validation: a fraction of the training data, or 'test'. */
export function parseValidation(v: string): number | 'test' {
  if (v === 'test') return 'test';
  const f = Number(v);
  if (!(f > 0 && f < 1))
    throw new VergeError('E_BAD_ARGUMENT', `--validation must be a fraction in (0, 1) or 'test', got '${v}'`);
  return f;
}

/** argParser of --noise-snr: a range of signal-to-noise ratios in dB, `LO:HI` (or one value). */
export function parseSnrRange(v: string): [number, number] {
  const parts = v.split(':');
  const [lo, hi] = parts.map((p) => (p.trim() === '' ? NaN : Number(p)));
  const range: [number, number] = [lo!, hi ?? lo!];
  if (parts.length > 2 || !range.every((x) => Number.isFinite(x) && Math.abs(x) <= 100) || range[0] > range[1])
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `--noise-snr takes LO:HI in dB (e.g. 0:20; each within -100..100, LO <= HI), got '${v}'`,
    );
  return range;
}

/** argParser of --freeze: 'backbone' (everything but the classifier head) or a regular expression. */
export function parseFreeze(v: string): 'backbone' | RegExp {
  if (v === 'backbone') return v;
  try {
    return new RegExp(v);
  } catch (e) {
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `--freeze takes 'backbone' or a regular expression over parameter names: ${(e as Error).message}`,
    );
  }
}

export function register(program: Command): void {
  const cmd = program.command('train');
  addDataFlags(cmd);
  cmd
    .description('train a built-in architecture (--arch) or an ONNX model on a dataset; saves a plain inference model')
    .argument('[model]', 'ONNX model to train (fine-tune) instead of --arch')
    .addOption(
      choice('--arch <name>', 'built-in architecture (hmm: one hidden Markov model per word, for speech)', [
        ...ARCHITECTURE_NAMES,
        'hmm',
      ]),
    )
    .option(
      '--states <n>',
      '--arch hmm: states per word model (default 10); --epochs = EM iterations',
      positiveInt('--states'),
    )
    .option('--mixtures <n>', '--arch hmm: Gaussians per state (default 2)', positiveInt('--mixtures'))
    .addOption(choice('--covariance-type <t>', '--arch hmm: covariance of each Gaussian', ['diag', 'full'], 'diag'))
    .addOption(
      choice('--topology <t>', '--arch hmm: word model topology', ['left-to-right', 'ergodic'], 'left-to-right'),
    )
    .requiredOption('--data <name|path>', DATA_HELP)
    .option('--epochs <n>', 'epochs to train (default 1)', positiveInt('--epochs'))
    .option('--steps <n>', 'train this many optimizer steps instead of whole epochs', positiveInt('--steps'))
    .option('--batch <n>', 'mini-batch size', positiveInt('--batch'), 64)
    .addOption(choice('--optimizer <name>', 'optimizer', OPTIMIZER_KINDS, 'adam'))
    .option('--lr <x>', 'base learning rate (default: 1e-3 for adam/adamw, 0.01 for sgd)', number('--lr', { above: 0 }))
    .option('--momentum <x>', 'SGD momentum (default 0)', number('--momentum', { min: 0 }))
    .option(
      '--weight-decay <x>',
      'weight decay (L2 for sgd/adam, decoupled for adamw; adamw default 0.01)',
      number('--weight-decay', { min: 0 }),
    )
    .addOption(choice('--loss <name>', 'loss (mse/bce train on one-hot targets)', LOSS_KINDS, 'cross-entropy'))
    .option('--no-shuffle', 'keep the data order (default: reshuffle every epoch)')
    .option(
      '--seed <n>',
      'seed for initialization, shuffling, dropout and validation split',
      nonNegativeInt('--seed'),
      0,
    )
    .option('--threads <n>', 'onnxruntime intra-op threads (default: one per core)', positiveInt('--threads'))
    .option(
      '--schedule <spec>',
      'learning-rate schedule: constant | step:<steps>[:<gamma>] | cosine[:<min_lr>], optionally +warmup:<steps>',
      'constant',
    )
    .option(
      '--num-classes <n>',
      "model file: replace its classifier head (the last Gemm/MatMul/Conv) with a fresh layer for n classes, initialized as PyTorch's nn.Linear (seeded by --seed)",
      positiveInt('--num-classes'),
    )
    .option(
      '--freeze <backbone|regex>',
      "keep parameters fixed: 'backbone' = all but the classifier head, or those whose names match a regular expression (e.g. '^(layer1|layer2)\\.'); frozen parameters get no gradients and no optimizer state",
      parseFreeze,
    )
    .option(
      '--no-train-bn',
      'BatchNormalization keeps its running statistics fixed and normalizes with them, as at inference (default: batch statistics, running statistics updated and saved, as PyTorch model.train())',
    )
    .option('--clip-norm <x>', 'clip gradients to this global L2 norm', number('--clip-norm', { above: 0 }))
    .option(
      '--validation <fraction|test>',
      "validate every epoch on a held-out fraction of the training data (e.g. 0.1) or on the test split ('test')",
      parseValidation,
    )
    .option(
      '--early-stopping <patience>',
      'stop after this many epochs without improvement of the validation loss (training loss without validation)',
      nonNegativeInt('--early-stopping'),
    )
    .option('--checkpoint-dir <dir>', 'write a checkpoint after every epoch into this folder')
    .option('--resume', 'continue from the last checkpoint in --checkpoint-dir')
    .option(
      '--no-standardize',
      "--arch models: do not standardize inputs inside the model with the training split's mean and std",
    )
    .option(
      '--augment <list>',
      'augment training batches on the fly, e.g. "flip,rotate:15,shift:0.1,cutout:8" (crop:PX, flip[:P], rotate:DEG, shift:FRACTION, zoom:FRACTION, brightness:OFFSET, contrast:FRACTION, noise:STD, cutout:PX, mixup:ALPHA with --loss mse|binary-cross-entropy); seeded by --seed',
    )
    .addOption(
      choice(
        '--token-weights <kind>',
        "--arch text-bow: weigh each token in the bag — 'idf': by its inverse document frequency over the training texts (TF-IDF's weighting, kept in the model), 'none': a plain mean",
        ['idf', 'none'],
        'none',
      ),
    )
    .option(
      '--noise-snr <lo:hi>',
      '--arch kws-*: add a copy of every training utterance with white noise at a random SNR in this range of dB (e.g. 0:20), for robustness to noisy audio',
      parseSnrRange,
    )
    .option('--limit <n>', 'use at most this many training samples', positiveInt('--limit'))
    .option('--limit-test <n>', 'use at most this many test samples', positiveInt('--limit-test'))
    .requiredOption('--out <model.onnx>', 'where to write the trained inference model (atomic write)')
    .option(
      '--json',
      'print one JSON object: {epochs, steps, samples_per_sec, history, test:{accuracy, loss}, peak_rss_mb, data, out}',
    )
    .action(action(() => import('../actions/train.ts')));
}
