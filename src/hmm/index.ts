/** Hidden Markov models (hmmlearn's family and names) and the isolated-word recognizer. Browser-safe. */
export * from './matrix.ts';
export * from './gaussian.ts';
export * from './base.ts';
export * from './gaussian-emissions.ts';
export * from './gaussian-hmm.ts';
export * from './gmm-hmm.ts';
export * from './init.ts';
export * from './kmeans.ts';
export { exportRecognizer } from './onnx-export.ts';
export { RECOGNIZER_DEFAULTS, WordRecognizer } from './recognizer.ts';
