import { sameAsInput } from '../elementwise.ts';

/** Tan: output has the shape and type of the input. */
export const Tan = sameAsInput('Tan');
