/**
 * `verge codec`: uplink codecs of the edge data loop (docs/edge-loop.md). `list` shows the codec
 * registry; `train` trains a learned (autoencoder) codec and, with --publish, puts its encoder and
 * decoder into the registry for agents and the cloud.
 */
import type { Command } from 'commander';
import { action } from '../command.ts';
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
        "train a convolutional autoencoder with verge's trainer; write encoder.onnx and decoder.onnx; report bytes per sample, PSNR and a classifier's accuracy on decoded samples",
      )
      .option(
        '--data <name|dir>',
        'images [channels, height, width] in [0, 1], height and width divisible by 4',
        'fashion-mnist',
      )
      .requiredOption(
        '--latent <k>',
        'latent values per sample (each sent with --latent-bits bits, then deflated; 224 measured best on Fashion-MNIST)',
        positiveInt('--latent'),
      )
      .option(
        '--width <n>',
        'filter multiplier of the convolutions (16·n and 32·n filters each way; 2 measured best on Fashion-MNIST)',
        positiveInt('--width'),
        2,
      )
      .option('--epochs <n>', 'training epochs', positiveInt('--epochs'), 5)
      .option('--batch <n>', 'mini-batch size', positiveInt('--batch'), 64)
      .option('--lr <x>', 'Adam learning rate', number('--lr', { above: 0 }), 2e-3)
      .option('--seed <n>', 'seed of initialization and shuffling', nonNegativeInt('--seed'), 0)
      .option('--limit <n>', 'train on the first N training samples', positiveInt('--limit'))
      .option('--eval-samples <n>', 'test samples to measure on', positiveInt('--eval-samples'), 1000)
      .option('--classifier <model.onnx>', "also report this classifier's accuracy on original vs decoded test samples")
      .option(
        '--task-weight <w>',
        'task-aware training: add w · T² · KL(classifier(x) ‖ classifier(decoded)) to the MSE, the --classifier frozen (0.05 measured best)',
        number('--task-weight', { above: 0 }),
      )
      .option(
        '--task-temperature <T>',
        'softmax temperature of the task term',
        number('--task-temperature', { above: 0 }),
        2,
      )
      // 5: as accurate as 8 on Fashion-MNIST (docs/edge-loop.md), and a latent of 224 then fits 10× (~259 B a frame)
      .option(
        '--latent-bits <b>',
        'bits per latent value in the frames measured (and decoded for --adapt-classifier); deploy the codec as learned:<name>@<version>:<b>',
        integer('--latent-bits', { min: 1, max: 8 }),
        5,
      )
      .option(
        '--adapt-classifier',
        "after training, fine-tune the --classifier on the training samples plus their decoded copies; write classifier.onnx and report its accuracy on the test samples; with --publish, publish it as <name>-classifier@<version> (parent: the registry version of the --classifier file), which the cloud then answers this codec's offloaded frames for that model with",
      )
      // defaults: codec-adapt.ts ADAPT_DEFAULTS (not imported here: commands load lazily, without the trainer)
      .option('--adapt-epochs <n>', 'epochs of --adapt-classifier', positiveInt('--adapt-epochs'), 2)
      .option('--adapt-lr <x>', 'Adam learning rate of --adapt-classifier', number('--adapt-lr', { above: 0 }), 1e-4)
      .addOption(
        choice(
          '--adapt-data <what>',
          'what --adapt-classifier fine-tunes on: the training samples and their decoded copies, or the decoded copies only',
          ['both', 'decoded'],
          'both',
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
