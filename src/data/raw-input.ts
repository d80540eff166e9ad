/**
 * Raw inputs (an image file or its bytes, a text) → the tensor a model takes, prepared the way
 * its training data was (the model's verge.data metadata), for `verge run --image/--text` and the
 * agent's predict API. Node-only through image decoding (sharp); texts need nothing else.
 */
import { VergeError } from '../errors.ts';
import type { TensorValue } from '../runtime/tensor.ts';
import { imageTensor } from './image-decode.ts';
import type { DataInfo, ImagePreprocessing, TextPreprocessing } from './preprocessing.ts';
import { textEncoder } from './text-dataset.ts';

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
  const encode = textEncoder(p);
  const data = new BigInt64Array(texts.length * p.length);
  texts.forEach((t, i) => data.set(encode(t), i * p.length));
  return { dtype: 'int64', dims: [texts.length, p.length], data };
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
