import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import semver from 'semver';
import { CloudClient, resolveCloud } from '../../cloud/client.ts';
import { VergeError } from '../../errors.ts';
import { loadModel } from '../../onnx/io.ts';
import {
  HTTP_PATHS,
  PRECISIONS,
  type ArtifactUploadResponse,
  type ModelsResponse,
  type ModelVersion,
  type Precision,
} from '../../protocol/index.ts';
import { emit, note, table } from '../output.ts';
import { collect, parseKeyValues } from './enroll-token.ts';

function cloudOptions(cmd: Command): Command {
  return cmd
    .option('--cloud <url>', 'control plane URL (or VERGE_CLOUD)')
    .option('--api-key <key>', 'API key (or VERGE_API_KEY)')
    .option('--data-dir <dir>', "read the admin key from a local cloud's data dir");
}

export function register(program: Command): void {
  // `model publish --version V` is the CLI contract; without positional options commander would
  // take it for the program's own --version flag, wherever it appears
  program.enablePositionalOptions();
  const model = program.command('model').description('model registry: publish and list models');

  cloudOptions(
    model
      .command('publish')
      .description('upload an ONNX model as a (variant of a) model version; the cloud signs it')
      .argument('<file>', 'ONNX model file')
      .requiredOption('--name <name>', 'model name')
      .requiredOption('--version <semver>', 'model version, e.g. 1.0.0')
      .option('--variant <name>', 'variant name (fp32, int8, pruned, …)', 'fp32')
      .option(
        '--precision <p>',
        `numeric precision: ${PRECISIONS.join('|')} (default: the variant name if it is one, else fp32)`,
      )
      .option('--profile <class>', 'device profile class this variant is built for (default: any device)')
      .option('--parent <name@version>', 'lineage: the model this one was derived from')
      .option('--optimization <what>', 'lineage: what was applied to the parent (e.g. quantize:static-int8)')
      .option('--metric <k=v>', 'metric to record, e.g. accuracy=0.91 (repeatable)', collect, [])
      .option('--json', 'print the model version as one JSON object'),
  ).action(async (file: string, opts) => {
    if (!existsSync(file) || !statSync(file).isFile())
      throw new VergeError('E_FILE_NOT_FOUND', `no such file: ${file}`);
    if (!semver.valid(opts.version))
      throw new VergeError('E_BAD_ARGUMENT', `--version '${opts.version}' is not semver (like 1.2.0)`);
    const precision: Precision =
      opts.precision ?? ((PRECISIONS as readonly string[]).includes(opts.variant) ? opts.variant : 'fp32');
    if (!(PRECISIONS as readonly string[]).includes(precision))
      throw new VergeError('E_BAD_ARGUMENT', `--precision must be one of ${PRECISIONS.join(', ')}`);
    const metrics: Record<string, number> = {};
    for (const [k, v] of Object.entries(parseKeyValues(opts.metric, '--metric'))) {
      if (!Number.isFinite(Number(v)))
        throw new VergeError('E_BAD_ARGUMENT', `--metric ${k} must be a number, got '${v}'`);
      metrics[k] = Number(v);
    }
    loadModel(file); // refuse a truncated or non-ONNX file before uploading it (throws E_NOT_ONNX, …)
    const bytes = readFileSync(file);
    const client = new CloudClient(resolveCloud(opts));
    note(`uploading ${file} (${bytes.length.toLocaleString('en-US')} bytes)`);
    const art = await client.upload<ArtifactUploadResponse>(HTTP_PATHS.artifacts, bytes);
    const mv = await client.post<ModelVersion>(HTTP_PATHS.models, {
      name: opts.name,
      version: opts.version,
      variant: opts.variant,
      precision,
      profile: opts.profile ?? null,
      sha256: art.sha256,
      parent: opts.parent ?? null,
      optimization: opts.optimization ?? null,
      metrics,
    });
    emit(
      opts,
      mv,
      () =>
        `published ${mv.name}@${mv.version} variant ${opts.variant} (${precision}) sha256 ${art.sha256.slice(0, 12)}… signed; variants: ${mv.variants.map((v) => v.variant).join(', ')}`,
    );
  });

  cloudOptions(
    model
      .command('list')
      .description('list models, versions and variants')
      .argument('[name]', 'only this model')
      .option('--json', 'print {models:[…]}'),
  ).action(async (name: string | undefined, opts) => {
    const client = new CloudClient(resolveCloud(opts));
    const res = await client.get<ModelsResponse>(name ? HTTP_PATHS.model(name) : HTTP_PATHS.models);
    emit(opts, res, () =>
      table(
        ['model', 'version', 'variants', 'parent', 'optimization'],
        res.models.flatMap((m) =>
          m.versions.map((v) => [
            m.name,
            v.version,
            v.variants.map((x) => `${x.variant}(${x.size})`).join(' '),
            v.parent ?? '-',
            v.optimization ?? '-',
          ]),
        ),
      ),
    );
  });
}
