import { sameAsInput } from '../elementwise.ts';

/** Erf: output has the shape and type of the input. */
export const Erf = sameAsInput('Erf');
