import type { Command } from 'commander';
import { EXECUTION_PROVIDERS } from '../../runtime/providers.ts';
import { action } from '../command.ts';
import { choice, collect, nonNegativeInt, positiveInt } from '../options.ts';

export function register(program: Command): void {
  program
    .command('run')
    .description(
      'run a model once on onnxruntime, with inputs from .npy/.npz files, raw data (an image, a text, CSV rows, a WAV file) prepared as the model was trained, or made up from its input types',
    )
    .argument('<model>', 'ONNX model file')
    .option(
      '--input <spec>',
      'input data: FILE.npy (single-input model), NAME=FILE.npy, or FILE.npz with one array per input; repeatable',
      collect,
    )
    .option('--cast', "convert input files to the model's input dtypes (e.g. numpy's default float64 to float32)")
    .option(
      '--image <file>',
      "image models: a PNG/JPEG/WebP file, decoded and resized as the model's training images were",
    )
    .option(
      '--text <text>',
      'text models (verge train --arch text-*): a text, tokenized with the vocabulary saved in the model; repeatable (a batch)',
      collect,
    )
    .option(
      '--csv <rows.csv>',
      "table or sensor-series models: CSV rows with a header naming the model's feature columns (a label column is ignored); series are cut into the model's windows",
    )
    .option('--wav <file.wav>', "audio models (verge train --arch hmm): a WAV file, resampled to the model's rate")
    .option('--random', 'synthesize inputs from the declared input types (uniform [0,1) floats, 0/1 integers)')
    .option(
      '--batch <n>',
      'with --random: value of symbolic batch dims (other symbolic dims are 1)',
      positiveInt('--batch'),
      1,
    )
    .option('--seed <s>', 'with --random: seed of the generator', nonNegativeInt('--seed'), 0)
    .option(
      '--out <path>',
      'write outputs: FILE.npy (one output), FILE.npz (all outputs), or an existing folder (NAME.npy each)',
    )
    .option('--threads <n>', 'onnxruntime intra-op threads (default: one per physical core)', positiveInt('--threads'))
    .addOption(choice('--provider <ep>', 'execution provider', EXECUTION_PROVIDERS, 'cpu'))
    .option(
      '--json',
      'print one JSON object: {model, inputs, outputs:{NAME:{dims, dtype, first, min, max, mean}}, ms}; raw inputs add predictions:[{class, label, probability, top} | {value}]',
    )
    .action(action(() => import('../actions/run.ts')));
}
