export * from './dtype.ts';
export * from './ir.ts';
export * from './codec.ts';
export * from './builder.ts';
export * from './io.ts';
