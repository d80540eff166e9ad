export * from './magnitude.ts';
export * from './sparse-storage.ts';
export * from './structured.ts';
export * from './finetune.ts';
