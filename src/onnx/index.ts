export * from './browser.ts';
export * from './io.ts';
