/**
 * Data beyond Fashion-MNIST, measured (issue 12):
 *  1. augmentation: the cost of each transform on seed-CNN training batches (Fashion-MNIST, batch
 *     64) — the transform's own time per batch against a training step's, and `verge train`
 *     samples/s with and without it (target: ≤ 15% slower);
 *  2. image folders vs IDX: Fashion-MNIST written out as PNG class folders, the seed CNN trained
 *     from the folders and from IDX with the same seed — accuracy (target ±0.5 pt), the first
 *     read (decoding with sharp) and the cached read, and samples/s after the first epoch
 *     (target ≥ 70% of IDX);
 *  3. text: Debian package descriptions → section (10 largest sections), tokenizer (word, char,
 *     BPE, word n-grams) × architecture (text-cnn, text-gru, text-lstm, text-bow) trained by
 *     `verge train`, against a TF-IDF + logistic-regression baseline (Debian python3-sklearn, this
 *     benchmark only) on the same training texts; target: verge's best ≥ the baseline. --text-full
 *     adds ngram × text-bow and the baseline on all ~34k training texts.
 * Training goes through the real CLI (`verge train --json`), one run at a time.
 *
 *   npm run bench -- data [--quick] [--parts augment,images,text] [--image-train N] [--text-train N] [--epochs N] [--text-full]
 *     [--text-full-weights idf|none] [--text-missing]
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseCsv } from '../src/data/csv-table.ts';
import { batches, rng } from '../src/data/dataset.ts';
import { loadDataset } from '../src/data/load-dataset.ts';
import { debianDescriptionsFolder, dumpavail } from '../src/data/sources/debian-descriptions.ts';
import { augmentBatch, parseAugment, TRANSFORMS } from '../src/data/transforms/index.ts';
import { matchSamples, writeIdxPair, writePngFolders } from './data/png-folders.ts';
import { printTable, RESULTS_DIR, round, writeResult } from './lib.ts';

const TARGETS = { augment_max_overhead: 0.15, image_folder_accuracy_pt: 0.5, image_folder_throughput_ratio: 0.7 };
/** The transform each row measures, at a typical strength (mixup needs a float-target loss). */
const AUGMENTS = [
  'crop:4',
  'flip',
  'rotate:15',
  'shift:0.1',
  'zoom:0.1',
  'brightness:0.2',
  'contrast:0.2',
  'noise:0.05',
  'cutout:8',
  'mixup:0.2',
];
const TOKENIZERS = ['word', 'char', 'bpe', 'ngram'];
const TEXT_ARCHS = ['text-cnn', 'text-gru', 'text-lstm', 'text-bow'];
/** --text-full's text-bow flags besides epochs and lr (hand runs on all texts, 2026-12-02: see docs/data.md). */
const FULL_TEXT_EXTRA = ['--batch', '512', '--weight-decay', '5e-5', '--max-length', '64'];
const ROOT = join(import.meta.dirname, '..');

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    parts: { type: 'string', default: 'augment,images,text' },
    'image-train': { type: 'string' },
    'text-train': { type: 'string' },
    epochs: { type: 'string' },
    seed: { type: 'string', default: '0' },
    // also train ngram × text-bow and fit the TF-IDF baseline on every training text (slow on a loaded machine)
    'text-full': { type: 'boolean', default: false },
    // reuse the text cells of the last data.json with the same training size and recipe
    'text-missing': { type: 'boolean', default: false },
    // --text-full's text-bow: weigh tokens in the bag by their inverse document frequency ('idf') or not ('none')
    'text-full-weights': { type: 'string', default: 'none' },
  },
});
const quick = values.quick!;
const parts = new Set(values.parts!.split(','));
const imageTrain = Number(values['image-train'] ?? (quick ? 3000 : 10000));
const imageTest = Math.round(imageTrain / 5);
const textTrain = Number(values['text-train'] ?? (quick ? 3000 : 10000));
const augTrain = quick ? 1000 : 2000;
const epochs = Number(values.epochs ?? (quick ? 2 : 3));
const seed = Number(values.seed);
const log = (s: string): void => void process.stderr.write(s + '\n');
const tmp = mkdtempSync(join(tmpdir(), 'verge-bench-data-'));
const figures: Record<string, unknown> = { targets: TARGETS };
/**
 * Write data.json with this run's parts; parts not run this time keep their earlier figures (the
 * parts are long: they may be run one at a time with --parts, each recording its own settings).
 */
