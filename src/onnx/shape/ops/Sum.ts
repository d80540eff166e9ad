import { broadcasting } from '../elementwise.ts';

/** Sum: variadic, numpy-broadcast over all its inputs; output type of the first input. */
export const Sum = broadcasting('Sum');
