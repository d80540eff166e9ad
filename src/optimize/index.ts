// Public API of the optimize layer. Each area adds its own line.
export * from './quantize/index.ts';
