import { broadcasting } from '../elementwise.ts';

/** Pow: numpy-broadcast over its inputs; output type of the first input. */
export const Pow = broadcasting('Pow');