const PART_KEYS = ['augmentation', 'image_folder_vs_idx', 'text'];
const save = (): string => {
  const path = join(RESULTS_DIR, 'data.json');
  const earlier = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>) : {};
  const kept = Object.fromEntries(PART_KEYS.filter((k) => !(k in figures) && k in earlier).map((k) => [k, earlier[k]]));
  return writeResult('data', { ...kept, ...figures });
};

interface TrainReport {
  history: { epoch: number; samples_per_sec: number }[];
  test: { accuracy: number; loss: number };
  samples_per_sec: number;
}

/** `verge train … --json` in a child process; wall seconds and its report. */
function vergeTrain(args: string[]): { seconds: number; report: TrainReport } {
  const t = performance.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'verge.js'), 'train', ...args, '--json'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  const seconds = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`verge train ${args.join(' ')} failed: ${r.stderr.trim().split('\n').pop()}`);
  return { seconds, report: JSON.parse(r.stdout) as TrainReport };
}

const lastEpochRate = (r: TrainReport): number => r.history[r.history.length - 1]!.samples_per_sec;

// ---- 1. augmentation -------------------------------------------------------------------------
if (parts.has('augment')) {
  const fm = await loadDataset('fashion-mnist', { limits: { train: augTrain, test: 500 } });
  const common = [
    '--arch',
    'cnn',
    '--data',
    'fashion-mnist',
    '--limit',
    String(augTrain),
    '--limit-test',
    '500',
    '--epochs',
    '1',
    '--seed',
    String(seed),
    '--threads',
    '2',
    '--out',
    join(tmp, 'aug.onnx'),
  ];
  // per-batch cost of each transform alone (median of 3 passes over the 2,000 samples)
  const batchMs = (spec: string): number => {
    const steps = parseAugment(spec);
    const rounds: number[] = [];
    for (let r = 0; r < 3; r++) {
      const random = rng(seed + r);
      let ms = 0;
      let n = 0;
      for (const b of batches(fm.train, 64, { shuffle: true, seed: r })) {
        const t = performance.now();
        augmentBatch(steps, { x: b.x, y: b.y, count: b.count, shape: fm.shape, classes: fm.classes }, random);
        ms += performance.now() - t;
        n++;
      }
      rounds.push(ms / n);
    }
    return rounds.sort((a, b) => a - b)[1]!;
  };
  // baselines before and after the transform runs (the machine's load drifts); mixup's uses --loss mse
  const base = vergeTrain(common);
  const mseBase = vergeTrain([...common, '--loss', 'mse']);
  const runs = AUGMENTS.map((spec) => {
    const r = vergeTrain([...common, '--augment', spec, ...(spec.startsWith('mixup') ? ['--loss', 'mse'] : [])]);
    log(`  ${spec}: ${r.report.samples_per_sec.toFixed(0)} samples/s`);
    return r;
  });
  const baseAfter = vergeTrain(common);
  const baseRate = (base.report.samples_per_sec + baseAfter.report.samples_per_sec) / 2;
  const stepMs = (64 / baseRate) * 1000;
  log(`augment: baseline ${baseRate.toFixed(0)} samples/s (${stepMs.toFixed(1)} ms per batch of 64)`);
  const rows: Record<string, unknown>[] = AUGMENTS.map((spec, i) => {
    const ms = batchMs(spec);
    const ref = spec.startsWith('mixup') ? mseBase.report.samples_per_sec : baseRate;
    const rate = runs[i]!.report.samples_per_sec;
    return {
      transform: spec,
      ms_per_batch: round(ms, 3),
      share_of_step: round(ms / ((64 / ref) * 1000), 4),
      samples_per_sec: round(rate, 1),
      baseline_samples_per_sec: round(ref, 1),
      slowdown: round(1 - rate / ref, 4),
    };
  });
  const all = AUGMENTS.filter((s) => !s.startsWith('mixup')).join(',');
  const allMs = batchMs(all);
  figures.augmentation = {
    what: `seed CNN, Fashion-MNIST ${augTrain} training samples, 1 epoch, batch 64, 2 threads; ms_per_batch = the transform alone (median of 3 passes), share_of_step = that over a training step of the baseline (the mean of runs before and after; mixup: a --loss mse run); slowdown = 1 - samples/s with it / baseline`,
    baseline_samples_per_sec: round(baseRate, 1),
    rows,
    all_image_transforms: { spec: all, ms_per_batch: round(allMs, 3), share_of_step: round(allMs / stepMs, 4) },
    transforms: TRANSFORMS.map((t) => t.name),
  };
  printTable(
    ['transform', 'ms/batch', 'of a step', 'samples/s', 'baseline', 'slowdown'],
    rows.map((r) => [
      String(r.transform),
      Number(r.ms_per_batch).toFixed(2),
      `${(100 * Number(r.share_of_step)).toFixed(1)}%`,
      Number(r.samples_per_sec).toFixed(0),
      Number(r.baseline_samples_per_sec).toFixed(0),
      `${(100 * Number(r.slowdown)).toFixed(1)}%`,
    ]),
  );
  save();
}

