import { broadcasting } from '../elementwise.ts';

/** Max: variadic, numpy-broadcast over all its inputs; output type of the first input. */
export const Max = broadcasting('Max');
