/**
 * Class folders of images: `root/<class>/*.png|jpg|jpeg|webp`, optionally under train/ and
 * test/. Decoded with sharp to one size (--image-size, default the first image's) and 1 or 3
 * channels (--channels, default from the first image), NCHW float32 in [0, 1]. Every image is
 * decoded once per run into memory; decoded bytes are also cached on disk (decoded-cache.ts) so
 * the next run does not decode again. Corrupt images are skipped and reported, never fatal.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { VergeError } from '../../errors.ts';
import { listClassFolders, hasClassFiles, mixedOrder, type ClassFile } from '../class-folders.ts';
import type { Dataset, Split } from '../dataset.ts';
import { cacheKey, readDecodedCache, writeDecodedCache, type DecodedBatch } from '../decoded-cache.ts';
import { decodePixels, firstLine, hwcToChw, IMAGE_EXTENSIONS, MAX_IMAGE_SIDE, probeImage } from '../image-decode.ts';
import type { ImagePreprocessing } from '../preprocessing.ts';
import { SourceLog, type DataSource, type SourceOptions } from './source.ts';
import { sourceSummary } from './catalog.ts';

/** Decoded float32 data held in memory at most (bytes); beyond it, ask for a smaller size or a limit. */
export const MAX_DECODED_BYTES = 3 * 1024 ** 3;
/** Images decoded concurrently (sharp decodes on libuv's thread pool). */
const DECODE_CONCURRENCY = 8;

/** Decide size and channels: a model's preprocessing, the flags, or the first readable image. */
async function imageSettings(files: ClassFile[], opts: SourceOptions, log: SourceLog): Promise<ImagePreprocessing> {
  const p = opts.preprocessing;
  if (p?.kind === 'image') return p as ImagePreprocessing;
  if (p) throw new VergeError('E_DATA_INVALID', `this model reads ${p.kind} data, not images`);
  let probe: { width: number; height: number; channels: 1 | 3 } | undefined;
  if (!opts.imageSize || !opts.channels) {
    for (const f of files) {
      try {
        probe = await probeImage(f.path);
        break;
      } catch {
        /* a corrupt first file: try the next; the decode pass reports it */
      }
    }
    if (!probe) throw new VergeError('E_DATA_INVALID', `none of the images could be read (first: ${files[0]?.rel})`);
  }
  const [height, width] = opts.imageSize ?? [probe!.height, probe!.width];
  if (height > MAX_IMAGE_SIDE || width > MAX_IMAGE_SIDE)
    throw new VergeError(
      'E_DATA_INVALID',
      `images are ${width}x${height}; give --image-size HxW (at most ${MAX_IMAGE_SIDE})`,
    );
  const channels = opts.channels ?? probe!.channels;
  if (!opts.imageSize)
    log.note(`images resized to ${height}x${width} (the first image's size; --image-size to change)`);
  if (!opts.channels)
    log.note(
      `${channels === 1 ? 'grayscale' : 'RGB'} (${channels} channel${channels > 1 ? 's' : ''}, from the first image; --channels to change)`,
    );
  return { kind: 'image', channels, height, width };
}

/** Decode every file (from the cache when it holds them), `per` = bytes per image. */
async function decodeAll(
  files: ClassFile[],
  p: ImagePreprocessing,
  opts: SourceOptions,
  log: SourceLog,
): Promise<DecodedBatch> {
  const per = p.channels * p.height * p.width;
  const key = opts.cacheDir
    ? cacheKey('images', {
        p,
        files: files.map((f) => {
          const s = statSync(f.path, { throwIfNoEntry: false });
          return [f.rel, s?.size ?? -1, s?.mtimeMs ?? -1];
        }),
      })
    : undefined;
  const cached = key ? readDecodedCache(opts.cacheDir!, key, files.length, per) : undefined;
  if (cached) {
    log.note(`decoded images read from the cache (${opts.cacheDir})`);
    log.read('cached', files.length);
  }
  const batch = cached ?? { x: new Uint8Array(files.length * per), ok: new Uint8Array(files.length) };
  if (!cached) {
    let next = 0;
    let done = 0;
    const worker = async (): Promise<void> => {
      while (next < files.length) {
        const i = next++;
        try {
          batch.x.set(await decodePixels(files[i]!.path, p), i * per);
          batch.ok[i] = 1;
        } catch {
          batch.ok[i] = 0;
        }
        opts.onProgress?.(++done, files.length);
      }
    };
    await Promise.all(Array.from({ length: DECODE_CONCURRENCY }, worker));
    log.read('decoded', files.length);
    if (key) writeDecodedCache(opts.cacheDir!, key, batch, per);
  }
  for (let i = 0; i < files.length; i++) if (!batch.ok[i]) log.skip('corrupt or unreadable image', files[i]!.rel);
  return batch;
}

