import { broadcasting } from '../elementwise.ts';

/** BitwiseXor: numpy-broadcast over its inputs; output type of the first input. */
export const BitwiseXor = broadcasting('BitwiseXor');
