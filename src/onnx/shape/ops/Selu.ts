import { sameAsInput } from '../elementwise.ts';

/** Selu: output has the shape and type of the input. */
export const Selu = sameAsInput('Selu');
