import { sameAsInput } from '../elementwise.ts';

/** Atanh: output has the shape and type of the input. */
export const Atanh = sameAsInput('Atanh');
