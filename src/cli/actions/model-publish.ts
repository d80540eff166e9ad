/**
 * `verge model publish <file> --name N --version V …`: upload a model (variant); the cloud signs it.
 * `--encrypt`: the file is encrypted here under a new content key (protocol artifact-crypto.ts) and
 * only the ciphertext is uploaded; the cloud keeps the key and hands it, wrapped, to the devices
 * the version is deployed to.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import semver from 'semver';
import { CloudClient, measurePublishedMemory, resolveCloud } from '../../cloud/index.ts';
import { VergeError } from '../../errors.ts';
import { loadModel } from '../../onnx/index.ts';
import {
  encryptArtifact,
  HTTP_PATHS,
  MAX_REPORT_BYTES,
  PRECISIONS,
  type ArtifactUploadResponse,
  type ModelVersion,
  type Precision,
} from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit, note } from '../output.ts';

interface PublishOptions extends CloudCliOptions {
  name: string;
  version: string;
  variant: string;
  precision?: Precision;
  profile?: string;
  parent?: string;
  optimization?: string;
  metric: Record<string, string>;
  report?: string;
  encrypt?: boolean;
  /** false with --no-loaded-memory (measured unless false) */
  loadedMemory?: boolean;
  json?: boolean;
}

function metricsOf(raw: Record<string, string>): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!Number.isFinite(Number(v)))
      throw new VergeError('E_BAD_ARGUMENT', `--metric ${k} must be a number, got '${v}'`);
    metrics[k] = Number(v);
  }
  return metrics;
}

/** The optimize report to publish with the version: an SVG file within the registry's bound. */
function readReport(path: string): Buffer {
  if (!existsSync(path) || !statSync(path).isFile()) throw new VergeError('E_FILE_NOT_FOUND', `no such file: ${path}`);
  if (statSync(path).size > MAX_REPORT_BYTES)
    throw new VergeError('E_BAD_ARGUMENT', `--report ${path} exceeds ${MAX_REPORT_BYTES} bytes`);
  return readFileSync(path);
}

const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(2);

export default async function publish(file: string, opts: PublishOptions): Promise<void> {
  if (!existsSync(file) || !statSync(file).isFile()) throw new VergeError('E_FILE_NOT_FOUND', `no such file: ${file}`);
  if (!semver.valid(opts.version))
    throw new VergeError('E_BAD_ARGUMENT', `--version '${opts.version}' is not semver (like 1.2.0)`);
  const precision: Precision =
    opts.precision ?? ((PRECISIONS as readonly string[]).includes(opts.variant) ? (opts.variant as Precision) : 'fp32');
  const metrics = metricsOf(opts.metric);
  loadModel(file); // refuse a truncated or non-ONNX file before uploading it (throws E_NOT_ONNX, …)
  const plain = readFileSync(file);
  const sealed = opts.encrypt ? encryptArtifact(plain) : null;
  const bytes = sealed?.bytes ?? plain;
  const report = opts.report ? readReport(opts.report) : null;
  const client = new CloudClient(resolveCloud(opts));
  note(`uploading ${file} (${bytes.length.toLocaleString('en-US')} bytes${sealed ? ', encrypted' : ''})`);
  const art = await client.upload<ArtifactUploadResponse>(HTTP_PATHS.artifacts, bytes);
  const loaded =
    opts.loadedMemory !== false ? await measurePublishedMemory(plain, (why) => note(`warning: ${why}`)) : undefined;
  if (loaded) note(`loaded memory (measured at batch ${loaded[0]!.batch}): ${mb(loaded[0]!.bytes)} MB`);
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
    report_sha256: report ? (await client.upload<ArtifactUploadResponse>(HTTP_PATHS.artifacts, report)).sha256 : null,
    ...(sealed ? { encryption_key: sealed.key.toString('base64') } : {}),
    ...(loaded ? { loaded_memory: loaded } : {}),
  });
  emit(
    opts,
    mv,
    () =>
      `published ${mv.name}@${mv.version} variant ${opts.variant} (${precision}) sha256 ${art.sha256.slice(0, 12)}… signed${sealed ? ', encrypted' : ''}${loaded ? `, ${mb(loaded[0]!.bytes)} MB loaded` : ', loaded memory not measured'}; variants: ${mv.variants.map((v) => v.variant).join(', ')}`,
  );
}
