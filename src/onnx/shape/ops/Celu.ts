import { sameAsInput } from '../elementwise.ts';

/** Celu: output has the shape and type of the input. */
export const Celu = sameAsInput('Celu');
