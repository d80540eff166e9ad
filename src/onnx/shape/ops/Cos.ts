import { sameAsInput } from '../elementwise.ts';

/** Cos: output has the shape and type of the input. */
export const Cos = sameAsInput('Cos');
