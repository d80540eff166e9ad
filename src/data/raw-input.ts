/**
 * Raw inputs (an image file or its bytes, a text, CSV rows) → the tensor a model takes, prepared
 * the way its training data was (the model's verge.data metadata), for `verge run
 * --image/--text/--csv` and the agent's predict API. Node-only through image decoding (sharp);
 * texts and CSV rows need nothing else.
 */
import { VergeError } from '../errors.ts';
import type { TensorValue } from '../runtime/index.ts';
import { columnIndex, isMissing, parseCsv, parseNumber, type CsvTable } from './csv-table.ts';
import { imageTensor } from './image-decode.ts';
import type { DataInfo, ImagePreprocessing, SeriesPreprocessing, TextPreprocessing } from './preprocessing.ts';
import { encodeRow, featureWidth, type TabularPreprocessing } from './tabular.ts';
import { textEncoder } from './text-dataset.ts';

/** Most samples one raw request may hold (texts, CSV rows or windows): a bounded batch. */
export const MAX_RAW_BATCH = 4096;
/** Longest text accepted (characters): longer texts are cut by the tokenizer anyway. */
export const MAX_TEXT_CHARS = 1_000_000;

/** What a model's input declares, enough to derive image settings for models without verge.data. */
export interface InputDecl {
  name: string;
  dtype?: string;
  shape?: (number | string | null)[];
}

/** Image settings: the model's own, or from a float32 [N, 1|3, H, W] input with fixed sizes. */
export function imageSettings(info: DataInfo | undefined, input: InputDecl): ImagePreprocessing {
  const p = info?.preprocessing;
  if (p?.kind === 'image') return p as ImagePreprocessing;
  if (p) throw new VergeError('E_BAD_ARGUMENT', `this model was trained on ${p.kind} data, not images`);
  const s = input.shape ?? [];
  const [, c, h, w] = s;
  if (
    input.dtype === 'float32' &&
    s.length === 4 &&
    (c === 1 || c === 3) &&
    typeof h === 'number' &&
    typeof w === 'number'
  )
    return { kind: 'image', channels: c, height: h, width: w };
  throw new VergeError(
    'E_BAD_ARGUMENT',
    `input '${input.name}' does not take images (float32 [batch, 1|3, height, width]) and the model carries no image preprocessing`,
  );
}

export function textSettings(info: DataInfo | undefined): TextPreprocessing {
  const p = info?.preprocessing;
  if (p?.kind === 'text') return p as TextPreprocessing;
  throw new VergeError(
    'E_BAD_ARGUMENT',
    p
      ? `this model was trained on ${p.kind} data, not text`
      : 'this model carries no tokenizer (train it with verge on text data)',
  );
}

/** One image as a batch of one [1, C, H, W]. */
export async function imageInput(
  info: DataInfo | undefined,
  input: InputDecl,
  image: string | Uint8Array,
  what: string,
): Promise<TensorValue> {
  const p = imageSettings(info, input);
  return { dtype: 'float32', dims: [1, p.channels, p.height, p.width], data: await imageTensor(image, p, what) };
}

/** Texts as a batch [n, length] of int64 ids. */
export function textInput(info: DataInfo | undefined, texts: readonly string[]): TensorValue {
  const p = textSettings(info);
  if (texts.length === 0) throw new VergeError('E_BAD_ARGUMENT', 'no text given');
  if (texts.length > MAX_RAW_BATCH)
    throw new VergeError('E_BAD_ARGUMENT', `${texts.length} texts in one request; at most ${MAX_RAW_BATCH}`);
  for (const t of texts)
    if (t.length > MAX_TEXT_CHARS)
      throw new VergeError('E_BAD_ARGUMENT', `a text of ${t.length} characters; at most ${MAX_TEXT_CHARS}`);
  const encode = textEncoder(p);
  const data = new BigInt64Array(texts.length * p.length);
  texts.forEach((t, i) => data.set(encode(t), i * p.length));
  return { dtype: 'int64', dims: [texts.length, p.length], data };
}

/** Which CSV column holds each of `names`; a missing one is an error listing what the model needs. */
function columnsFor(t: CsvTable, names: readonly string[]): number[] {
  return names.map((n) => columnIndex(t, n, 'a feature the model was trained with'));
}

function rowCount(t: CsvTable, unit = 'rows'): void {
  if (t.rows.length === 0) throw new VergeError('E_DATA_INVALID', `${t.source} has a header but no ${unit}`);
  if (t.rows.length > MAX_RAW_BATCH)
    throw new VergeError('E_DATA_INVALID', `${t.source} has ${t.rows.length} ${unit}; at most ${MAX_RAW_BATCH}`);
}

/**
 * Tabular rows (CSV text with a header naming the model's feature columns; other columns, such as
 * the label, are ignored) → [rows, features] float32, encoded like the training rows: missing
 * values imputed from the training statistics, categories one-hot or indexed. A category the
 * model never saw is an error naming it (it would be encoded as no category at all).
 */
