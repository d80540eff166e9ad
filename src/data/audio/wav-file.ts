/** Reading WAV files from disk (Node only; everything else in src/data/audio is browser-safe). */
import { readBytes } from '../../onnx/index.ts';
import { decodeWav, waveformAt, type Audio } from './wav.ts';

export function readWavFile(path: string): Audio {
  return decodeWav(readBytes(path), path);
}

/** A WAV file as one mono channel at `sampleRate` (channels averaged, resampled when needed). */
export function readWaveform(path: string, sampleRate: number): Float32Array {
  return waveformAt(readWavFile(path), sampleRate);
}
