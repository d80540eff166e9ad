export * from './session.ts';
export * from './tensor.ts';
export * from './batching.ts';
export * from './nchwc.ts';
