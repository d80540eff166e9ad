import { blockRearrange } from '../block-rearrange.ts';

/** SpaceToDepth: [N, C * b², H / b, W / b]. */
export const SpaceToDepth = blockRearrange(
  'SpaceToDepth',
  (c, b) => c * b * b,
  (d, b) => d / b,
);
