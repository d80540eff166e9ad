export { foldBatchNorm } from './batchnorm-folding.ts';
export {
  foldConstants,
  foldConstantsWithReport,
  constantNodesToInitializers,
  FOLD_MAX_GROWTH_BYTES,
} from './constant-folding.ts';
export { eliminateDeadNodes, removeUnusedInitializers } from './dead-code.ts';
export { removeIdentities } from './identity-removal.ts';
export { simplifyShapeOps, resolveReshapeTarget } from './shape-simplification.ts';
export { GraphIndex } from './graph-index.ts';
export * from './pipeline.ts';
