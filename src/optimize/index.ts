// Public API of the optimize layer: browser.ts (what runs in a browser too) and the Node-only modules.
export * from './browser.ts';
export * from './quantize/index.ts';
export * from './measure.ts';
export * from './device-profiles.ts';
export * from './sweep.ts';
