/** Audio for speech models: WAV bytes, resampling, Kaldi-compatible MFCC and recognition features. Browser-safe. */
export * from './wav.ts';
export * from './resample.ts';
export * from './mfcc.ts';
export * from './features.ts';
export * from './model-input.ts';
export * from './waveform-model.ts';
export * from './kws.ts';
