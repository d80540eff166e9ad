import { sameAsInput } from '../elementwise.ts';

/** Sinh: output has the shape and type of the input. */
export const Sinh = sameAsInput('Sinh');
