/**
 * optimize/'s public API without its Node-only modules: graph passes, quantization (dynamic,
 * static with the calibration samples given, fp16, n-bit weights, QAT), pruning, device profiles,
 * variant choice and the report — what a browser bundle (or another layer on the browser path)
 * imports. index.ts re-exports all of it, plus what needs Node: calibration and profiles by dataset
 * or file name (calibration-data.ts, quantize.ts, device-profiles.ts), the executed-operator
 * census (executed-ops.ts: onnxruntime's profile files), measuring variants (measure.ts: loaded
 * memory in a child process) and the sweep (sweep.ts).
 */
export * from './quantize/common.ts';
export * from './quantize/calibrate.ts';
export * from './quantize/static.ts';
export * from './quantize/dynamic.ts';
export * from './quantize/fp16.ts';
export * from './quantize/weight-bits.ts';
export * from './quantize/prepare.ts';
export * from './quantize/qat.ts';
export * from './passes/index.ts';
export * from './prune/index.ts';
export * from './profiles.ts';
export * from './variants.ts';
export * from './report.ts';