// ---- 2. image folders vs IDX -----------------------------------------------------------------
if (parts.has('images')) {
  const fm = await loadDataset('fashion-mnist', { limits: { train: imageTrain, test: imageTest } });
  const folder = join(tmp, 'fashion-png');
  let t = performance.now();
  await writePngFolders(fm, folder);
  const writeSeconds = (performance.now() - t) / 1000;
  log(`images: wrote ${fm.train.count + fm.test.count} PNGs in ${writeSeconds.toFixed(1)} s (${fm.source})`);
  const cache = join(tmp, 'cache');
  const trainArgs = ['--arch', 'cnn', '--epochs', String(epochs), '--seed', String(seed), '--threads', '2'];
  // decoding alone: the first read decodes every PNG and fills the cache, the second reads the cache
  t = performance.now();
  await loadDataset(folder, { cacheDir: cache });
  const firstRead = (performance.now() - t) / 1000;
  t = performance.now();
  const fromFolder = await loadDataset(folder, { cacheDir: cache });
  const cachedRead = (performance.now() - t) / 1000;
  t = performance.now();
  await loadDataset('fashion-mnist', { limits: { train: imageTrain, test: imageTest } });
  const idxRead = (performance.now() - t) / 1000;
  // the folders must decode to exactly the IDX samples (labels and every pixel byte); they come in
  // the folder source's order (hash-mixed file names), so IDX files in that same order let the two
  // trainings see the same batches: any accuracy difference is then the pipeline's, not the order's
  const per = fm.shape[1]! * fm.shape[2]!;
  const trainOrder = matchSamples(fm.train, fromFolder.train, per);
  const testOrder = matchSamples(fm.test, fromFolder.test, per);
  if (!trainOrder || !testOrder) throw new Error('the PNG folders do not decode to the IDX samples');
  const sameOrder = join(tmp, 'idx-folder-order');
  writeIdxPair(fm.train, fm.shape, trainOrder, sameOrder, 'train');
  writeIdxPair(fm.test, fm.shape, testOrder, sameOrder, 't10k');
  const idxArgs = ['--data', 'fashion-mnist', '--limit', String(imageTrain), '--limit-test', String(imageTest)];
  const idx = vergeTrain([...trainArgs, ...idxArgs, '--out', join(tmp, 'idx.onnx')]);
  const png = vergeTrain([...trainArgs, '--data', folder, '--cache-dir', cache, '--out', join(tmp, 'png.onnx')]);
  const idxSame = vergeTrain([...trainArgs, '--data', sameOrder, '--out', join(tmp, 'idx-same.onnx')]);
  const idx2 = vergeTrain([...trainArgs, ...idxArgs, '--out', join(tmp, 'idx2.onnx')]);
  const idxRate = (lastEpochRate(idx.report) + lastEpochRate(idx2.report)) / 2;
  figures.image_folder_vs_idx = {
    what: `seed CNN, Fashion-MNIST first ${imageTrain} train / ${imageTest} test samples (${fm.source}), ${epochs} epochs, batch 64, same seed; the PNG folders are train/<class>/*.png and test/<class>/*.png written by sharp; IDX ran before and after the folder run; 'idx_folder_order' = the same IDX samples written in the order the folder source reads the PNGs (checked: every label and pixel byte equal)`,
    folder_samples_equal_idx: true,
    png_write_seconds: round(writeSeconds, 1),
    first_read_seconds: round(firstRead, 2),
    cached_read_seconds: round(cachedRead, 2),
    idx_read_seconds: round(idxRead, 2),
    idx: {
      accuracy: idx.report.test.accuracy,
      accuracy_rerun: idx2.report.test.accuracy,
      last_epoch_samples_per_sec: round(idxRate, 1),
      wall_seconds: round(idx.seconds, 1),
    },
    idx_folder_order: {
      accuracy: idxSame.report.test.accuracy,
      last_epoch_samples_per_sec: round(lastEpochRate(idxSame.report), 1),
      wall_seconds: round(idxSame.seconds, 1),
    },
    image_folder: {
      accuracy: png.report.test.accuracy,
      last_epoch_samples_per_sec: round(lastEpochRate(png.report), 1),
      wall_seconds: round(png.seconds, 1),
    },
    // folders vs the same samples from IDX in the same order (the ±0.5 pt target)
    accuracy_difference_pt: round(100 * (png.report.test.accuracy - idxSame.report.test.accuracy), 2),
    // folders vs IDX in its own order: the same data, other batches (what the sample order alone moves)
    accuracy_difference_idx_order_pt: round(100 * (png.report.test.accuracy - idx.report.test.accuracy), 2),
    throughput_ratio_after_first_epoch: round(lastEpochRate(png.report) / idxRate, 3),
  };
  printTable(
    ['source', 'accuracy', 'samples/s (last epoch)', 'wall s'],
    [
      ['IDX', (100 * idx.report.test.accuracy).toFixed(2), idxRate.toFixed(0), idx.seconds.toFixed(1)],
      [
        'IDX, folder order',
        (100 * idxSame.report.test.accuracy).toFixed(2),
        lastEpochRate(idxSame.report).toFixed(0),
        idxSame.seconds.toFixed(1),
      ],
      [
        'PNG folders (cached)',
        (100 * png.report.test.accuracy).toFixed(2),
        lastEpochRate(png.report).toFixed(0),
        png.seconds.toFixed(1),
      ],
    ],
  );
  log(
    `images: first read (decode) ${firstRead.toFixed(1)} s, cached ${cachedRead.toFixed(2)} s, IDX ${idxRead.toFixed(2)} s`,
  );
  save();
}

