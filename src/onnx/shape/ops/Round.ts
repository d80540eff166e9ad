import { sameAsInput } from '../elementwise.ts';

/** Round: output has the shape and type of the input. */
export const Round = sameAsInput('Round');
