import { broadcasting } from '../elementwise.ts';

/** BitShift: numpy-broadcast over its inputs; output type of the first input. */
export const BitShift = broadcasting('BitShift');
