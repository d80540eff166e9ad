import { sameAsInput } from '../elementwise.ts';

/** Tanh: output has the shape and type of the input. */
export const Tanh = sameAsInput('Tanh');
