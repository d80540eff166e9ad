/** nn: a Keras-like layer API that emits ONNX graphs. */
export * from './init.ts';
export * from './layer.ts';
export * from './network.ts';
export * from './recurrent.ts';
export * from './architectures.ts';
export * from './layers/dense.ts';
export * from './layers/conv.ts';
export * from './layers/pool.ts';
export * from './layers/shape.ts';
export * from './layers/normalization.ts';
export * from './layers/activations.ts';
export * from './layers/merge.ts';
export * from './layers/embedding.ts';
export * from './layers/recurrent.ts';
export * from './layers/preprocessing.ts';
