import { broadcasting } from '../elementwise.ts';

/** Mean: variadic, numpy-broadcast over all its inputs; output type of the first input. */
export const Mean = broadcasting('Mean');
