import { sameAsInput } from '../elementwise.ts';

/** Trilu: output has the shape and type of the input. */
export const Trilu = sameAsInput('Trilu');
