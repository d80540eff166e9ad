import { sameAsInput } from '../elementwise.ts';

/** Abs: output has the shape and type of the input. */
export const Abs = sameAsInput('Abs');
