/**
 * verge's package entry point (`import { Sequential, TrainingSession, fit } from '<package>'`):
 * building, training and running models — the layers most programs start with. Every layer also
 * has its own entry (`<package>/nn`, `/train`, `/onnx`, `/runtime`, `/optimize`, `/cloud`,
 * `/protocol`, `/tflite`, …; see package.json "exports").
 */
export * from './nn/index.ts';
export * from './train/index.ts';
export { Session, type SessionOptions, type TensorValue } from './runtime/index.ts';
export { loadModel, saveModel, decodeModel, encodeModel, modelInfo, type Model } from './onnx/index.ts';
export { VergeError, isVergeError, type ErrorCode } from './errors.ts';
