import { sameAsInput } from '../elementwise.ts';

/** Elu: output has the shape and type of the input. */
export const Elu = sameAsInput('Elu');
