/** Lowering passes run before differentiation: composite ops rewritten into primitives. */
export * from './recurrent.ts';
export * from './parameters.ts';
