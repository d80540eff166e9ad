/**
 * How raw inputs (an image file, a text, a CSV row) become the samples a model was trained on.
 * Sources describe it when they read data; `verge train` saves it into the model's metadata
 * (key `verge.data`), so `verge eval`/`run` and the agent prepare new inputs the same way.
 * Pure data (JSON), no Node imports: browsers read it too.
 */
import { VergeError } from '../errors.ts';
import type { Model } from '../onnx/browser.ts';
import type { TabularPreprocessing } from './tabular.ts';
import type { TokenizerState } from './tokenizers/tokenizer.ts';

/** The model metadata key holding DataInfo as JSON. */
export const DATA_INFO_KEY = 'verge.data';
/** Largest DataInfo JSON accepted from a model (a 50,000-word vocabulary is ~1 MB). */
export const MAX_DATA_INFO_BYTES = 8 * 1024 * 1024;

/** Images: decoded, resized to height×width, `channels` planes (NCHW), values = pixel / 255. */
export interface ImagePreprocessing {
  kind: 'image';
  channels: 1 | 3;
  height: number;
  width: number;
}

/** Sensor series: windows of `window` rows every `stride` rows over the `features` channels. */
export interface SeriesPreprocessing {
  kind: 'series';
  /** Channel columns, in feature order. */
  features: string[];
  label: string;
  time?: string;
  window: number;
  stride: number;
}

/** Text: tokenized by `tokenizer`, then cut or padded (at the start) to `length` int64 ids. */
export interface TextPreprocessing {
  kind: 'text';
  tokenizer: TokenizerState;
  length: number;
}

/** Any other kind a source registers: its own fields, carried as JSON. */
export interface OtherPreprocessing {
  kind: string;
  [field: string]: unknown;
}

export type Preprocessing =
  ImagePreprocessing | TabularPreprocessing | SeriesPreprocessing | TextPreprocessing | OtherPreprocessing;

/** What a trained model carries about its data. */
export interface DataInfo {
  preprocessing?: Preprocessing;
  /** Class names by output index. */
  classNames?: string[];
  /** Regression models: the shape of one target. */
  targetShape?: number[];
}

/** A copy of `model` carrying `info` (replaces an earlier verge.data entry). Pure. */
export function withDataInfo(model: Model, info: DataInfo): Model {
  const props = (model.metadataProps ?? []).filter((p) => p.key !== DATA_INFO_KEY);
  const json = JSON.stringify(info);
  if (json.length > MAX_DATA_INFO_BYTES)
    throw new VergeError(
      'E_DATA_INVALID',
      `the model's data description is ${json.length} bytes (limit ${MAX_DATA_INFO_BYTES})`,
    );
  return { ...model, metadataProps: [...props, { key: DATA_INFO_KEY, value: json }] };
}

/** The DataInfo a model carries, or undefined when it has none. */
export function readDataInfo(model: Model): DataInfo | undefined {
  const entry = model.metadataProps?.find((p) => p.key === DATA_INFO_KEY);
  if (!entry) return undefined;
  if (entry.value.length > MAX_DATA_INFO_BYTES)
    throw new VergeError(
      'E_MODEL_INVALID',
      `the model's ${DATA_INFO_KEY} metadata is larger than ${MAX_DATA_INFO_BYTES} bytes`,
    );
  try {
    const info = JSON.parse(entry.value) as DataInfo;
    if (typeof info !== 'object' || info === null) throw new Error('not an object');
    return info;
  } catch (e) {
    throw new VergeError(
      'E_MODEL_INVALID',
      `the model's ${DATA_INFO_KEY} metadata is not valid JSON (${(e as Error).message})`,
    );
  }
}
