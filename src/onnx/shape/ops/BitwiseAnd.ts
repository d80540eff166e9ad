import { broadcasting } from '../elementwise.ts';

/** BitwiseAnd: numpy-broadcast over its inputs; output type of the first input. */
export const BitwiseAnd = broadcasting('BitwiseAnd');