// ---- 3. text: Debian package descriptions ----------------------------------------------------
/** Training recipe per architecture: the bag of n-grams is a shallow model that needs more passes and a larger step. */
const recipeOf = (arch: string): { epochs: number; lr: number } =>
  arch === 'text-bow' ? { epochs: Math.max(epochs, 20), lr: 0.01 } : { epochs, lr: 0.002 };

/** `verge train` of one text model on a folder with train.csv/test.csv. */
function textRun(
  dir: string,
  tokenizer: string,
  arch: string,
  recipe: { epochs: number; lr: number },
  extra: string[] = [],
) {
  const r = vergeTrain([
    ...['--arch', arch, '--data', dir, '--text-column', 'text', '--label', 'section', '--tokenizer', tokenizer],
    ...['--epochs', String(recipe.epochs), '--lr', String(recipe.lr), '--seed', String(seed), '--threads', '2'],
    ...['--no-cache', '--out', join(tmp, `${tokenizer}-${arch}.onnx`), ...extra],
  ]);
  return {
    tokenizer,
    arch,
    epochs: recipe.epochs,
    lr: recipe.lr,
    accuracy: r.report.test.accuracy,
    samples_per_sec: round(r.report.samples_per_sec, 1),
    wall_seconds: round(r.seconds, 1),
  };
}

