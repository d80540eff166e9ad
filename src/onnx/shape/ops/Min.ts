import { broadcasting } from '../elementwise.ts';

/** Min: variadic, numpy-broadcast over all its inputs; output type of the first input. */
export const Min = broadcasting('Min');
