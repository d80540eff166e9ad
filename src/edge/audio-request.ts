/**
 * `Content-Type: audio/wav` predict requests: the body is a WAV file, decoded, mixed to mono and
 * resampled to the rate the model declares (data/audio/model-input.ts), then fed to its waveform input.
 */
import { wavInput } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import type { TensorValue } from '../runtime/index.ts';
import type { LoadedModel } from './served-models.ts';

export const WAV_CONTENT_TYPES = Object.freeze(['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave'] as const);

export function isWavContentType(contentType: string): boolean {
  const base = contentType.split(';')[0]!.trim().toLowerCase();
  return (WAV_CONTENT_TYPES as readonly string[]).includes(base);
}

export function wavRequestFeeds(model: LoadedModel, body: Buffer): Record<string, TensorValue> {
  if (!model.audio)
    throw new VergeError('E_UNSUPPORTED', `model '${model.name}' does not take audio; send JSON or binary tensors`);
  const x = wavInput(body, model.audio, 'the WAV body');
  return { [model.audio.input]: { dtype: 'float32', ...x } };
}
