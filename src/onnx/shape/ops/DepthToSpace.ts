import { blockRearrange } from '../block-rearrange.ts';

/** DepthToSpace: [N, C / b², H * b, W * b]. */
export const DepthToSpace = blockRearrange(
  'DepthToSpace',
  (c, b) => c / (b * b),
  (d, b) => d * b,
);
