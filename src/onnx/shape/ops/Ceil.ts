import { sameAsInput } from '../elementwise.ts';

/** Ceil: output has the shape and type of the input. */
export const Ceil = sameAsInput('Ceil');
