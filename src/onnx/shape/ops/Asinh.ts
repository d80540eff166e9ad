import { sameAsInput } from '../elementwise.ts';

/** Asinh: output has the shape and type of the input. */
export const Asinh = sameAsInput('Asinh');
