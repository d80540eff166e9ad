import { sameAsInput } from '../elementwise.ts';

/** Sigmoid: output has the shape and type of the input. */
export const Sigmoid = sameAsInput('Sigmoid');