export function tabularInput(info: DataInfo | undefined, csv: string, source: string): TensorValue {
  const p = info?.preprocessing;
  if (p?.kind !== 'tabular')
    throw new VergeError(
      'E_BAD_ARGUMENT',
      p ? `this model was trained on ${p.kind} data, not table rows` : 'this model carries no table encoding',
    );
  const tp = p as TabularPreprocessing;
  const t = parseCsv(csv, source);
  rowCount(t);
  const idx = columnsFor(
    t,
    tp.features.map((c) => c.name),
  );
  const width = featureWidth(tp.features);
  const data = new Float32Array(t.rows.length * width);
  t.rows.forEach((r, i) => {
    const issues = encodeRow(r, idx, tp.features, data, i * width);
    if (issues.unknownCategory !== undefined) {
      const c = tp.features.find((f) => f.name === issues.unknownCategory)!;
      const v = r[idx[tp.features.indexOf(c)]!];
      throw new VergeError(
        'E_DATA_INVALID',
        `${source} line ${i + 2}: ${c.kind === 'numeric' ? `'${v}' in numeric column '${c.name}' is not a number` : `'${v}' is not a category of '${c.name}' the model knows (${c.categories.slice(0, 10).join(', ')}${c.categories.length > 10 ? ', …' : ''})`}`,
      );
    }
  });
  return { dtype: 'float32', dims: [t.rows.length, width], data };
}

/**
 * Sensor series rows (CSV text with the model's channel columns; rows in time order, or ordered
 * by the model's time column when present) → windows [n, window, channels] every `stride` rows,
 * missing values carried forward as in training.
 */
export function seriesInput(info: DataInfo | undefined, csv: string, source: string): TensorValue {
  const p = info?.preprocessing;
  if (p?.kind !== 'series')
    throw new VergeError(
      'E_BAD_ARGUMENT',
      p ? `this model was trained on ${p.kind} data, not sensor series` : 'this model carries no series settings',
    );
  const sp = p as SeriesPreprocessing;
  const t = parseCsv(csv, source);
  if (t.rows.length < sp.window)
    throw new VergeError(
      'E_DATA_INVALID',
      `${source} has ${t.rows.length} rows; the model reads windows of ${sp.window} rows`,
    );
  const idx = columnsFor(t, sp.features);
  let rows = t.rows;
  const ti = sp.time !== undefined ? t.header.indexOf(sp.time) : -1;
  if (ti >= 0) {
    const key = (v: string): number => parseNumber(v) ?? Date.parse(v);
    rows = rows
      .map((r) => [r, key(r[ti]!)] as const)
      .sort((a, b) => a[1] - b[1])
      .map(([r]) => r);
  }
  const f = idx.length;
  const values = new Float32Array(rows.length * f);
  idx.forEach((c, k) => {
    let last: number | undefined;
    const pending: number[] = [];
    rows.forEach((r, i) => {
      const v = r[c]!;
      const x = isMissing(v) ? undefined : parseNumber(v);
      if (x === undefined && !isMissing(v) && !/^[-+]?inf(inity)?$/i.test(v))
        throw new VergeError(
          'E_DATA_INVALID',
          `${source} line ${i + 2}: channel '${t.header[c]}' holds '${v}', not a number`,
        );
      if (x === undefined) {
        if (last === undefined) pending.push(i);
        values[i * f + k] = last ?? 0;
        return;
      }
      if (last === undefined) for (const j of pending) values[j * f + k] = x;
      last = x;
      values[i * f + k] = x;
    });
  });
  const starts: number[] = [];
  for (let s = 0; s + sp.window <= rows.length; s += sp.stride) starts.push(s);
  if (starts.length > MAX_RAW_BATCH)
    throw new VergeError('E_DATA_INVALID', `${source} makes ${starts.length} windows; at most ${MAX_RAW_BATCH}`);
  const per = sp.window * f;
  const data = new Float32Array(starts.length * per);
  starts.forEach((s, n) => data.set(values.subarray(s * f, s * f + per), n * per));
  return { dtype: 'float32', dims: [starts.length, sp.window, f], data };
}

/** CSV rows for a table or series model, whichever the model was trained on. */
export function csvInput(info: DataInfo | undefined, csv: string, source: string): TensorValue {
  return info?.preprocessing?.kind === 'series' ? seriesInput(info, csv, source) : tabularInput(info, csv, source);
}

export interface ClassScore {
  index: number;
  label?: string;
  probability: number;
}

/** The k most likely classes of one row of scores (softmax over the row; names from the model). */
export function topClasses(scores: ArrayLike<number>, classNames: readonly string[] | undefined, k = 3): ClassScore[] {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) max = Math.max(max, scores[i]!);
  const exp = Array.from({ length: scores.length }, (_, i) => Math.exp(scores[i]! - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp
    .map((e, index) => ({
      index,
      ...(classNames?.[index] !== undefined ? { label: classNames[index] } : {}),
      probability: e / sum,
    }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, k);
}

/** What a model said about one sample: its top classes, or a regression model's values. */
export interface SamplePrediction {
  class?: number;
  label?: string;
  probability?: number;
  top?: ClassScore[];
  value?: number[];
}

/**
 * Per-sample predictions from a model's first output [n, …]: the top classes (softmax over each
 * row, names from the model) for a classifier, the output values for a regression model
 * (one whose verge.data has a target shape).
 */
export function predictionsOf(
  output: { dims: readonly number[]; data: ArrayLike<number | bigint> },
  info: DataInfo | undefined,
  k = 3,
): SamplePrediction[] {
  const n = output.dims[0] ?? 1;
  const per = n > 0 ? output.data.length / n : 0;
  const out: SamplePrediction[] = [];
  for (let i = 0; i < n; i++) {
    const row = Array.from({ length: per }, (_, j) => Number(output.data[i * per + j]!));
    if (info?.targetShape || per === 1) {
      out.push({ value: row });
      continue;
    }
    const top = topClasses(row, info?.classNames, k);
    const best = top[0]!;
    out.push({
      class: best.index,
      ...(best.label !== undefined ? { label: best.label } : {}),
      probability: best.probability,
      top,
    });
  }
  return out;
}
