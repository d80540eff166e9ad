import { sameAsInput } from '../elementwise.ts';

/** Exp: output has the shape and type of the input. */
export const Exp = sameAsInput('Exp');
