import { sameAsInput } from '../elementwise.ts';

/** Hardmax: output has the shape and type of the input. */
export const Hardmax = sameAsInput('Hardmax');
