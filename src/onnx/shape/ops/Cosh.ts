import { sameAsInput } from '../elementwise.ts';

/** Cosh: output has the shape and type of the input. */
export const Cosh = sameAsInput('Cosh');