if (parts.has('text')) {
  const built = debianDescriptionsFolder(await dumpavail(), join(tmp, 'debian'));
  const read = (f: string) => parseCsv(readFileSync(join(built.dir, f), 'utf8'), f);
  const train = read('train.csv');
  const test = read('test.csv');
  const col = (t: typeof train, name: string) => t.rows.map((r) => r[t.header.indexOf(name)]!);
  // the same training texts for everyone: the first N of train.csv (packages in name order)
  const subset = { header: train.header, rows: train.rows.slice(0, textTrain) };
  const subsetDir = join(tmp, 'debian-subset');
  const csvLine = (r: string[]) => r.map((v) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(',');
  execFileSync('mkdir', ['-p', subsetDir]);
  writeFileSync(join(subsetDir, 'train.csv'), [csvLine(subset.header), ...subset.rows.map(csvLine)].join('\n') + '\n');
  writeFileSync(join(subsetDir, 'test.csv'), readFileSync(join(built.dir, 'test.csv')));
  log(
    `text: ${subset.rows.length} of ${train.rows.length} training descriptions, ${test.rows.length} test, 10 sections`,
  );

  // baseline: TF-IDF (word 1–2-grams) + logistic regression, on the subset and (--text-full) on all
  // training texts — in a child process that runs while verge trains (the full fit takes minutes)
  const payload = join(tmp, 'texts.json');
  writeFileSync(
    payload,
    JSON.stringify({
      train: col(train, 'text'),
      train_y: col(train, 'section'),
      test: col(test, 'text'),
      test_y: col(test, 'section'),
      subset: textTrain,
      all: values['text-full'],
    }),
  );
  const py = `
import json, sys, time, sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
d = json.load(open(sys.argv[1]))
out = {"sklearn": sklearn.__version__}
for name, n in (("subset", d["subset"]),) + ((("all", len(d["train"])),) if d["all"] else ()):
    t = time.time()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x = vec.fit_transform(d["train"][:n])
    clf = LogisticRegression(max_iter=2000, C=10.0).fit(x, d["train_y"][:n])
    acc = float((clf.predict(vec.transform(d["test"])) == __import__("numpy").array(d["test_y"])).mean())
    out[name] = {"train": n, "accuracy": acc, "seconds": time.time() - t}
print(json.dumps(out))
`;
  const baselineDone = new Promise<string>((resolve, reject) =>
    execFile('/usr/bin/python3', ['-c', py, payload], { encoding: 'utf8', maxBuffer: 2 ** 26 }, (err, out) =>
      err ? reject(err) : resolve(out),
    ),
  );
  // --text-missing: keep the cells of an earlier run with the same data size and recipe
  const earlier = existsSync(join(RESULTS_DIR, 'data.json'))
    ? ((
        JSON.parse(readFileSync(join(RESULTS_DIR, 'data.json'), 'utf8')) as {
          text?: { train_texts?: number; rows?: Record<string, unknown>[] };
        }
      ).text ?? {})
    : {};
  const rows: Record<string, unknown>[] = [];
  const text: Record<string, unknown> = {
    what: `Debian package descriptions (apt-cache dumpavail synopses) → section, 10 largest sections; first ${textTrain} training texts, all ${test.rows.length} test texts (package-name hash split); verge: batch 64, Adam, seed ${seed}, ${epochs} epochs at lr 2e-3 (text-bow: ${recipeOf('text-bow').epochs} epochs at lr 1e-2); baseline: sklearn TfidfVectorizer(1-2 grams, sublinear tf) + LogisticRegression(C=10) on the same texts`,
    train_texts: textTrain,
    test_texts: test.rows.length,
    rows,
  };
  figures.text = text;
  let full: Record<string, unknown> | undefined;
  if (values['text-full']) {
    // the best recipe on every training text (the subset is a quick, under-trained comparison):
    // large batches (8× fewer steps, so 8× fewer dense updates of the 50k-row table), L2 weight
    // decay (without it the bag overfits after 2 epochs: 98% on the training texts), no text cut
    const recipe = { epochs: 8, lr: 0.05 };
    const extra = [...FULL_TEXT_EXTRA, '--schedule', 'cosine', '--token-weights', values['text-full-weights']!];
    log(
      `text: ngram × text-bow on all ${train.rows.length} training texts, ${recipe.epochs} epochs, ${extra.join(' ')}…`,
    );
    full = {
      train_texts: train.rows.length,
      flags: extra.join(' '),
      ...textRun(built.dir, 'ngram', 'text-bow', recipe, extra),
    };
    text.all_training_texts = full;
    log(`  all texts: ngram × text-bow ${(100 * Number(full.accuracy)).toFixed(2)}%`);
    save();
  }
  for (const tokenizer of TOKENIZERS) {
    for (const arch of TEXT_ARCHS) {
      const recipe = recipeOf(arch);
      const old =
        values['text-missing'] && earlier.train_texts === textTrain
          ? earlier.rows?.find(
              (r) => r.tokenizer === tokenizer && r.arch === arch && r.epochs === recipe.epochs && r.lr === recipe.lr,
            )
          : undefined;
      const row: Record<string, unknown> = old
        ? { ...old, from_earlier_run: true }
        : textRun(subsetDir, tokenizer, arch, recipe);
      rows.push(row);
      log(
        `  ${tokenizer} × ${arch}: ${(100 * Number(row.accuracy)).toFixed(2)}% (${row.samples_per_sec} samples/s, ${row.wall_seconds} s)${old ? ' (earlier run)' : ''}`,
      );
      save();
    }
  }
  const baseline = JSON.parse(await baselineDone) as {
    sklearn: string;
    subset: { accuracy: number; seconds: number };
    all?: { train: number; accuracy: number; seconds: number };
  };
  log(
    `text: TF-IDF + LR ${(100 * baseline.subset.accuracy).toFixed(2)}% (${textTrain} texts)${baseline.all ? `, ${(100 * baseline.all.accuracy).toFixed(2)}% (all ${baseline.all.train})` : ''}`,
  );
  text.baseline = {
    sklearn: baseline.sklearn,
    accuracy: baseline.subset.accuracy,
    seconds: round(baseline.subset.seconds, 2),
  };
  if (full && baseline.all) {
    full.baseline = { accuracy: baseline.all.accuracy, seconds: round(baseline.all.seconds, 2) };
    full.minus_baseline_pt = round(100 * (Number(full.accuracy) - baseline.all.accuracy), 2);
  }
  const best = rows.reduce((a, b) => (Number(b.accuracy) > Number(a.accuracy) ? b : a));
  text.best = best;
  text.best_minus_baseline_pt = round(100 * (Number(best.accuracy) - baseline.subset.accuracy), 2);
  printTable(
    ['tokenizer', ...TEXT_ARCHS, 'TF-IDF + LR'],
    TOKENIZERS.map((tk) => [
      tk,
      ...TEXT_ARCHS.map((a) =>
        (100 * Number(rows.find((r) => r.tokenizer === tk && r.arch === a)!.accuracy)).toFixed(2),
      ),
      (100 * baseline.subset.accuracy).toFixed(2),
    ]),
  );
  save();
}

rmSync(tmp, { recursive: true, force: true });
log(`wrote ${save()}`);
