import { sameAsInput } from '../elementwise.ts';

/** Mish: output has the shape and type of the input. */
export const Mish = sameAsInput('Mish');
