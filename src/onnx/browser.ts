/**
 * onnx/'s public API without its Node-only module (io.ts: model files): what the browser path
 * (nn, train, web/app) and other layers import. index.ts re-exports all of it.
 */
export * from './dtype.ts';
export * from './ir.ts';
export * from './inputs.ts';
export * from './codec.ts';
export * from './builder.ts';
export * from './toposort.ts';
export * from './validate.ts';
export * from './info.ts';
export * from './weights.ts';
export * from './shape/index.ts';
export * from './opset-upgrade.ts';
export { withMinimumIrVersion } from './ir-version.ts';
