import { sameAsInput } from '../elementwise.ts';

/** Shrink: output has the shape and type of the input. */
export const Shrink = sameAsInput('Shrink');
