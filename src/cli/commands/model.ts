import type { Command } from 'commander';
import { PRECISIONS } from '../../protocol/precisions.ts';
import { action } from '../command.ts';
import { choice, cloudOptions, keyValue } from '../options.ts';

export function register(program: Command): void {
  const model = program.command('model').description('model registry: publish and list models');

  cloudOptions(
    model
      .command('publish')
      .description('upload an ONNX model as a (variant of a) model version; the cloud signs it')
      .argument('<file>', 'ONNX model file')
      .requiredOption('--name <name>', 'model name')
      .requiredOption('--version <semver>', 'model version, e.g. 1.0.0')
      .option('--variant <name>', 'variant name (fp32, int8, pruned, …)', 'fp32')
      .addOption(
        choice('--precision <p>', 'numeric precision (default: the variant name if it is one, else fp32)', PRECISIONS),
      )
      .option('--profile <class>', 'device profile class this variant is built for (default: any device)')
      .option('--parent <name@version>', 'lineage: the model this one was derived from')
      .option('--optimization <what>', 'lineage: what was applied to the parent (e.g. quantize:static-int8)')
      .option('--metric <k=v>', 'metric to record, e.g. accuracy=0.91 (repeatable)', keyValue('--metric'), {})
      .option(
        '--report <report.svg>',
        "the version's optimize report (report.svg of verge optimize), shown by the dashboard",
      )
      .option(
        '--encrypt',
        'confidential variant: upload only AES-256-GCM ciphertext; the cloud keeps the key and gives it, wrapped per device (X25519), only to devices the version is deployed to',
      )
      .option(
        '--no-loaded-memory',
        "publish without measuring the variant's loaded memory (measured by default: onnxruntime in a child process, about a second; agents check it against their memory budget, and without it estimate it from the file size)",
      )
      .option('--json', 'print the model version as one JSON object'),
  ).action(action(() => import('../actions/model-publish.ts')));

  cloudOptions(
    model
      .command('list')
      .description('list models, versions and variants')
      .argument('[name]', 'only this model')
      .option('--json', 'print {models:[…]}'),
  ).action(action(() => import('../actions/model-list.ts')));
}
