import { sameAsInput } from '../elementwise.ts';

/** Atan: output has the shape and type of the input. */
export const Atan = sameAsInput('Atan');
