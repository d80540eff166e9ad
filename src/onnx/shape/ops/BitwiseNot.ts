import { sameAsInput } from '../elementwise.ts';

/** BitwiseNot: output has the shape and type of the input. */
export const BitwiseNot = sameAsInput('BitwiseNot');
