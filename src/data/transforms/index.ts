/** Transforms and augmentation: the registry (registry.ts), the pipeline over it, and the augmenter. */
export { TRANSFORMS, transform } from './registry.ts';
export type { AugmentBatch, Transform } from './transform.ts';
export { augmentBatch, checkAugment, describeAugment, parseAugment, type AugmentStep } from './pipeline.ts';
export { augmenter, type AugmentableBatch, type AugmenterOptions } from './augmenter.ts';
