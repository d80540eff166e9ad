/**
 * Models that take audio say so in their metadata (written by hmm/onnx-export.ts): which input takes
 * the mono waveform and at what sample rate. `verge run --wav` and the agent's `audio/wav` requests
 * turn a WAV file into that input with these. Browser-safe.
 */
import { VergeError } from '../../errors.ts';
import type { Model } from '../../onnx/browser.ts';
import { decodeWav, waveformAt } from './wav.ts';

export const AUDIO_METADATA = Object.freeze({
  /** 'audio/wav' on models whose input is a waveform. */
  input: 'verge.input',
  sampleRate: 'verge.audio.sample_rate',
  /** Shortest waveform the model's front end accepts (one analysis frame). */
  minSamples: 'verge.audio.min_samples',
  labels: 'verge.labels',
} as const);

export interface AudioInput {
  /** The graph input that takes [batch, samples] float32. */
  input: string;
  sampleRate: number;
  minSamples: number;
}

/** The audio input a model declares in its metadata, or undefined for other models. */
export function audioInputOf(model: Model): AudioInput | undefined {
  const meta = new Map((model.metadataProps ?? []).map((p) => [p.key, p.value]));
  if (meta.get(AUDIO_METADATA.input) !== 'audio/wav') return undefined;
  const sampleRate = Number(meta.get(AUDIO_METADATA.sampleRate));
  const inits = new Set(model.graph.initializers.map((t) => t.name));
  const inputs = model.graph.inputs.filter((i) => !inits.has(i.name));
  if (!(sampleRate > 0) || inputs.length !== 1)
    throw new VergeError(
      'E_MODEL_INVALID',
      'the model declares audio input but no sample rate or not exactly one input',
    );
  return { input: inputs[0]!.name, sampleRate, minSamples: Number(meta.get(AUDIO_METADATA.minSamples)) || 1 };
}

/** WAV bytes as the model's input tensor [1, samples] (mono, resampled to the model's rate). */
export function wavInput(
  bytes: Uint8Array,
  audio: AudioInput,
  source = 'request body',
): { dims: number[]; data: Float32Array } {
  const waveform = waveformAt(decodeWav(bytes, source), audio.sampleRate);
  if (waveform.length < audio.minSamples)
    throw new VergeError(
      'E_DATA_INVALID',
      `${source} holds ${waveform.length} samples at ${audio.sampleRate} Hz; the model needs at least ${audio.minSamples} (one analysis frame)`,
    );
  return { dims: [1, waveform.length], data: waveform };
}
