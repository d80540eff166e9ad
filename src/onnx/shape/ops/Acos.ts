import { sameAsInput } from '../elementwise.ts';

/** Acos: output has the shape and type of the input. */
export const Acos = sameAsInput('Acos');
