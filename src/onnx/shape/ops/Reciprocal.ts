import { sameAsInput } from '../elementwise.ts';

/** Reciprocal: output has the shape and type of the input. */
export const Reciprocal = sameAsInput('Reciprocal');
