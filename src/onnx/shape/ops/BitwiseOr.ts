import { broadcasting } from '../elementwise.ts';

/** BitwiseOr: numpy-broadcast over its inputs; output type of the first input. */
export const BitwiseOr = broadcasting('BitwiseOr');
