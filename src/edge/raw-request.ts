/**
 * Predict requests carrying raw data instead of tensors, for models verge trained (their
 * verge.data metadata says how the training data was prepared): `image/png|jpeg|webp` (one image,
 * decoded and resized), `text/plain` (one text, tokenized with the model's vocabulary) and
 * `text/csv` (rows with a header naming the model's feature columns, or a sensor series cut into
 * the model's windows). The answer adds `predictions`: the top classes per sample (names from the
 * model) or a regression model's values.
 */
import { csvInput, imageInput, predictionsOf, textInput, type SamplePrediction } from '../data/index.ts';
import { VergeError } from '../errors.ts';
import type { TensorValue } from '../runtime/index.ts';
import type { LoadedModel } from './served-models.ts';

export const IMAGE_CONTENT_TYPES = Object.freeze(['image/png', 'image/jpeg', 'image/webp'] as const);
export const TEXT_CONTENT_TYPES = Object.freeze(['text/plain', 'text/csv'] as const);
export const RAW_CONTENT_TYPES = Object.freeze([...IMAGE_CONTENT_TYPES, ...TEXT_CONTENT_TYPES] as const);

function baseType(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

export function isRawContentType(contentType: string): boolean {
  return (RAW_CONTENT_TYPES as readonly string[]).includes(baseType(contentType));
}

function onlyInput(model: LoadedModel): LoadedModel['inputs'][number] {
  if (model.inputs.length !== 1)
    throw new VergeError(
      'E_UNSUPPORTED',
      `model '${model.name}' has ${model.inputs.length} inputs; raw data needs a one-input model (send JSON tensors)`,
    );
  return model.inputs[0]!;
}

/** The model's input from a raw body (a Buffer for images, a string for text and CSV). */
export async function rawRequestFeeds(
  model: LoadedModel,
  contentType: string,
  body: unknown,
): Promise<Record<string, TensorValue>> {
  const input = onlyInput(model);
  const type = baseType(contentType);
  const decl = {
    name: input.name,
    dtype: input.dtype,
    ...(input.shape ? { shape: input.shape.map((d) => d ?? null) } : {}),
  };
  if ((IMAGE_CONTENT_TYPES as readonly string[]).includes(type)) {
    const bytes = body as Buffer;
    if (!bytes?.length) throw new VergeError('E_BAD_ARGUMENT', 'the image body is empty');
    return { [input.name]: await imageInput(model.data, decl, bytes, `the ${type} body`) };
  }
  const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : '';
  if (text.trim() === '') throw new VergeError('E_BAD_ARGUMENT', `the ${type} body is empty`);
  if (type === 'text/csv') return { [input.name]: csvInput(model.data, text, 'the text/csv body') };
  return { [input.name]: textInput(model.data, [text]) };
}

/** Per-sample predictions from the first output, for answers to raw requests. */
export function rawPredictions(model: LoadedModel, outputs: Record<string, TensorValue>): SamplePrediction[] {
  const first = Object.values(outputs)[0];
  if (!first || first.dtype === 'string') return [];
  return predictionsOf(first as { dims: number[]; data: ArrayLike<number> }, model.data);
}
