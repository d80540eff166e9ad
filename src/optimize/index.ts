// Public API of the optimize layer. Each area adds its own line.
export * from './quantize/index.ts';
export * from './passes/index.ts';
export * from './prune/index.ts';
export * from './measure.ts';
export * from './device-profiles.ts';
export * from './variants.ts';
export * from './report.ts';
export * from './sweep.ts';
