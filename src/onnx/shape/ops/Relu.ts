import { sameAsInput } from '../elementwise.ts';

/** Relu: output has the shape and type of the input. */
export const Relu = sameAsInput('Relu');
