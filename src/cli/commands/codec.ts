/**
 * `verge codec`: uplink codecs of the edge data loop (docs/edge-loop.md). `list` shows the codec
 * registry; `train` trains a learned (autoencoder) codec and, with --publish, puts its encoder and
 * decoder into the registry for agents and the cloud.
 */
import type { Command } from 'commander';
import { action } from '../command.ts';
import { CODEC_RECIPE as R } from '../codec-recipe.ts';
import { choice, cloudOptions, integer, nonNegativeInt, number, positiveInt } from '../options.ts';

export function register(program: Command): void {
  const codec = program.command('codec').description('uplink codecs: list them, train a learned (autoencoder) codec');

  codec
    .command('list')
    .description('the uplink codecs, whether they are lossy, and their option')
    .option('--json', 'print {codecs:[{name, lossy, summary, option}]}')
    .action(action(() => import('../actions/codec-list.ts')));

  cloudOptions(
    codec
      .command('train')
      .description(
        "train a convolutional autoencoder with verge's trainer; write encoder.onnx and decoder.onnx; report bytes per sample, PSNR and a classifier's accuracy on decoded samples. The defaults are the measured recipe (docs/edge-loop.md): with --classifier M --adapt-classifier on Fashion-MNIST, ~12x smaller than float32 within 1 pt of M's accuracy",
      )
      .option(
        '--data <name|dir>',
        'images [channels, height, width] in [0, 1], height and width divisible by 4',
        'fashion-mnist',
      )
      .option(
        '--latent <k>',
        'latent values per sample (each sent with --latent-bits bits, then deflated)',
        positiveInt('--latent'),
        R.latent,
      )
      .option(
        '--width <n>',
        'filter multiplier of the convolutions (16·n and 32·n filters each way)',
        positiveInt('--width'),
        R.width,
      )
      .option('--epochs <n>', 'training epochs', positiveInt('--epochs'), R.epochs)
      .option('--batch <n>', 'mini-batch size', positiveInt('--batch'), R.batchSize)
      .option('--lr <x>', 'Adam learning rate', number('--lr', { above: 0 }), R.lr)
      .option('--seed <n>', 'seed of initialization and shuffling', nonNegativeInt('--seed'), 0)
      .option('--limit <n>', 'train on the first N training samples', positiveInt('--limit'))
      .option('--eval-samples <n>', 'test samples to measure on', positiveInt('--eval-samples'), 1000)
      .option(
        '--classifier <model.onnx>',
        'train against this classifier (task-aware, --task-weight) and report its accuracy on original vs decoded test samples',
      )
      .option(
        '--task-weight <w>',
        `task-aware training: add w · T² · KL(classifier(x) ‖ classifier(decoded)) to the MSE, the --classifier frozen (default ${R.task.weight} with --classifier; 0: MSE only)`,
        number('--task-weight', { min: 0 }),
      )
      .option(
        '--task-temperature <T>',
        'softmax temperature of the task term',
        number('--task-temperature', { above: 0 }),
        R.task.temperature,
      )
      .option(
        '--latent-bits <b>',
        'bits per latent value in the frames measured (and decoded for --adapt-classifier); deploy the codec as learned:<name>@<version>:<b>',
        integer('--latent-bits', { min: 1, max: 8 }),
        R.latentBits,
      )
      .option(
        '--adapt-classifier',
        "after training, fine-tune the --classifier on the training samples' decoded copies (--adapt-data); write classifier.onnx and report its accuracy on the test samples; with --publish, publish it as <name>-classifier@<version> (parent: the registry version of the --classifier file), which the cloud then answers this codec's offloaded frames for that model with",
      )
      .option('--adapt-epochs <n>', 'epochs of --adapt-classifier', positiveInt('--adapt-epochs'), R.adapt.epochs)
      .option(
        '--adapt-lr <x>',
        'Adam learning rate of --adapt-classifier',
        number('--adapt-lr', { above: 0 }),
        R.adapt.lr,
      )
      .addOption(
        choice(
          '--adapt-data <what>',
          'what --adapt-classifier fine-tunes on: the decoded copies only (the cloud answers raw inputs with the --classifier itself), or the training samples and their decoded copies',
          ['decoded', 'both'],
          R.adapt.data,
        ),
      )
      .option('--threads <n>', 'onnxruntime intra-op threads', positiveInt('--threads'))
      .requiredOption('--out-dir <dir>', 'where encoder.onnx, decoder.onnx and report.json go')
      .option(
        '--publish <name@version>',
        'publish the encoder as <name>-encoder@<version> and the decoder as <name>-decoder@<version> (codec spec learned:<name>@<version>)',
      )
      .option(
        '--json',
        'print {codec, latent, latent_bits, bytes_per_sample, raw_bytes_per_sample, ratio, psnr_db, classifier?, adapted_classifier?, published?}',
      ),
  ).action(action(() => import('../actions/codec-train.ts')));
}