/** The first error message of a corrupt file, for the report's notes (the skip list has names only). */
async function firstDecodeError(
  files: ClassFile[],
  ok: Uint8Array,
  p: ImagePreprocessing,
): Promise<string | undefined> {
  const i = ok.findIndex((v) => v === 0);
  if (i < 0) return undefined;
  try {
    await decodePixels(files[i]!.path, p);
    return undefined;
  } catch (e) {
    return `${files[i]!.rel}: ${firstLine(e)}`;
  }
}

function toSplit(files: ClassFile[], batch: DecodedBatch, from: number, p: ImagePreprocessing): Split {
  const per = p.channels * p.height * p.width;
  let n = 0;
  for (let i = 0; i < files.length; i++) n += batch.ok[from + i]!;
  const x = new Float32Array(n * per);
  const y = new Int32Array(n);
  let k = 0;
  for (let i = 0; i < files.length; i++) {
    if (!batch.ok[from + i]) continue;
    hwcToChw(batch.x.subarray((from + i) * per, (from + i + 1) * per), p, x, k * per);
    y[k++] = files[i]!.label;
  }
  return { x, y, count: n };
}

export const imageFolder: DataSource = {
  name: 'image-folder',
  summary: sourceSummary('image-folder'),
  options: ['imageSize', 'channels'],
  claims: (t) => hasClassFiles(t, IMAGE_EXTENSIONS),
  load: async (t, opts): Promise<Dataset> => {
    const log = new SourceLog('image-folder');
    const folders = listClassFolders(t, IMAGE_EXTENSIONS, log, opts.classNames);
    const train = mixedOrder(folders.train, opts.limits?.train);
    const test = mixedOrder(folders.test, opts.limits?.test);
    const p = await imageSettings([...train, ...test], opts, log);
    const per = p.channels * p.height * p.width;
    const bytes = (train.length + test.length) * per * 4;
    if (bytes > MAX_DECODED_BYTES)
      throw new VergeError(
        'E_DATA_INVALID',
        `${train.length + test.length} images of ${p.channels}x${p.height}x${p.width} need ${(bytes / 1024 ** 3).toFixed(1)} GiB decoded (limit ${MAX_DECODED_BYTES / 1024 ** 3} GiB): use a smaller --image-size or --limit`,
      );
    const all = [...train, ...test];
    const batch = await decodeAll(all, p, opts, log);
    const why = await firstDecodeError(all, batch.ok, p);
    if (why) log.note(`first unreadable image: ${why}`);
    log.read('files', all.length);
    const trainSplit = toSplit(train, batch, 0, p);
    const testSplit = toSplit(test, batch, train.length, p);
    if (trainSplit.count === 0) throw new VergeError('E_DATA_INVALID', `${t.spec}: no training image could be decoded`);
    log.read('samples', trainSplit.count + testSplit.count);
    return {
      name: basename(t.path!),
      source: t.path!,
      shape: [p.channels, p.height, p.width],
      classes: folders.classes.length,
      classNames: folders.classes,
      train: trainSplit,
      test: testSplit,
      preprocessing: p,
      report: log.report(),
    };
  },
};
