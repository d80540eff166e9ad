import { sameAsInput } from '../elementwise.ts';

/** LRN: output has the shape and type of the input. */
export const LRN = sameAsInput('LRN');
