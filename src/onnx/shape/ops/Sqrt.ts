import { sameAsInput } from '../elementwise.ts';

/** Sqrt: output has the shape and type of the input. */
export const Sqrt = sameAsInput('Sqrt');
