import { sameAsInput } from '../elementwise.ts';

/** Gelu: output has the shape and type of the input. */
export const Gelu = sameAsInput('Gelu');
