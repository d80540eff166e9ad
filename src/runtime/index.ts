export * from './session.ts';
export * from './tensor.ts';
